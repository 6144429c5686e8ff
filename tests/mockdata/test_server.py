"""Serving the department service over real unix sockets and a loopback port, in a thread and as a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mockdata.server import serve_in_thread
from tests.mockdata.conftest import unix_request

ROOT = Path(__file__).resolve().parents[2]


def test_served_on_a_unix_socket_with_a_separate_control_socket(service, scenarios, tmp_path):
    app_socket, control_socket = tmp_path / "dept.sock", tmp_path / "control.sock"
    with serve_in_thread(service, socket_path=app_socket, control_socket_path=control_socket) as server:
        assert server.address == f"unix:{app_socket}"
        assert stat.S_IMODE(os.stat(control_socket).st_mode) == 0o600
        status, body = unix_request(app_socket, "POST", "/applications/food-licence", scenarios["food_ok"]["application"])
        assert status == 201 and body["decision"] == "accepted"
        status, _ = unix_request(app_socket, "GET", "/calls")
        assert status == 404  # the app's socket never exposes the harness's controls
        status, recorded = unix_request(control_socket, "GET", "/calls")
        assert status == 200
        assert [c["path"] for c in recorded["calls"]] == ["/applications/food-licence", "/calls"]
        assert recorded["cases"][0]["case_number"] == body["case_number"] and recorded["violations"] == []
        assert unix_request(control_socket, "GET", "/scenarios")[1]["food_ok"] == scenarios["food_ok"]
        assert unix_request(control_socket, "POST", "/reset") == (204, None)
        assert service.calls == []
    assert not app_socket.exists() and not control_socket.exists()


def test_served_on_a_loopback_port(service):
    with serve_in_thread(service, port=0) as server:
        assert server.address.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(server.address + "/health", timeout=5) as response:
            assert json.loads(response.read())["status"] == "ok"


def test_refuses_to_listen_beyond_loopback(service):
    with pytest.raises(ValueError, match="loopback"):
        serve_in_thread(service, port=0, host="0.0.0.0").__enter__()


def test_the_serve_command_runs_as_a_subprocess_until_sigterm(tmp_path, scenarios):
    app_socket, control_socket = tmp_path / "dept.sock", tmp_path / "control.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "mockdata", "serve", "--socket", str(app_socket), "--control-socket", str(control_socket),
         "--scopes", "person.read,application.submit", "--spec", "citizens-v1", "--seed", "42", "--size", "500"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = json.loads(process.stdout.readline())
        assert ready["ready"] is True and ready["socket"] == str(app_socket) and ready["scopes"] == [
            "application.submit", "person.read"]
        person = scenarios["ssc_ok"]["applicant"]["resident_id"]
        assert unix_request(app_socket, "GET", f"/persons/{person}")[1]["resident_id"] == person
        status, body = unix_request(app_socket, "GET", f"/persons/{person}/licences")
        assert status == 403 and body["scope"] == "licence.read"
        recorded = unix_request(control_socket, "GET", "/calls")[1]
        assert [v["path"] for v in recorded["violations"]] == [f"/persons/{person}/licences"]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert not app_socket.exists()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_the_serve_command_stops_when_its_parent_is_killed(tmp_path):
    """A certification worker SIGKILLed mid-run sends its department service nothing; --parent-pid makes it go."""
    app_socket, control_socket, pid_file = tmp_path / "dept.sock", tmp_path / "control.sock", tmp_path / "pid"
    serve = (f"{sys.executable} -m mockdata serve --socket {app_socket} --control-socket {control_socket} "
             f"--spec citizens-v1 --seed 1 --size 100 --parent-pid $$")
    parent = subprocess.Popen(["/bin/sh", "-c", f"{serve} > /dev/null & echo $! > {pid_file}; wait"], cwd=ROOT,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not app_socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app_socket.exists(), "the service never started"
        child = int(pid_file.read_text())
        assert _alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the department service outlived the process that started it"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)


def test_the_serve_command_refuses_a_parent_pid_that_is_not_its_parent(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mockdata", "serve", "--socket", str(tmp_path / "dept.sock"),
                             "--parent-pid", "1"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "process 1 is not this service's parent" in result.stderr
