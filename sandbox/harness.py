"""The certification harness. It runs in the worker, outside the sandbox, and trusts nothing the app does.

One run: extract the bundle (intake again), install its wheels inside a sandbox without network,
start the simulated department service on ``dept.sock`` and the app on ``app.sock`` in the run's
private socket directory, wait for ``GET /health`` with a deadline, send every case of the suite
(written and generated from the contract) with a per-request deadline and a response byte cap through
``govsuite.run_cases`` — the public cases in one app instance, then the hidden ones in a fresh instance —
and stop everything. Each case carries its citizen's department delegation; the generated hidden case
``delegation:required-fields-only`` withholds the app's optional fields, and any call the department refuses
outside a delegation gives the ``delegation`` verdict, worded without data of the case. Resource verdicts
(docs/sandbox.md lists each with its limit) are kept apart from the functional results.

Talking to the app: the socket directory is writable by the app, so ``app.sock`` may be a symlink to
a host socket (the Docker socket, another app's socket). The host connects, then asks the kernel who
is on the other end (SO_PEERCRED) and hangs up unless that process lives in this run's sandbox.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from govsuite import Case, Exchange, HttpResponse, Request, SuiteRun, load_suite, run_cases, suite_sha256

from core.errors import ServiceUnavailable
from core.storage import BlobStore
from mockdata.delegation import HEADER as DELEGATION_HEADER
from mockdata.delegation import TOKEN_TYPE as DELEGATION_TYPE
from mockdata.delegation import delegation_claims
from sandbox import intake, mounts
from sandbox.backends import CpuTimes, Limits, Mount, Sandbox, SandboxBackend, SandboxSpec, owner_alive, owner_key
from sandbox.runtime import DEPT_UID, PYTHON, SANDBOX_UID

VERDICTS = ("start_failure", "timeout", "cpu", "memory", "pids", "output", "disk", "crash", "tampering", "department",
            "scope_violation", "delegation")
SOCKET_DIR = "/run/govapp"
ISSUER = "https://sandbox.govmarket.invalid"
# A timed-out request during which the app used at least CPU_BOUND_SHARE of its CPU quota, or whose threads were
# running or queued for a CPU RUNNABLE_SHARE of the time, gets the "cpu" verdict. An app that sleeps, waits or
# deadlocks has next to none of either; one that spins has its quota, or on a busy host at least the queueing.
CPU_BOUND_SHARE = 0.5
RUNNABLE_SHARE = 0.8
REPORT_VERSION = 2  # 2: hidden cases ran in a fresh instance; their instance's output and verdicts are kept apart
DEPT_PID_FILE = "dept.pid"  # in the run directory (root's, out of the app's reach): owner key of its department service
CONTROL_BYTES = 16 * 1024 * 1024  # the most the harness reads back from the department service's control socket
REFUSALS = {"connections_refused": "connection(s) over its limit of connections at once",
            "connections_cut": "connection(s) held past its time limit", "bodies_too_large": "request(s) over its body cap",
            "calls_over_budget": "call(s) over its budget for one case",
            "bodies_not_logged": "request body(ies) beyond what it logs for one case"}


@dataclass(frozen=True)
class HarnessLimits:
    install_seconds: float = 120.0
    ready_seconds: float = 20.0
    request_seconds: float = 10.0
    response_bytes: int = 1024 * 1024
    run_seconds: float = 900.0
    consecutive_timeouts: int = 3  # after this many cases in a row timed out, the rest fail without being sent
    header_bytes: int = 64 * 1024  # response headers, all lines together
    socket_dir_bytes: int = 1024 * 1024  # /run/govapp: app.sock, and whatever else the app puts there
    deps_bytes: int = 256 * 1024 * 1024  # /deps: the installed wheels
    # The run directory (a tmpfs): the extracted bundle and the host's files. Keep it above intake's unpacked cap
    # (IntakeLimits.max_uncompressed_bytes, 256 MiB by default) if you raise that.
    run_dir_bytes: int = 272 * 1024 * 1024
    run_dir_inodes: int = 8192
    deps_inodes: int = 65536
    dept_calls_per_case: int = 1000  # department calls answered in one case; more get 429 and a department verdict
    dept_memory_bytes: int = 1024 * 1024 * 1024  # the department service's address space
    dept_open_files: int = 128
    sandbox: Limits = field(default_factory=Limits)


class DepartmentOverrun(Exception):
    """The department service's call log outgrew what the harness reads back (the app's doing: a verdict)."""


class PeerRefused(Exception):
    """The process behind app.sock is not the sandboxed app."""


@dataclass
class Reply:
    status: int | None
    headers: dict[str, str]
    body: bytes
    latency_ms: float
    verdict: str | None = None  # timeout | output | crash
    error: str = ""


def default_runs_root(config: Mapping) -> Path:
    configured = config.get("SANDBOX_RUNS")
    if configured:
        return Path(configured)
    return Path("/run/govmarket-sandbox") if os.geteuid() == 0 else Path(f"/tmp/govmarket-sandbox-{os.geteuid()}")  # noqa: S108


def _peer_pid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, _uid, _gid = struct.unpack("3i", creds)
    return pid


class _SandboxConnection(http.client.HTTPConnection):
    def __init__(self, path: str, sandbox: Sandbox, timeout: float):
        super().__init__("app.sandbox", timeout=timeout)
        self.socket_path = path
        self.sandbox = sandbox
        self.raw_sock: socket.socket | None = None  # kept: http.client drops conn.sock once the response is read

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
            pid = _peer_pid(sock)
            if not self.sandbox.owns_process(pid):
                raise PeerRefused(f"app.sock leads to process {pid}, which is not in the sandbox (a planted link?)")
        except BaseException:
            sock.close()
            raise
        self.sock = self.raw_sock = sock


class AppSession:
    """A run directory, a sandbox serving the app, and a capped client for it. Use as a context manager."""

    def __init__(self, backend: SandboxBackend, runs_root: Path, limits: HarnessLimits, run_id: str | None = None):
        self.backend = backend
        self.limits = limits
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.dir = runs_root / f"{owner_key()}-{self.run_id}"
        self.app_dir = self.dir / "app"
        self.deps_dir = self.dir / "deps"
        self.sock_dir = self.dir / "sock"
        self.sandbox: Sandbox | None = None
        self.verdicts: dict[str, str] = {}
        self.phase = "public"  # which cases the running app instance serves: "public" or "hidden"
        self.hidden_verdicts: set[str] = set()  # verdicts first seen while an instance served hidden cases
        self.instances = 0
        self.host_files: set[str] = set()  # what the host put in sock/ (dept.sock, jwks.json): kept between instances
        self.install_log = ""
        self.started_s: float | None = None
        runs_root.mkdir(parents=True, exist_ok=True, mode=0o711)
        os.mkdir(self.dir, 0o711)
        try:
            # The run directory is a tmpfs of its own, so what is bound into the sandbox from it shows there as /app,
            # /deps, … and not as a host path. Only the worker writes to it (the extracted bundle, within intake's
            # caps); the app's writable areas are tmpfs mounts of their own in it, each size-capped, never the host's
            # disk. sock/ is sticky and root-owned: the app may add app.sock but cannot replace dept.sock or
            # jwks.json; and nothing in it may be executed.
            mounts.mount_tmpfs(self.dir, size_bytes=limits.run_dir_bytes, inodes=limits.run_dir_inodes, mode=0o711)
            os.mkdir(self.deps_dir, 0o755)
            os.mkdir(self.sock_dir, 0o755)
            mounts.mount_tmpfs(self.sock_dir, size_bytes=limits.socket_dir_bytes, inodes=64, mode=0o1777, noexec=True)
            mounts.mount_tmpfs(self.deps_dir, size_bytes=limits.deps_bytes, inodes=limits.deps_inodes, mode=0o755,
                               uid=SANDBOX_UID)
        except BaseException:
            mounts.unmount_under(self.dir)
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def __enter__(self) -> AppSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def flag(self, verdict: str, detail: str) -> None:
        if verdict not in self.verdicts and self.phase == "hidden":
            self.hidden_verdicts.add(verdict)
        self.verdicts.setdefault(verdict, detail)

    # -- preparing --------------------------------------------------------------------------------
    def extract(self, store: BlobStore, sha256: str, limits: intake.IntakeLimits) -> intake.BundleInfo:
        return intake.inspect_stored(store, sha256, limits, self.app_dir)

    def _spec(self, suffix: str, argv: Sequence[str], env: Mapping[str, str], deps_writable: bool,
              limits: Limits | None = None) -> SandboxSpec:
        base_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8",  # noqa: S108
                    "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "PYTHONPATH": "/deps"}
        return SandboxSpec(
            run_id=f"{self.run_id}-{suffix}", host_dir=self.dir, argv=tuple(argv), env={**base_env, **env},
            mounts=(Mount(self.app_dir, "/app"), Mount(self.deps_dir, "/deps", writable=deps_writable),
                    Mount(self.sock_dir, SOCKET_DIR, writable=True)),
            limits=limits or self.limits.sandbox)

    def install(self, wheels: Sequence[str], *, compile_bytecode: bool = False) -> bool:
        """pip-install the bundle's wheels into /deps inside a sandbox without network. False on failure
        (with a start_failure verdict). ``compile_bytecode``: pip also writes the modules' .pyc files, so every
        start of the app from these deps imports them without compiling (serving keeps installed deps)."""
        if not wheels:
            return True
        argv = [PYTHON, "-m", "pip", "install", "--no-index", "--find-links", "/app/wheels", "--target", "/deps",
                "--compile" if compile_bytecode else "--no-compile", "--disable-pip-version-check",
                "--no-warn-script-location", "--quiet", *[f"/app/wheels/{name}" for name in wheels]]
        # What pip writes to the deps tmpfs is memory charged to its cgroup: its limit makes room for it.
        own = replace(self.limits.sandbox, memory_bytes=self.limits.sandbox.memory_bytes + self.limits.deps_bytes)
        sandbox = self.backend.start(self._spec("install", argv, {}, deps_writable=True, limits=own))
        try:
            code = sandbox.wait(self.limits.install_seconds)
            sandbox.output().join(1)
            self.install_log = sandbox.output().text
            events = sandbox.events()
            full = mounts.usage(self.deps_dir)
            if code != 0 and full is not None and (full.full or "No space left on device" in self.install_log):
                self.flag("disk", f"the installed wheels do not fit in the deps area ({self.limits.deps_bytes} bytes, "
                                  f"{self.limits.deps_inodes} files)")
            if code is None:
                self.flag("start_failure", f"installing the wheels took longer than {self.limits.install_seconds:.0f} s")
            elif events.oom_killed:
                self.flag("memory", "installing the wheels ran out of memory")
                self.flag("start_failure", "installing the wheels ran out of memory")
            elif code != 0:
                self.flag("start_failure", f"pip install from the bundle's wheels failed (exit {code}):\n"
                                           f"{self.install_log[-2000:]}")
            return code == 0 and not events.oom_killed
        finally:
            sandbox.stop()

    def write_host_file(self, name: str, data: bytes) -> str:
        """A root-owned read-only file in the socket directory (the sticky bit keeps the app from replacing it)."""
        fd = os.open(self.sock_dir / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o444)
        self.host_files.add(name)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return f"{SOCKET_DIR}/{name}"

    # -- running ----------------------------------------------------------------------------------
    def start_app(self, entrypoint: str, env: Mapping[str, str]) -> bool:
        """Start ``python3 -m govapp.serve`` and wait for GET /health; False (start_failure) if it never gets ready."""
        assert self.sandbox is None, "stop the running app first"
        app_env = {"GOVAPP_ENTRYPOINT": entrypoint, "GOVAPP_SOCKET": f"{SOCKET_DIR}/app.sock", **env}
        self.started_s = time.monotonic()
        self.instances += 1
        suffix = "app" if self.instances == 1 else f"app{self.instances}"
        self.sandbox = self.backend.start(self._spec(suffix, [PYTHON, "-m", "govapp.serve"], app_env, deps_writable=False))
        deadline = time.monotonic() + self.limits.ready_seconds
        while time.monotonic() < deadline:
            if self.sandbox.poll() is not None:
                self._note_exit("before it was ready")
                self.flag("start_failure", f"the app exited (status {self.sandbox.poll()}) before answering GET /health")
                return False
            if (self.sock_dir / "app.sock").exists() or (self.sock_dir / "app.sock").is_symlink():
                reply = self.request("GET", "/health", timeout=min(2.0, self.limits.request_seconds))
                if reply.status == 200:
                    self.ready_ms = (time.monotonic() - self.started_s) * 1000
                    return True
                if reply.verdict == "tampering":
                    self.flag("tampering", reply.error)
                    self.flag("start_failure", reply.error)
                    return False
            time.sleep(0.03)
        self.flag("start_failure", f"the app did not answer GET /health with 200 within {self.limits.ready_seconds:.0f} s")
        return False

    def _note_exit(self, when: str) -> None:
        assert self.sandbox is not None
        events = self.sandbox.events()
        if events.oom_killed:
            self.flag("memory", f"the app was killed at the memory limit ({self.limits.sandbox.memory_bytes} bytes) {when}")
        if events.pids_limited:
            self.flag("pids", f"the app hit the limit of {self.limits.sandbox.pids} processes/threads {when}")

    def check_resources(self) -> None:
        """Record memory/pids/output verdicts seen so far (the sandbox may still be running)."""
        if self.sandbox is None:
            return
        self._note_exit("")
        used = mounts.usage(self.sock_dir)
        if used is not None and used.full:
            self.flag("disk", f"the app filled {SOCKET_DIR} (its cap: {self.limits.socket_dir_bytes} bytes, 64 files)")
        output = self.sandbox.output()
        if output.total > self.limits.sandbox.log_flood_bytes:
            self.flag("output", f"the app wrote {output.total} bytes to stdout/stderr, over the limit of "
                                f"{self.limits.sandbox.log_flood_bytes}")

    def alive(self) -> bool:
        return self.sandbox is not None and self.sandbox.poll() is None

    def request(self, method: str, target: str, headers: Mapping[str, str] | None = None, body: bytes | None = None,
                timeout: float | None = None) -> Reply:
        """One HTTP request to the app with a hard deadline on the whole exchange and caps on the headers and the
        body. A failed exchange carries the verdict that explains it (docs/sandbox.md, "Limits and verdicts")."""
        assert self.sandbox is not None
        timeout = timeout or self.limits.request_seconds
        conn = _SandboxConnection(str(self.sock_dir / "app.sock"), self.sandbox, timeout)
        cap = self.limits.response_bytes
        timer = threading.Timer(timeout, lambda: _abort(conn))  # a slow drip must not outlive the deadline
        timer.daemon = True
        cpu_before = self.sandbox.cpu_times()
        started = time.perf_counter()
        timer.start()
        try:
            try:
                conn.request(method, target, body=body, headers=dict(headers or {}))
            except (BrokenPipeError, ConnectionResetError):
                # An app may answer (e.g. 401) and close before reading the body we are still sending; what it
                # said is in the socket's buffer. If it said nothing, getresponse() fails and is judged below.
                pass
            resp = conn.getresponse()
            header_bytes = sum(len(k) + len(v) + 4 for k, v in resp.getheaders())
            if header_bytes > self.limits.header_bytes:
                return Reply(None, {}, b"", (time.perf_counter() - started) * 1000, "output",
                             f"the response headers are {header_bytes} bytes, over the limit of {self.limits.header_bytes}")
            chunks, size = [], 0
            while size <= cap:
                chunk = resp.read(min(65536, cap + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            elapsed = (time.perf_counter() - started) * 1000
            if elapsed >= timeout * 1000 * 0.95:
                verdict, error = self._slow(f"the response was not complete within {timeout:.1f} s", elapsed, cpu_before)
                return Reply(resp.status, dict(resp.getheaders()), b"".join(chunks), elapsed, verdict, error)
            if size > cap:
                return Reply(resp.status, dict(resp.getheaders()), b"".join(chunks)[:cap], elapsed, "output",
                             f"the response is larger than {cap} bytes")
            return Reply(resp.status, dict(resp.getheaders()), b"".join(chunks), elapsed)
        except PeerRefused as exc:
            return Reply(None, {}, b"", (time.perf_counter() - started) * 1000, "tampering", f"refused: {exc}")
        except (OSError, http.client.HTTPException) as exc:
            elapsed = (time.perf_counter() - started) * 1000
            if elapsed >= timeout * 1000 * 0.95 or isinstance(exc, TimeoutError):
                verdict, error = self._slow(f"no complete answer within {timeout:.1f} s", elapsed, cpu_before)
                return Reply(None, {}, b"", elapsed, verdict, error)
            if isinstance(exc, http.client.LineTooLong) or "headers" in str(exc):
                return Reply(None, {}, b"", elapsed, "output", f"the response headers are larger than the harness "
                                                               f"reads (a line over 64 KiB or over 100 lines): {exc}")
            return Reply(None, {}, b"", elapsed, self._why_no_answer(),
                         f"the connection failed: {exc.__class__.__name__}: {exc}")
        finally:
            timer.cancel()
            conn.close()

    def _slow(self, error: str, elapsed_ms: float, before: CpuTimes) -> tuple[str, str]:
        """``timeout``, or ``cpu`` when the app spent the wait computing: its cgroup used at least half its CPU quota,
        or its threads were running or waiting for a CPU nearly all the while (a host busy with other sandboxes
        gives a spinning app less than its quota, never less than that)."""
        if self.sandbox is None:
            return "timeout", error
        after, elapsed = self.sandbox.cpu_times(), elapsed_ms / 1000
        used = after.used - before.used if after.used is not None and before.used is not None else None
        runnable = after.runnable - before.runnable
        if (used is not None and used >= CPU_BOUND_SHARE * self.limits.sandbox.cpus * elapsed) or \
                runnable >= RUNNABLE_SHARE * elapsed:
            shown = f"{used:.1f} s of CPU" if used is not None else f"{runnable:.1f} s running or waiting to run"
            return "cpu", (f"{error}: the app computed all the while ({shown} in {elapsed:.1f} s, its limit being "
                           f"{self.limits.sandbox.cpus:g} CPU)")
        return "timeout", error if used is None else f"{error} ({used:.2f} s of CPU used meanwhile)"

    def _why_no_answer(self) -> str | None:
        """The verdict for a connection that failed without an answer: the limit the app hit, ``crash`` if it died,
        None if nothing explains it."""
        assert self.sandbox is not None
        events = self.sandbox.events()
        if events.oom_killed:
            return "memory"
        if events.pids_limited:
            return "pids"  # its server could not start a thread for the connection, at the pids limit
        return "crash" if not self.alive() else None

    def stop_app(self) -> dict[str, Any]:
        """Stop the running app instance, record its final verdicts and remove what it left in the socket
        directory, so that a next instance starts fresh; returns its captured output."""
        output = {"text": "", "bytes": 0}
        if self.sandbox is not None:
            self.check_resources()
            self.sandbox.stop()
            captured = self.sandbox.output()
            output = {"text": captured.text, "bytes": captured.total}
            self.sandbox = None
        for entry in (self.sock_dir.iterdir() if self.sock_dir.is_dir() else ()):
            if entry.name not in self.host_files:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        return output

    def close(self) -> dict[str, Any]:
        """Stop the app, remove the run directory; returns the output of the app that was still running."""
        output = self.stop_app()
        mounts.unmount_under(self.dir)
        # rmtree never follows links; entries the app created in the run directory are just removed.
        shutil.rmtree(self.dir, ignore_errors=True)
        return output


def _abort(conn: _SandboxConnection) -> None:
    sock = conn.raw_sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def sweep_run_dirs(runs_root: Path) -> list[str]:
    """Remove run directories whose worker process is gone, first killing the department service such a run
    left running."""
    removed = []
    if not runs_root.is_dir():
        return removed
    for entry in runs_root.iterdir():
        owner = entry.name.split("-", 1)[0]
        if entry.is_dir() and not entry.is_symlink() and not owner_alive(owner):
            removed += _kill_department_service(entry)
            removed += [f"mount {point}" for point in mounts.unmount_under(entry)]
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(f"directory {entry}")
    return removed


def _kill_department_service(run_dir: Path) -> list[str]:
    try:
        key = (run_dir / DEPT_PID_FILE).read_text().strip()
    except OSError:
        return []
    if not owner_alive(key):  # gone already (it exits with its worker), or the pid now names another process
        return []
    try:
        os.kill(int(key.partition(".")[0]), signal.SIGKILL)
    except (ProcessLookupError, ValueError):
        return []
    return [f"department service {key} of {run_dir.name}"]


# ---------------------------------------------------------------------------------------------- department


class DepartmentService:
    """``python -m mockdata serve`` on the host: the app's socket in the sandbox-visible directory, the control
    socket (reset, recorded calls, scenarios) outside it, where the app cannot reach.

    It serves an untrusted app, so it is bounded (``mockdata.server``: connections, time per connection, body size,
    calls per case, the call log) and, once its dataset is built and its sockets bound, runs as an unprivileged
    uid of its own (DEPT_UID) with limits on address space, CPU time and open files."""

    def __init__(self, session: AppSession, dataset: Mapping, scopes: Sequence[str], start_seconds: float = 60, *,
                 delegation: tuple[bytes, str, str] | None = None):
        """``delegation``: (JWKS, issuer, app) of the department access tokens every call must carry."""
        limits = session.limits
        self.socket = session.sock_dir / "dept.sock"
        session.host_files.add(self.socket.name)
        self.control_path = session.dir / "dept-control.sock"
        # It must not outlive a worker killed mid-run: it exits when its parent is gone (--parent-pid), and its
        # owner key in the run directory lets the sweep kill it should it still be there.
        args = [sys.executable, "-m", "mockdata", "serve", "--socket", str(self.socket), "--control-socket",
                str(self.control_path), "--spec", str(dataset["spec"]), "--seed", str(dataset["seed"]),
                "--scopes", ",".join(sorted(scopes)), "--parent-pid", str(os.getpid()),
                "--call-budget", str(limits.dept_calls_per_case), "--memory-bytes", str(limits.dept_memory_bytes),
                "--cpu-seconds", str(int(limits.run_seconds) + 60), "--open-files", str(limits.dept_open_files)]
        if os.geteuid() == 0:
            args += ["--user", str(DEPT_UID)]
        if dataset.get("size"):
            args += ["--size", str(dataset["size"])]
        if delegation is not None:
            jwks, issuer, app = delegation
            args += ["--delegation-jwks", jwks.decode(), "--delegation-issuer", issuer, "--delegation-app", app]
        # Few malloc arenas: its threads would otherwise reserve address space the limit above is meant to bound.
        env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,  # noqa: S603
                                     env=env, cwd="/")
        try:
            (session.dir / DEPT_PID_FILE).write_text(owner_key(self.proc.pid))
        except OSError:  # it exited already; the readiness check below says why
            pass
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(start_seconds)
        try:
            ready = json.loads(line[0]) if line and line[0].strip() else {}
        except ValueError:
            ready = {}
        if not ready.get("ready"):
            self.stop()
            raise ServiceUnavailable(f"the simulated department service did not start: {line[:1]}")
        # Its later output (tracebacks an app might provoke) is read and dropped: nothing of it is kept.
        threading.Thread(target=lambda: all(iter(lambda: self.proc.stdout.read(65536), "")),  # type: ignore[union-attr]
                         daemon=True).start()
        # The app runs as another uid: it must be able to connect; the sticky directory keeps the socket ours.
        os.chmod(self.socket, 0o666)  # noqa: S103

    def alive(self) -> bool:
        return self.proc.poll() is None

    def control(self, method: str, path: str) -> Any:
        """Ask the control socket; the answer is read up to CONTROL_BYTES (the service keeps its log smaller)."""
        conn = http.client.HTTPConnection("dept.control", timeout=30)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(str(self.control_path))
        conn.sock = sock
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            data = resp.read(CONTROL_BYTES + 1)
            if len(data) > CONTROL_BYTES:
                raise DepartmentOverrun(f"the department service's answer to {method} {path} is over {CONTROL_BYTES} "
                                        "bytes")
            if resp.status >= 400:
                raise ServiceUnavailable(f"department service control {method} {path} answered {resp.status}")
            return json.loads(data) if data else None
        finally:
            conn.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# ---------------------------------------------------------------------------------------------- identity


class TokenSigner:
    """Signs the citizen identity JWT and the department access token (the delegation) for each case, as the
    gateway does, with a key made for this run."""

    def __init__(self):
        from joserfc.jwk import ECKey

        self.key = ECKey.generate_key("P-256", parameters={"kid": "sandbox", "use": "sig", "alg": "ES256"})

    def jwks(self) -> bytes:
        return json.dumps({"keys": [self.key.as_dict(private=False)]}).encode()

    def sign(self, claims: Mapping) -> str:
        from joserfc import jwt

        now = int(time.time())
        payload = {"iss": ISSUER, "iat": now, "nbf": now, "exp": now + 600, **claims}
        return jwt.encode({"alg": "ES256", "kid": "sandbox", "typ": "JWT"}, payload, self.key, algorithms=["ES256"])

    def delegate(self, identity: Mapping | None, *, app: str, order: str, fields: Sequence[str], purpose: str) -> str | None:
        """The case citizen's department access token with ``fields`` (the app's declared fields, or its required
        ones for a ``consent: required`` case), or None for a case without a resident ID (the app then has no
        delegation and the department answers it 401)."""
        from joserfc import jwt

        resident_id = (identity or {}).get("resident_id")
        if not resident_id:
            return None
        now = int(time.time())
        payload = {"iss": ISSUER, "iat": now, "nbf": now, "exp": now + 600, "jti": uuid.uuid4().hex,
                   **delegation_claims(citizen=str(resident_id), app=app, order=order, fields=fields, purpose=purpose)}
        return jwt.encode({"alg": "ES256", "kid": "sandbox", "typ": DELEGATION_TYPE}, payload, self.key,
                          algorithms=["ES256"])


# ---------------------------------------------------------------------------------------------- certification


@dataclass
class CertificationInput:
    run_id: str
    bundle_sha256: str
    suite: Mapping  # the suite document (govsuite format)
    contract: Mapping | None
    scopes: Sequence[str]  # the department API scopes the order grants


def certify(backend: SandboxBackend, store: BlobStore, runs_root: Path, job: CertificationInput, *,
            limits: HarnessLimits | None = None, intake_limits: intake.IntakeLimits | None = None,
            on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run one certification and return its report (JSON-ready). Raises ServiceUnavailable for infrastructure
    failures (the caller may retry those); everything the app does wrong ends up in the report instead.

    The cases run through ``govsuite.run_cases``: the public ones in one app instance, then the hidden ones in a
    fresh instance. ``output`` is what the public instance printed; ``hidden_output`` what the hidden one
    printed, and ``hidden_verdicts`` the verdicts first seen while it ran — neither of which a vendor sees."""
    limits = limits or HarnessLimits()
    suite = load_suite(dict(job.suite))
    started = time.monotonic()
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "image_hash": backend.image_hash(), "backend": backend.name, "bundle_sha256": job.bundle_sha256,
        "suite": {"name": suite.name, "version": suite.version, "sha256": suite_hash(job.suite)},
        "limits": {"memory_bytes": limits.sandbox.memory_bytes, "pids": limits.sandbox.pids, "cpus": limits.sandbox.cpus,
                   "tmp_bytes": limits.sandbox.tmp_bytes, "ready_seconds": limits.ready_seconds,
                   "request_seconds": limits.request_seconds, "response_bytes": limits.response_bytes,
                   "run_seconds": limits.run_seconds},
        "cases": [], "verdicts": {}, "hidden_verdicts": [], "output": {"text": "", "bytes": 0},
        "hidden_output": {"text": "", "bytes": 0}, "install_log": "",
    }
    results = []
    with AppSession(backend, runs_root, limits, job.run_id) as session:
        dept: DepartmentService | None = None
        try:
            info = session.extract(store, job.bundle_sha256, intake_limits or intake.IntakeLimits())
            report["manifest"] = {"name": info.manifest.name, "version": info.manifest.version,
                                  "entrypoint": info.manifest.entrypoint, "scopes": list(info.manifest.scopes),
                                  "fields": list(info.manifest.fields), "optional_fields": list(info.manifest.optional_fields)}
            undeclared = sorted(set(info.manifest.scopes) - set(job.scopes))
            if undeclared:
                session.flag("scope_violation", f"govapp.toml asks for {', '.join(undeclared)}, which the order does "
                                                "not grant")
            signer = TokenSigner()
            dept = DepartmentService(session, suite.dataset, job.scopes,
                                     delegation=(signer.jwks(), ISSUER, info.manifest.name))
            resolved = suite.resolve(dept.control("GET", "/scenarios"))
            cases = resolved.all_cases(job.contract, department_scopes=job.scopes)
            jwks = session.write_host_file("jwks.json", signer.jwks())
            delegate = partial(_case_delegation, signer, app=info.manifest.name, order=str(info.manifest.order),
                               required=info.manifest.fields, declared=info.manifest.all_fields,
                               purpose=f"acceptance test of {suite.name}")
            if on_progress:
                on_progress(0, len(cases))
            installed = session.install(info.wheels)
            app_env = {"GOVAPP_DEPT_SOCKET": f"{SOCKET_DIR}/dept.sock", "GOVAPP_JWKS": jwks, "GOVAPP_ISSUER": ISSUER}

            @contextmanager
            def instance(phase: str) -> Iterator[_HarnessTransport]:
                session.phase = phase
                ready = installed and session.start_app(info.manifest.entrypoint, app_env)
                if phase == "public":
                    report["ready_ms"] = round(getattr(session, "ready_ms", 0.0), 1)
                try:
                    yield _HarnessTransport(session, dept, signer, ready, started, delegate)
                finally:
                    report["output" if phase == "public" else "hidden_output"] = session.stop_app()

            done = 0

            def progress(_result) -> None:
                nonlocal done
                done += 1
                if on_progress:
                    on_progress(done, len(cases))

            results = run_cases(cases, instance, job.contract, on_result=progress,
                                max_consecutive_timeouts=limits.consecutive_timeouts)
        finally:
            if dept is not None:
                dept.stop()
            report["install_log"] = session.install_log[-4000:]
            session.close()
            report["verdicts"] = dict(session.verdicts)
            report["hidden_verdicts"] = sorted(session.hidden_verdicts)
    run = SuiteRun(suite, results)
    report["cases"] = [r.to_dict(with_diff=True) for r in results]
    report["summary"] = {"total": run.total, "passed": run.passed_count, "ratio": round(run.ratio, 4),
                         "latency_p95_ms": round(run.latency_p95_ms, 1), "violations": run.violations,
                         "outside_delegation": sum(run.outside_delegation.values()),
                         "reasons": run.reasons, "by_category": {k: list(v) for k, v in run.by_category().items()}}
    if run.violations:
        report["verdicts"].setdefault("scope_violation", f"{run.violations} department call(s) outside the granted scopes")
    # Built only from the fixed words of govsuite.delegation_finding and counts, so the vendor may read it even when
    # a hidden case found it (vendor_view passes it on: it was not flagged while the hidden instance ran).
    outside = run.delegation_reason()
    if outside:
        report["verdicts"].setdefault("delegation", outside)
    report["certified"] = run.passed and not report["verdicts"]
    report["duration_s"] = round(time.monotonic() - started, 2)
    return report


