"""sandbox.cgroups against faked cgroupfs trees: the v2 code (this machine has v1 controllers and an empty v2 tree)
and hierarchy detection. The real v1 path is exercised by every bwrap and Docker test on this machine."""

from __future__ import annotations

from pathlib import Path

from sandbox import cgroups
from sandbox.backends.bwrap import BwrapBackend
from tests.services import require_bwrap


def v2_tree(root: Path) -> Path:
    root.mkdir(exist_ok=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    (root / "cgroup.subtree_control").write_text("")
    (root / "cgroup.procs").write_text("1\n")
    return root


def v1_tree(root: Path, combined_cpu: bool = False) -> Path:
    for ctrl in ("memory", "pids", "cpu,cpuacct" if combined_cpu else "cpu", *(() if combined_cpu else ("cpuacct",))):
        (root / ctrl).mkdir(parents=True)
        (root / ctrl / "cgroup.procs").write_text("")
    if combined_cpu:
        (root / "cpu").symlink_to("cpu,cpuacct")
    return root


def test_detect_prefers_a_v2_tree_that_offers_the_controllers(tmp_path):
    assert cgroups.detect(v2_tree(tmp_path / "v2")) == cgroups.Hierarchy(2, tmp_path / "v2", real=False)
    hybrid = v1_tree(tmp_path / "hybrid")
    (hybrid / "unified").mkdir()
    (hybrid / "unified" / "cgroup.controllers").write_text("")  # the empty v2 tree of a hybrid host
    assert cgroups.detect(hybrid).version == 1
    empty_v2 = tmp_path / "emptyv2"
    empty_v2.mkdir()
    (empty_v2 / "cgroup.controllers").write_text("cpu io\n")  # memory and pids not delegated here
    assert cgroups.detect(empty_v2) is None
    assert "memory, pids and cpu" in cgroups.describe_missing(empty_v2)


def test_v2_limits_delegation_and_joining(tmp_path):
    hierarchy = cgroups.detect(v2_tree(tmp_path))
    cg = cgroups.create(hierarchy, "123.456-r1-abc", memory_bytes=128 << 20, pids=32, cpus=0.5)
    path = tmp_path / "govmarket" / "123.456-r1-abc"
    assert set(cg.dirs.values()) == {path}
    assert (path / "memory.max").read_text() == str(128 << 20)
    assert (path / "memory.swap.max").read_text() == "0"  # memory + swap == memory
    assert (path / "pids.max").read_text() == "32"
    assert (path / "cpu.max").read_text() == "50000 100000"
    for node in (tmp_path, tmp_path / "govmarket"):
        assert set((node / "cgroup.subtree_control").read_text().split()) >= {"memory", "pids", "cpu"}
    assert cg.procs_files() == [path / "cgroup.procs"]


def test_v2_accounting_and_membership(tmp_path):
    hierarchy = cgroups.detect(v2_tree(tmp_path))
    cg = cgroups.create(hierarchy, "123.456-r1-abc", memory_bytes=1 << 30, pids=64, cpus=1)
    path = tmp_path / "govmarket" / "123.456-r1-abc"
    assert cg.accounting() == cgroups.Accounting(0, 0, None)
    (path / "memory.events").write_text("low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n")
    (path / "pids.events").write_text("max 3\n")
    (path / "cpu.stat").write_text("usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\nnr_throttled 4\n")
    assert cg.accounting() == cgroups.Accounting(oom_kills=1, pids_refused=3, cpu_seconds=1.5)
    assert cg.path_in("0::/govmarket/123.456-r1-abc\n") == "/govmarket/123.456-r1-abc"
    assert cg.path_in("0::/govmarket/123.456-r2-abc\n") is None
    assert cg.path_in("4:pids:/govmarket/123.456-r1-abc\n") is None  # a v1 line does not name a v2 cgroup


def test_a_containers_cgroup_is_found_from_proc_cgroup(tmp_path):
    v2 = cgroups.detect(v2_tree(tmp_path / "v2"))
    found = cgroups.from_proc_cgroup("0::/system.slice/docker-abc.scope\n", v2)
    assert found is not None and found.dirs["pids"] == tmp_path / "v2" / "system.slice" / "docker-abc.scope"
    (found.dirs["pids"]).mkdir(parents=True)
    (found.dirs["pids"] / "pids.events").write_text("max 1\n")
    assert found.accounting().pids_refused == 1

    v1 = cgroups.Hierarchy(1, v1_tree(tmp_path / "v1", combined_cpu=True), real=False)
    text = "12:pids:/docker/abc\n5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/docker/abc\n"
    found = cgroups.from_proc_cgroup(text, v1)
    assert found.dirs["memory"] == tmp_path / "v1" / "memory" / "docker" / "abc"
    assert found.dirs["pids"] == tmp_path / "v1" / "pids" / "docker" / "abc"
    assert found.path_in(text) == "/docker/abc"
    assert cgroups.from_proc_cgroup("0::/\n", v1) is None  # a v2-only process on a v1 hierarchy


def test_sweep_removes_only_the_cgroups_of_dead_owners(tmp_path):
    hierarchy = cgroups.detect(v2_tree(tmp_path))
    for name in ("111.1-r1-aaa", "222.2-r2-bbb"):
        cgroups.create(hierarchy, name, memory_bytes=1 << 30, pids=64, cpus=1)
    removed = cgroups.sweep(hierarchy, alive=lambda owner: owner == "222.2")
    assert removed == ["cgroup govmarket/111.1-r1-aaa"]
    assert sorted(cgroups.existing(hierarchy)) == ["222.2-r2-bbb"]


def test_the_bwrap_backend_chooses_v2_where_the_host_has_it(tmp_path):
    from sandbox.runtime import RuntimeImage

    require_bwrap()  # fails under CI when bubblewrap is missing, skips elsewhere
    backend = BwrapBackend(RuntimeImage(rootfs=tmp_path, hash="x" * 64, python="3.11"), cgroup_root=v2_tree(tmp_path / "cg"))
    backend.check()
    assert backend.hierarchy.version == 2 and backend.hierarchy.root == tmp_path / "cg"
