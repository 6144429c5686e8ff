"""A hostile app: every route tries to escape, exhaust or deceive the sandbox, and reports what happened."""

import ctypes
import json
import os
import socket
import subprocess
import sys
import threading
import time

SECRET_NAMES = ("GOVMARKET_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "SANDBOX_TEST_SECRET")


def _try(fn):
    try:
        return {"ok": True, "result": repr(fn())[:200]}
    except BaseException as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:200]}


def _connect(target):
    if isinstance(target, str):
        s = socket.socket(socket.AF_UNIX)
    else:
        s = socket.socket(socket.AF_INET6 if ":" in target[0] else socket.AF_INET)
    s.settimeout(2)
    try:
        s.connect(target)
        return "connected"
    finally:
        s.close()


def network():
    targets = {"internet": ("1.1.1.1", 443), "pypi": ("151.101.0.223", 443), "metadata": ("169.254.169.254", 80),
               "redis": ("127.0.0.1", 6379), "postgres": ("127.0.0.1", 5432), "loopback6_redis": ("::1", 6379),
               "docker_socket": "/var/run/docker.sock", "docker_socket_run": "/run/docker.sock"}
    out = {name: _try(lambda t=t: _connect(t)) for name, t in targets.items()}
    out["dns"] = _try(lambda: socket.getaddrinfo("pypi.org", 443))
    return out


def privileges():
    libc = ctypes.CDLL(None, use_errno=True)
    def mount():
        if libc.mount(b"tmpfs", b"/mnt", b"tmpfs", 0, None) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    def unshare_user():
        if libc.unshare(0x10000000) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    def ptrace_parent():
        if libc.ptrace(16, os.getppid() or 1, None, None) != 0:  # PTRACE_ATTACH
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return {"uid": os.getuid(), "euid": os.geteuid(), "setuid0": _try(lambda: os.setuid(0)), "mount": _try(mount),
            "unshare_user": _try(unshare_user), "ptrace": _try(ptrace_parent),
            "chroot": _try(lambda: os.chroot("/tmp")),
            "visible_processes": [p for p in os.listdir("/proc") if p.isdigit()],
            "sudo": _try(lambda: subprocess.run(["su", "-c", "id"], capture_output=True, timeout=2).returncode)}


def secrets():
    found = {name: os.environ[name] for name in SECRET_NAMES if name in os.environ}
    environ1 = _try(lambda: open("/proc/1/environ", "rb").read().decode(errors="replace"))
    host_files = {p: _try(lambda p=p: open(p).read(100)) for p in ("/etc/shadow", "/root/.bash_history", "/proc/1/cmdline")}
    return {"env": dict(os.environ), "found": found, "proc1_environ": environ1, "host_files": host_files}


def filesystem():
    def fill_tmp():
        written = 0
        with open("/tmp/fill", "wb") as fh:
            try:
                while written < 1 << 30:
                    fh.write(b"\0" * (1 << 20))
                    written += 1 << 20
                fh.flush()
            except OSError as exc:
                return f"stopped after {written} bytes: {exc}"
        return f"wrote {written} bytes"
    def exec_tmp():
        with open("/tmp/x.sh", "w") as fh:
            fh.write("#!/bin/sh\necho ran\n")
        os.chmod("/tmp/x.sh", 0o755)
        return subprocess.run(["/tmp/x.sh"], capture_output=True, timeout=2).stdout
    return {"write_root": _try(lambda: open("/pwned", "w").write("x")),
            "write_app": _try(lambda: open("/app/pwned", "w").write("x")),
            "write_usr": _try(lambda: open("/usr/bin/pwned", "w").write("x")),
            "fill_tmp": _try(fill_tmp), "exec_tmp": _try(exec_tmp)}


def fork_bomb():
    children = 0
    try:
        while True:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            children += 1
    except OSError as exc:
        return {"children": children, "error": str(exc)}


def memory_hog():
    hog = []
    while True:
        hog.append(bytearray(16 << 20))


def spin():
    def burn():
        while True:
            pass
    for _ in range(4):
        threading.Thread(target=burn, daemon=True).start()
    burn()


def daemon():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            while True:
                time.sleep(1)
        os._exit(0)
    return {"daemonised": True}


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/huge":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [b"x" * (1 << 20)] * 64
    if path == "/endless":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        def forever():
            while True:
                yield b"y" * 65536
        return forever()
    if path == "/drip":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "1000")])
        def drip():
            for _ in range(1000):
                time.sleep(0.2)
                yield b"."
        return drip()
    if path == "/flood":
        chunk = "z" * 65536 + "\n"
        for _ in range(300):
            sys.stdout.write(chunk)
            sys.stderr.write(chunk)
        sys.stdout.flush()
    if path == "/crash":
        os._exit(3)
    handlers = {"/network": network, "/privileges": privileges, "/secrets": secrets, "/filesystem": filesystem,
                "/fork-bomb": fork_bomb, "/memory": memory_hog, "/spin": spin, "/daemon": daemon,
                "/flood": lambda: {"flooded": True}, "/ok": lambda: {"ok": True}}
    body = json.dumps(handlers[path]()).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
