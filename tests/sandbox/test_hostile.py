"""Hostile apps on both backends: each is contained, gets the right verdict, and leaves nothing behind.

These are the conformance tests of the backend Protocol: the same assertions for bwrap and docker.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import replace

import pytest

from sandbox.backends import Limits
from sandbox.harness import AppSession, HarnessLimits
from sandbox.intake import IntakeLimits
from tests.sandbox.conftest import wheel

pytestmark = pytest.mark.usefixtures("no_leftovers")

LIMITS = HarnessLimits(ready_seconds=8, request_seconds=3, response_bytes=256 * 1024, install_seconds=60,
                       sandbox=Limits(memory_bytes=128 * 1024 * 1024, pids=32, cpus=0.5, tmp_bytes=8 * 1024 * 1024,
                                      log_flood_bytes=4 * 1024 * 1024))


def start(backend, store, runs_root, sha, entrypoint="hostile:app", env=None, limits=LIMITS):
    session = AppSession(backend, runs_root, limits)
    info = session.extract(store, sha, IntakeLimits())
    ok = session.install(info.wheels) and session.start_app(entrypoint, env or {})
    return session, ok


def get_json(session, path):
    reply = session.request("GET", path)
    assert reply.status == 200, (reply, session.verdicts)
    return json.loads(reply.body)


@pytest.fixture
def hostile(backend, store, runs_root, stored_bundle):
    session, ok = start(backend, store, runs_root, stored_bundle("hostile:app", "hostile"))
    assert ok, session.verdicts
    yield session
    session.close()


def test_ready_app_answers_and_dependencies_install_offline(backend, store, runs_root, stored_bundle):
    name, data = wheel("tinydep", "1.0", "VALUE = 'from a wheel'\n")
    sha = stored_bundle("withdep:app", wheels={name: data}, extra={"withdep.py": (
        b"import tinydep, json\n"
        b"def app(environ, start_response):\n"
        b"    start_response('200 OK', [('Content-Type', 'application/json')])\n"
        b"    return [json.dumps({'dep': tinydep.VALUE}).encode()]\n")})
    session, ok = start(backend, store, runs_root, sha, "withdep:app")
    try:
        assert ok, (session.verdicts, session.install_log)
        assert get_json(session, "/anything") == {"dep": "from a wheel"}
        assert session.verdicts == {}
    finally:
        session.close()


def test_no_network_of_any_kind(hostile):
    results = get_json(hostile, "/network")
    assert {name for name, r in results.items() if r["ok"]} == set(), results


def test_no_privileges(hostile):
    results = get_json(hostile, "/privileges")
    assert results["uid"] != 0 and results["euid"] != 0
    for probe in ("setuid0", "mount", "unshare_user", "chroot"):
        assert not results[probe]["ok"], (probe, results[probe])
    assert not results["sudo"]["ok"] or results["sudo"]["result"] != "0"
    # ptrace can reach only the sandbox's own processes: the pid namespace shows nothing of the host.
    assert len(results["visible_processes"]) <= 3, results["visible_processes"]


def test_no_host_secrets(hostile, monkeypatch):
    results = get_json(hostile, "/secrets")
    assert results["found"] == {}
    assert set(results["env"]) <= {"PATH", "HOME", "LANG", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PYTHONPATH",
                                   "GOVAPP_ENTRYPOINT", "GOVAPP_SOCKET", "HOSTNAME", "LC_CTYPE", "PWD"}
    environ1 = results["proc1_environ"]
    assert not environ1["ok"] or "SECRET" not in environ1["result"]
    assert not results["host_files"]["/etc/shadow"]["ok"]
    assert not results["host_files"]["/root/.bash_history"]["ok"]


def test_read_only_root_and_bounded_tmp(hostile):
    results = get_json(hostile, "/filesystem")
    assert not results["write_root"]["ok"] and not results["write_app"]["ok"] and not results["write_usr"]["ok"]
    filled = results["fill_tmp"]["result"]
    assert "stopped after" in filled and int(filled.split()[2]) <= LIMITS.sandbox.tmp_bytes, filled


def test_fork_bomb_hits_the_pids_limit(hostile):
    reply = hostile.request("GET", "/fork-bomb?hold=1")
    assert reply.status == 200, reply
    assert json.loads(reply.body)["children"] < LIMITS.sandbox.pids
    hostile.check_resources()
    assert "pids" in hostile.verdicts
    # Contained: the host can still start processes (the app's own pid budget is what ran out).
    assert subprocess.run(["/bin/true"], check=False).returncode == 0
    # Its server has no thread left for the next connection: the reset says why, not a bare failure. (The app's
    # own pressure retakes a freed slot within some milliseconds: ask a few times.)
    failed = []
    for _ in range(20):
        after = hostile.request("GET", "/ok")
        if after.status is None:
            failed.append(after)
            break
        time.sleep(0.05)
    assert failed and all(f.verdict == "pids" for f in failed), failed


def test_memory_hog_is_killed_with_a_memory_verdict(hostile):
    reply = hostile.request("GET", "/memory")
    assert reply.status is None
    deadline = time.monotonic() + 5
    while hostile.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    hostile.check_resources()
    assert "memory" in hostile.verdicts, hostile.verdicts


def test_cpu_spin_gets_a_cpu_verdict_and_is_throttled(hostile):
    started = time.monotonic()
    reply = hostile.request("GET", "/spin")
    assert reply.verdict == "cpu", reply  # not a mere timeout: the cgroup's CPU accounting shows the quota used
    assert "computed all the while" in reply.error
    assert time.monotonic() - started < LIMITS.request_seconds + 1
    before = os.times()
    time.sleep(0.5)
    assert os.times().elapsed - before.elapsed >= 0.45  # the worker itself was not starved


def test_huge_and_endless_responses_are_capped(hostile):
    for path in ("/huge", "/endless"):
        reply = hostile.request("GET", path)
        assert reply.verdict == "output", (path, reply.verdict, reply.error)
        assert len(reply.body) <= LIMITS.response_bytes


def test_slow_drip_is_cut_at_the_request_deadline(hostile):
    started = time.monotonic()
    reply = hostile.request("GET", "/drip")
    assert reply.verdict == "timeout"
    assert time.monotonic() - started < LIMITS.request_seconds + 1


def test_stdout_flood_is_capped_and_reported(hostile):
    get_json(hostile, "/flood")
    deadline = time.monotonic() + 10  # Docker relays the logs with some delay on a busy host
    while "output" not in hostile.verdicts and time.monotonic() < deadline:
        time.sleep(0.1)
        hostile.check_resources()
    assert "output" in hostile.verdicts
    output = hostile.close()
    assert len(output["text"]) <= LIMITS.sandbox.log_keep_bytes + 100
    assert output["bytes"] > LIMITS.sandbox.log_flood_bytes


def test_double_forked_daemon_dies_with_the_sandbox(hostile):
    assert get_json(hostile, "/daemon") == {"daemonised": True}
    hostile.close()  # no_leftovers then checks that no process of the sandbox uid survives


def test_crash_mid_run_gets_a_crash_verdict(hostile):
    reply = hostile.request("GET", "/crash")
    assert reply.status is None
    time.sleep(0.3)
    assert not hostile.alive()
    assert hostile.request("GET", "/ok").status is None


def test_nothing_of_the_host_shows_in_pid_1_mounts_or_descriptors(hostile, runs_root):
    facts = get_json(hostile, "/host-facts")
    assert not facts["ptrace_init"]["ok"] and not facts["proc1_mem"]["ok"], facts
    host = [str(runs_root), hostile.dir.name, os.getcwd(), "/root"]
    for name in ("proc1_cmdline", "proc1_environ"):
        if facts[name]["ok"]:
            assert not [h for h in host if h in facts[name]["result"]], (name, facts[name])
    assert str(runs_root) not in facts["mountinfo"] and hostile.dir.name not in facts["mountinfo"], facts["mountinfo"]
    assert not [t for t in facts["fds"].values() if "govmarket" in t], facts["fds"]
    assert facts["nofile"] == [LIMITS.sandbox.open_files] * 2
    assert not facts["exec_tmp"]["ok"] and not facts["exec_sock"]["ok"], facts  # noexec


def test_filling_the_socket_folder_is_a_disk_verdict_not_host_disk(hostile, runs_root):
    before = os.statvfs(runs_root)
    filled = get_json(hostile, "/fill-sockets")
    assert filled["written"] <= LIMITS.socket_dir_bytes and "No space left" in filled["error"], filled
    hostile.check_resources()
    assert "disk" in hostile.verdicts, hostile.verdicts
    after = os.statvfs(runs_root)
    assert (before.f_bavail - after.f_bavail) * after.f_frsize < 64 * 1024 * 1024  # it tried to write 1 GiB


def test_dependencies_that_do_not_fit_their_area_are_a_disk_verdict(backend, store, runs_root, stored_bundle):
    import io
    import zipfile

    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as zf:  # 24 MiB of zeros in 24 KiB
        zf.writestr("bomb/data.bin", b"\0" * (24 << 20))
        zf.writestr("bomb-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: bomb\nVersion: 1.0\n")
        zf.writestr("bomb-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr("bomb-1.0.dist-info/RECORD", "")
    sha = stored_bundle("hostile:app", "hostile", wheels={"bomb-1.0-py3-none-any.whl": raw.getvalue()})
    limits = replace(LIMITS, deps_bytes=8 * 1024 * 1024)
    session, ok = start(backend, store, runs_root, sha, limits=limits)
    try:
        assert not ok
        assert "deps area" in session.verdicts["disk"] and "start_failure" in session.verdicts, session.verdicts
    finally:
        session.close()


def test_a_link_planted_mid_run_to_a_host_socket_is_a_tampering_verdict(hostile):
    control = hostile.dir / "dept-control.sock"  # where the department service's control socket would be
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(control))
    listener.listen(4)
    try:
        assert get_json(hostile, f"/plant?target={control}") == {"planted": str(control)}
        time.sleep(0.6)
        reply = hostile.request("GET", "/ok")
        assert reply.status is None and reply.verdict == "tampering" and "not in the sandbox" in reply.error, reply
    finally:
        listener.close()


def test_oversized_response_headers_are_an_output_verdict(hostile):
    reply = hostile.request("GET", "/headers")
    assert reply.verdict == "output" and "headers" in reply.error, reply


def test_never_ready_is_a_start_failure(backend, store, runs_root, stored_bundle):
    limits = HarnessLimits(ready_seconds=2, sandbox=LIMITS.sandbox)
    session, ok = start(backend, store, runs_root, stored_bundle("never:app", "never"), "never:app", limits=limits)
    try:
        assert not ok
        assert "GET /health" in session.verdicts["start_failure"]
    finally:
        session.close()


def test_socket_symlink_to_a_host_socket_is_refused(backend, store, runs_root, stored_bundle):
    limits = HarnessLimits(ready_seconds=3, sandbox=LIMITS.sandbox)
    session, ok = start(backend, store, runs_root, stored_bundle("planter:app", "planter"), "planter:app", limits=limits)
    try:
        assert not ok
        assert os.path.islink(session.sock_dir / "app.sock")
        assert "not in the sandbox" in session.verdicts["start_failure"]
    finally:
        session.close()
