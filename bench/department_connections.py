"""The simulated department service under half-sent requests: its threads and memory while N connections hang.

    .venv/bin/python bench/department_connections.py --connections 1500
    .venv/bin/python bench/department_connections.py --connections 1500 --code /path/to/another/checkout

Starts ``python -m mockdata serve`` as the certification harness does (from ``--code``, default this checkout, so
an older version can be measured the same way), opens ``--connections`` unix-socket connections that each send
the start of a request and then nothing, waits, and reads the service's thread count and resident memory from
/proc; then a body of ``--body-mb`` MB is offered to it. Prints JSON, including the load average it started at.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def status(pid: int) -> dict:
    fields = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return {"threads": int(fields["Threads"]), "rss_mb": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
            "uid": int(fields["Uid"].split()[0])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1500)
    parser.add_argument("--hold", type=float, default=3.0, help="seconds to hold them before measuring")
    parser.add_argument("--body-mb", type=int, default=300)
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose mockdata to run")
    parser.add_argument("--harness-options", action="store_true",
                        help="start it with the options the harness passes (this checkout's harness)")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="dept-bench-"))
    sock, control = work / "dept.sock", work / "control.sock"
    argv = [sys.executable, "-m", "mockdata", "serve", "--socket", str(sock), "--control-socket", str(control),
            "--size", "2000"]
    if args.harness_options:
        from sandbox.harness import HarnessLimits
        from sandbox.runtime import DEPT_UID

        limits = HarnessLimits()
        argv += ["--call-budget", str(limits.dept_calls_per_case), "--memory-bytes", str(limits.dept_memory_bytes),
                 "--open-files", str(limits.dept_open_files)] + (["--user", str(DEPT_UID)] if os.geteuid() == 0 else [])
    env = {**os.environ, "PYTHONPATH": str(args.code), "MALLOC_ARENA_MAX": "2"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env, cwd=str(args.code))
    try:
        json.loads(proc.stdout.readline())
        os.chmod(sock, 0o666)
        idle = status(proc.pid)
        held, failed = [], 0
        started = time.monotonic()
        for _ in range(args.connections):
            conn = socket.socket(socket.AF_UNIX)
            try:
                conn.connect(str(sock))  # blocking: waits for room in the listen backlog, as a patient client does
                conn.settimeout(5)
                conn.sendall(b"POST /applications/food-licence HTTP/1.1\r\nHost: d\r\nContent-Length: 100\r\n\r\n{")
                held.append(conn)
            except OSError:
                failed += 1
                conn.close()
        opened_s = time.monotonic() - started
        time.sleep(args.hold)
        loaded = status(proc.pid)
        for conn in held:
            conn.close()
        big = socket.socket(socket.AF_UNIX)
        big.settimeout(10)
        sent, answer = 0, b""
        try:
            big.connect(str(sock))
            big.sendall(f"POST /applications/food-licence HTTP/1.1\r\nHost: d\r\nContent-Length: {args.body_mb << 20}"
                        "\r\n\r\n".encode())
            chunk = b"x" * (1 << 20)
            while sent < args.body_mb << 20:
                big.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        try:
            answer = big.recv(100)
        except OSError:
            pass
        big.close()
        after_body = status(proc.pid)
        print(json.dumps({"code": str(args.code), "connections": args.connections, "connected": len(held),
                          "failed_to_connect": failed, "open_seconds": round(opened_s, 2), "idle": idle,
                          "holding": loaded, "after_body": after_body, "body_mb_sent": sent >> 20,
                          "body_answer": answer.split(b"\r\n", 1)[0].decode(errors="replace"),
                          "load_average_at_start": load}, indent=1))
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
