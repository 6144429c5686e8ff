"""The certification's simulated department service, started as the harness starts it, under abuse: 1,500 half-sent
requests and a 300 MB body leave it with a bounded number of threads and little memory, unprivileged, counting
what it refused (the harness turns that into a ``department`` verdict)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import time

import pytest

from sandbox.harness import AppSession, DepartmentService, HarnessLimits
from sandbox.runtime import DEPT_UID
from tests.services import missing

DATASET = {"spec": "citizens-v1", "seed": 7, "size": 100}


def proc_status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as fh:
        return {k: v.strip() for k, _, v in (line.partition(":") for line in fh)}


def proc_limit(pid: int, name: str) -> str:
    with open(f"/proc/{pid}/limits") as fh:
        return next(line[26:47].strip() for line in fh if line.startswith(name))


def get(path: str, target: str) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("dept", timeout=10)
    conn.sock = socket.socket(socket.AF_UNIX)
    conn.sock.settimeout(10)
    conn.sock.connect(path)
    conn.request("GET", target)
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


@pytest.fixture
def dept(runs_root):
    if os.geteuid() != 0:
        missing("root", "the harness mounts its run areas and drops the service's privileges as root")
    limits = HarnessLimits()
    with AppSession(None, runs_root, limits) as session:  # type: ignore[arg-type]  (no sandbox: only the service)
        service = DepartmentService(session, DATASET, ["person.read"])
        try:
            yield service, limits
        finally:
            service.stop()


def test_the_department_service_stays_bounded_under_half_sent_requests_and_huge_bodies(dept):
    service, limits = dept
    pid = service.proc.pid
    status = proc_status(pid)
    assert status["Uid"].split()[:2] == [str(DEPT_UID)] * 2 and status["Groups"] == ""
    assert proc_limit(pid, "Max open files") == str(limits.dept_open_files)
    assert proc_limit(pid, "Max address space") == str(limits.dept_memory_bytes)
    idle_rss = int(status["VmRSS"].split()[0])

    held = []
    for _ in range(1500):
        conn = socket.socket(socket.AF_UNIX)
        conn.connect(str(service.socket))
        held.append(conn)
        try:
            conn.sendall(b"POST /applications/food-licence HTTP/1.1\r\nHost: d\r\nContent-Length: 100\r\n\r\n{")
        except BrokenPipeError:  # refused (over the limit) and closed already
            pass
    time.sleep(1)
    holding = proc_status(pid)
    for conn in held:
        conn.close()
    time.sleep(0.5)  # their threads see the end of their requests and free the service's 32 slots
    big = socket.socket(socket.AF_UNIX)
    big.settimeout(10)
    big.connect(str(service.socket))
    big.sendall(b"POST /applications/food-licence HTTP/1.1\r\nHost: d\r\nContent-Length: 314572800\r\n\r\n")
    for _ in range(50):  # the oversized body: refused before it is read (send 64 MiB of it while waiting)
        try:
            big.sendall(b"x" * (1 << 20))
        except OSError:
            break
    answer = big.recv(64)
    big.close()
    assert answer.startswith(b"HTTP/1.0 413"), answer

    assert int(holding["Threads"]) <= 32 + 8, holding["Threads"]  # 1,503 before it was bounded
    assert int(proc_status(pid)["VmRSS"].split()[0]) - idle_rss < 48 * 1024  # KiB; 300 MB were kept before
    calls = service.control("GET", "/calls")
    assert calls["refusals"]["connections_refused"] >= 1500 - 32 - 1 and calls["refusals"]["bodies_too_large"] == 1
    # Still serving the next case.
    service.control("POST", "/reset")
    status_code, body = get(str(service.socket), "/persons/11010119900307201X")
    assert status_code in (404, 422) and "error" in body
