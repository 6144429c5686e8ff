"""Control groups, v1 and v2: the memory, pids and CPU limits of a sandbox and what its kernel accounting says.

Both hierarchies exist in the wild. Older hosts (and this project's CI machine) mount one v1 hierarchy per
controller under ``/sys/fs/cgroup/<controller>``, sometimes with an empty v2 tree beside them at
``/sys/fs/cgroup/unified`` ("hybrid"); current distributions and Kubernetes nodes mount only the unified v2
tree at ``/sys/fs/cgroup``. ``detect`` tells which one holds the memory, pids and cpu controllers, and
``Cgroup`` reads and writes the right files of either:

==============  =====================================  ==========================================
                v1                                     v2
==============  =====================================  ==========================================
memory          memory.limit_in_bytes (+ memsw)        memory.max, memory.swap.max = 0
pids            pids.max                               pids.max
CPU quota       cpu.cfs_quota_us / cpu.cfs_period_us   cpu.max ("quota period")
OOM kills       memory.oom_control: oom_kill N         memory.events: oom_kill N
fork refused    pids.events: max N                     pids.events: max N
CPU used        cpuacct.usage (ns)                     cpu.stat: usage_usec
==============  =====================================  ==========================================

The bwrap backend creates one cgroup per sandbox under ``<root>/govmarket`` (v1: in each controller's
hierarchy); the Docker backend finds the container's own cgroup from ``/proc/<pid>/cgroup`` and only reads.
Everything takes the cgroupfs root as a parameter, so the v2 code is tested against a faked tree where the
machine has no writable v2 hierarchy.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from core.errors import ServiceUnavailable

ROOT = Path("/sys/fs/cgroup")
PARENT = "govmarket"
V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")  # cpuacct: the CPU usage, where it is its own hierarchy
NEEDED = ("memory", "pids", "cpu")
CFS_PERIOD_US = 100_000


@dataclass(frozen=True)
class Hierarchy:
    """Where the memory, pids and cpu controllers are: ``version`` 1 (one tree per controller under ``root``) or 2
    (the unified tree at ``root``)."""

    version: int
    root: Path = ROOT
    real: bool = True  # a mounted cgroupfs; False for a faked tree (tests), whose directories hold plain files


@dataclass(frozen=True)
class Accounting:
    """What the kernel counted for a cgroup so far."""

    oom_kills: int  # processes killed at the memory limit
    pids_refused: int  # forks and clones refused at the pids limit
    cpu_seconds: float | None  # CPU time used by all its processes (None: not accounted here)


def detect(root: Path = ROOT) -> Hierarchy | None:
    """The hierarchy that holds memory, pids and cpu here, or None. v2 when the unified tree at ``root`` offers all
    three; else v1 when each is mounted under ``root/<controller>`` (a hybrid host's empty v2 tree is ignored)."""
    try:
        unified = set((root / "cgroup.controllers").read_text().split())
    except OSError:
        unified = set()
    mounted = _cgroup_mounts()
    if set(NEEDED) <= unified:
        return Hierarchy(2, root, str(root) in mounted)
    if all((root / ctrl / "cgroup.procs").exists() for ctrl in NEEDED):
        return Hierarchy(1, root, str(root / "memory") in mounted)
    return None


def _cgroup_mounts() -> set[str]:
    """Mount points of cgroup and cgroup2 filesystems (from /proc/self/mountinfo)."""
    points = set()
    try:
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                if right.split(" ", 1)[0] in ("cgroup", "cgroup2"):
                    points.add(left.split()[4])
    except OSError:
        pass
    return points


def describe_missing(root: Path = ROOT) -> str:
    """Why ``detect`` found nothing: for an error message an operator can act on."""
    return (f"neither a cgroup v2 tree at {root} with the memory, pids and cpu controllers (cgroup.controllers) nor "
            f"cgroup v1 hierarchies at {root}/memory, {root}/pids and {root}/cpu were found")


def _write(path: Path, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _keyed(path: Path, key: str) -> int:
    """The value of ``key`` in a flat-keyed file (memory.events, cpu.stat, …); 0 when absent or unreadable."""
    try:
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == key:
                return int(parts[1])
    except (OSError, ValueError):
        pass
    return 0


class Cgroup:
    """One sandbox's cgroup (v1: one directory per controller; v2: one directory). ``dirs`` maps each v1 controller
    to its directory; for v2 every controller maps to the same directory."""

    def __init__(self, hierarchy: Hierarchy, dirs: Mapping[str, Path]):
        self.hierarchy = hierarchy
        self.dirs = dict(dirs)

    @property
    def v2(self) -> bool:
        return self.hierarchy.version == 2

    @property
    def name(self) -> str:
        return self.dirs["pids"].name

    def procs_files(self) -> list[Path]:
        """Where a process writes its pid to join (one file in v2, one per controller in v1)."""
        return sorted({d / "cgroup.procs" for d in self.dirs.values()})

    # -- limits ---------------------------------------------------------------------------------
    def limit(self, memory_bytes: int, pids: int, cpus: float) -> None:
        """Write the limits and read them back; raises ServiceUnavailable if the kernel did not take them."""
        quota = int(cpus * CFS_PERIOD_US)
        if self.v2:
            d = self.dirs["memory"]
            _write(d / "memory.max", str(memory_bytes))
            if (d / "memory.swap.max").exists() or not self.hierarchy.real:
                _write(d / "memory.swap.max", "0")  # memory + swap == memory, as memsw in v1
            _write(d / "pids.max", str(pids))
            _write(d / "cpu.max", f"{quota} {CFS_PERIOD_US}")
            applied = (_read_int(d / "memory.max"), (d / "pids.max").read_text().strip(),
                       _read_int(d / "cpu.max"))
        else:
            mem = self.dirs["memory"]
            _write(mem / "memory.limit_in_bytes", str(memory_bytes))
            if (mem / "memory.memsw.limit_in_bytes").exists():
                _write(mem / "memory.memsw.limit_in_bytes", str(memory_bytes))
            _write(mem / "memory.swappiness", "0")
            _write(self.dirs["pids"] / "pids.max", str(pids))
            _write(self.dirs["cpu"] / "cpu.cfs_period_us", str(CFS_PERIOD_US))
            _write(self.dirs["cpu"] / "cpu.cfs_quota_us", str(quota))
            applied = (_read_int(mem / "memory.limit_in_bytes"), (self.dirs["pids"] / "pids.max").read_text().strip(),
                       _read_int(self.dirs["cpu"] / "cpu.cfs_quota_us"))
        if applied[0] is None or applied[0] > memory_bytes or applied[1] != str(pids) or not applied[2] or applied[2] <= 0:
            raise ServiceUnavailable(f"the kernel did not apply the sandbox limits (read back {applied}); refusing to run")

    # -- accounting -----------------------------------------------------------------------------
    def accounting(self) -> Accounting:
        if self.v2:
            d = self.dirs["memory"]
            usage = _keyed(d / "cpu.stat", "usage_usec") if (d / "cpu.stat").exists() else None
            return Accounting(oom_kills=_keyed(d / "memory.events", "oom_kill"),
                              pids_refused=_keyed(d / "pids.events", "max"),
                              cpu_seconds=None if usage is None else usage / 1e6)
        acct = next((d / "cpuacct.usage" for d in (self.dirs.get("cpuacct"), self.dirs.get("cpu"))
                     if d is not None and (d / "cpuacct.usage").exists()), None)
        usage_ns = _read_int(acct) if acct is not None else None
        return Accounting(oom_kills=_keyed(self.dirs["memory"] / "memory.oom_control", "oom_kill"),
                          pids_refused=_keyed(self.dirs["pids"] / "pids.events", "max"),
                          cpu_seconds=None if usage_ns is None else usage_ns / 1e9)

    def runnable_seconds(self, proc: Path = Path("/proc")) -> float:
        """How long its threads have been running or waiting to run, summed (from /proc/<pid>/task/*/schedstat: time
        on a CPU plus time queued for one, a throttled wait included). An app computing flat out accrues about one
        second per second and thread however busy the host is; one that sleeps or waits, next to none."""
        total = 0
        for pid in self.procs():
            try:
                tasks = os.listdir(proc / str(pid) / "task")
            except OSError:
                continue
            for tid in tasks:
                try:
                    fields = (proc / str(pid) / "task" / tid / "schedstat").read_text().split()
                    total += int(fields[0]) + int(fields[1])
                except (OSError, ValueError, IndexError):
                    continue
        return total / 1e9

    def procs(self) -> list[int]:
        try:
            return [int(p) for p in (self.dirs["pids"] / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def owns(self, pid: int, proc: Path = Path("/proc")) -> bool:
        """Whether host process ``pid`` is in this cgroup (its /proc/<pid>/cgroup names it)."""
        try:
            text = (proc / str(pid) / "cgroup").read_text()
        except OSError:
            return False
        return self.path_in(text) is not None

    def path_in(self, proc_cgroup: str) -> str | None:
        """This cgroup's path as a line of ``/proc/<pid>/cgroup`` names it, or None if it names another."""
        base = self.dirs["pids"]
        want = "/" + str(base.relative_to(self.hierarchy.root if self.v2 else self.hierarchy.root / "pids"))
        for line in proc_cgroup.splitlines():
            parts = line.split(":", 2)
            if len(parts) != 3:
                continue
            if (self.v2 and parts[0] == "0" and parts[1] == "" and parts[2] == want) or (
                    not self.v2 and "pids" in parts[1].split(",") and parts[2] == want):
                return want
        return None

    # -- stopping -------------------------------------------------------------------------------
    def kill(self, spare: int | None = None) -> None:
        """SIGKILL every process in it (but ``spare``)."""
        for pid in self.procs():
            if pid != spare:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def remove(self, deadline_s: float = 10) -> None:
        """Kill its processes until none is left, then remove its directories."""
        deadline = time.monotonic() + deadline_s
        if self.v2 and self.hierarchy.real and (self.dirs["pids"] / "cgroup.kill").exists():
            try:
                _write(self.dirs["pids"] / "cgroup.kill", "1")  # the kernel kills them all at once (5.14+)
            except OSError:
                pass
        while time.monotonic() < deadline:
            if not self.procs():
                break
            self.kill()
            time.sleep(0.02)
        for path in sorted(set(self.dirs.values())):
            for _ in range(50):
                try:
                    path.rmdir() if self.hierarchy.real else _remove_fake(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


def _remove_fake(path: Path) -> None:
    """A faked cgroup directory holds regular files (the kernel's have none to delete)."""
    for entry in path.iterdir():
        if entry.is_file():
            entry.unlink()
    path.rmdir()


# ------------------------------------------------------------------------------------------------ creating


def create(hierarchy: Hierarchy, name: str, *, memory_bytes: int, pids: int, cpus: float) -> Cgroup:
    """A new cgroup ``<root>/govmarket/<name>`` (v1: in each controller's hierarchy) with the limits applied and read
    back. Raises ServiceUnavailable if it cannot be made or limited — never a sandbox without limits."""
    made: dict[str, Path] = {}
    cgroup = Cgroup(hierarchy, made)
    try:
        if hierarchy.version == 2:
            parent = hierarchy.root / PARENT
            _delegate_v2(hierarchy, parent)
            path = parent / name
            path.mkdir()
            made.update({ctrl: path for ctrl in NEEDED})
        else:
            for ctrl in V1_CONTROLLERS:
                base = hierarchy.root / ctrl
                separate = (base / "cgroup.procs").exists() and base.resolve() != (hierarchy.root / "cpu").resolve()
                if ctrl == "cpuacct" and not separate:
                    continue  # no cpuacct hierarchy of its own (absent, or co-mounted with cpu: cpu,cpuacct)
                path = base / PARENT / name
                path.mkdir(parents=True)
                made[ctrl] = path
        cgroup = Cgroup(hierarchy, made)
        cgroup.limit(memory_bytes, pids, cpus)
    except OSError as exc:
        cgroup.remove()
        raise ServiceUnavailable(f"could not create the sandbox cgroups ({exc}); refusing to run without limits") from exc
    except ServiceUnavailable:
        cgroup.remove()
        raise
    return cgroup


def _delegate_v2(hierarchy: Hierarchy, parent: Path) -> None:
    """Make the v2 root and ``parent`` (its child) hand memory, pids and cpu down to their children."""
    parent.mkdir(exist_ok=True)
    for node in (hierarchy.root, parent):
        control = node / "cgroup.subtree_control"
        enabled = set(control.read_text().split()) if control.exists() else set()
        wanted = [c for c in NEEDED if c not in enabled]
        if wanted:
            if hierarchy.real:
                _write(control, " ".join(f"+{c}" for c in wanted))
            else:  # a faked tree keeps what was written, as the kernel's file would show it
                _write(control, " ".join(sorted(enabled | set(wanted))))


def existing(hierarchy: Hierarchy) -> dict[str, Cgroup]:
    """The cgroups under ``<root>/govmarket``, by name."""
    names: set[str] = set()
    bases = [hierarchy.root / PARENT] if hierarchy.version == 2 else [hierarchy.root / c / PARENT for c in V1_CONTROLLERS]
    for base in bases:
        if base.is_dir():
            names |= {p.name for p in base.iterdir() if p.is_dir()}
    out = {}
    for name in sorted(names):
        if hierarchy.version == 2:
            dirs = {ctrl: hierarchy.root / PARENT / name for ctrl in NEEDED}
        else:
            dirs = {ctrl: hierarchy.root / ctrl / PARENT / name for ctrl in V1_CONTROLLERS
                    if (hierarchy.root / ctrl / PARENT / name).is_dir()}
            dirs.setdefault("pids", hierarchy.root / "pids" / PARENT / name)
        out[name] = Cgroup(hierarchy, dirs)
    return out


def sweep(hierarchy: Hierarchy, alive: Callable[[str], bool]) -> list[str]:
    """Remove the cgroups whose owner (the name's part before the first '-') is no longer alive."""
    removed = []
    for name, cgroup in existing(hierarchy).items():
        if not alive(name.split("-", 1)[0]):
            cgroup.remove()
            removed.append(f"cgroup {PARENT}/{name}")
    return removed


# ------------------------------------------------------------------------------------------------ finding


def of_process(pid: int, hierarchy: Hierarchy, proc: Path = Path("/proc")) -> Cgroup | None:
    """The cgroup a running process (e.g. a container's first process) is in, for reading its accounting."""
    try:
        text = (proc / str(pid) / "cgroup").read_text()
    except OSError:
        return None
    return from_proc_cgroup(text, hierarchy)


def from_proc_cgroup(text: str, hierarchy: Hierarchy) -> Cgroup | None:
    """The cgroup named by the text of a ``/proc/<pid>/cgroup`` file, in ``hierarchy``."""
    dirs: dict[str, Path] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        rel = parts[2].lstrip("/")
        if hierarchy.version == 2:
            if parts[0] == "0" and parts[1] == "":
                return Cgroup(hierarchy, {ctrl: hierarchy.root / rel for ctrl in NEEDED})
            continue
        for ctrl in parts[1].split(","):
            if ctrl in V1_CONTROLLERS:
                mount = ctrl if (hierarchy.root / ctrl).is_dir() else parts[1]
                dirs[ctrl] = hierarchy.root / mount / rel
    return Cgroup(hierarchy, dirs) if {"memory", "pids"} <= set(dirs) else None