def _case_delegation(signer: TokenSigner, case: Case, *, app: str, order: str, required: Sequence[str],
                     declared: Sequence[str], purpose: str) -> str | None:
    """The department access token of ``case``'s citizen: with every declared field, or with the required ones only
    when the case's citizen withheld the optional ones (``consent: required``)."""
    fields = required if case.consent == "required" else declared
    return signer.delegate(case.identity, app=app, order=order, fields=fields, purpose=purpose)


class _HarnessTransport:
    """The case loop's view of one sandboxed app instance (govsuite.Transport)."""

    def __init__(self, session: AppSession, dept: DepartmentService, signer: TokenSigner, ready: bool, started: float,
                 delegate: Callable[[Case], str | None] = lambda case: None):
        self.delegate = delegate
        self.session = session
        self.dept = dept
        self.signer = signer
        self.ready = ready
        self.started = started

    def unavailable(self) -> tuple[str, str] | None:
        session = self.session
        if not self.ready:
            return "start_failure", "the app did not start"
        if not session.alive():
            session.check_resources()
            session.flag("crash", "the app exited during the suite")
            return "crash", "the app exited during the suite"
        if time.monotonic() - self.started > session.limits.run_seconds:
            session.flag("timeout", f"the whole run exceeded {session.limits.run_seconds:.0f} s")
            return "timeout", f"the whole run exceeded {session.limits.run_seconds:.0f} s"
        if not self.dept.alive():
            reason = "the department service stopped: the app's calls exhausted its limits"
            session.flag("department", reason)
            return "department", reason
        return None

    def open_case(self, case: Case) -> dict[str, str]:
        self._control("POST", "/reset")
        self.case_id = case.id
        if case.identity is None:
            return {}
        headers = {"Authorization": f"Bearer {self.signer.sign(case.identity)}"}
        delegation = self.delegate(case)  # the department answers the app only inside it
        if delegation:
            headers[DELEGATION_HEADER] = delegation
        return headers

    def send(self, request: Request, headers: Mapping[str, str]) -> Exchange:
        reply = self.session.request(request.method, request.target(), headers, request.body_bytes())
        if reply.verdict:
            self.session.flag(reply.verdict, f"case {self.case_id!r}: {reply.error}")
        if reply.status is None:
            return Exchange(None, reply.latency_ms, reply.verdict or "crash", reply.error)
        return Exchange(HttpResponse(reply.status, reply.headers, reply.body, reply.latency_ms), reply.latency_ms,
                        reply.verdict, reply.error)

    def department_calls(self) -> list[dict]:
        answer = self._control("GET", "/calls") or {}
        refused = {kind: n for kind, n in (answer.get("refusals") or {}).items() if n}
        if refused:
            self.session.flag("department", f"case {self.case_id!r}: the department service refused "
                                            + ", ".join(f"{n} {REFUSALS.get(k, k)}" for k, n in sorted(refused.items())))
        return answer.get("calls", [])

    def _control(self, method: str, path: str) -> Any:
        """The department service's control API; what the app did to it is a verdict, not an infrastructure error."""
        try:
            return self.dept.control(method, path)
        except DepartmentOverrun as exc:
            self.session.flag("department", str(exc))
            return None
        except (OSError, http.client.HTTPException, ServiceUnavailable):
            if self.dept.alive():
                raise
            self.session.flag("department", "the department service stopped: the app's calls exhausted its limits")
            return None


def suite_hash(document: Mapping) -> str:
    """The suite's hash in the report: the one definition, ``govsuite.suite_sha256``."""
    return suite_sha256(document)
