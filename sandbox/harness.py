"""The certification harness. It runs in the worker, outside the sandbox, and trusts nothing the app does.

One run: extract the bundle (intake again), install its wheels inside a sandbox without network,
start the simulated department service on ``dept.sock`` and the app on ``app.sock`` in the run's
private socket directory, wait for ``GET /health`` with a deadline, send every case of the suite
(written and generated from the contract) with a per-request deadline and a response byte cap, judge
each with ``govsuite.evaluate_case``, and stop everything. Resource verdicts (start_failure,
timeout, memory, pids, output, crash, scope_violation) are kept apart from the functional results.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ServiceUnavailable
from core.storage import BlobStore
from sandbox import intake
from sandbox.backends import Limits, Mount, Sandbox, SandboxBackend, SandboxSpec, owner_alive, owner_key
from sandbox.runtime import PYTHON, SANDBOX_UID

VERDICTS = ("start_failure", "timeout", "memory", "pids", "output", "crash", "scope_violation")
SOCKET_DIR = "/run/govapp"
ISSUER = "https://sandbox.govmarket.invalid"
DEPT_PID_FILE = "dept.pid"  # in the run directory (root's, out of the app's reach): owner key of its department service


@dataclass(frozen=True)
class HarnessLimits:
    install_seconds: float = 120.0
    ready_seconds: float = 20.0
    request_seconds: float = 10.0
    response_bytes: int = 1024 * 1024
    run_seconds: float = 900.0
    sandbox: Limits = field(default_factory=Limits)


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
        self.install_log = ""
        self.started_s: float | None = None
        runs_root.mkdir(parents=True, exist_ok=True, mode=0o711)
        os.mkdir(self.dir, 0o711)
        os.mkdir(self.deps_dir, 0o755)
        os.mkdir(self.sock_dir)
        # Sticky and root-owned: the app may add app.sock but cannot replace dept.sock or jwks.json.
        os.chmod(self.sock_dir, 0o1777)  # noqa: S103
        if os.geteuid() == 0:
            os.chown(self.deps_dir, SANDBOX_UID, SANDBOX_UID)
        else:
            os.chmod(self.deps_dir, 0o777)  # noqa: S103

    def __enter__(self) -> AppSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def flag(self, verdict: str, detail: str) -> None:
        self.verdicts.setdefault(verdict, detail)

    # -- preparing --------------------------------------------------------------------------------
    def extract(self, store: BlobStore, sha256: str, limits: intake.IntakeLimits) -> intake.BundleInfo:
        return intake.inspect_stored(store, sha256, limits, self.app_dir)

    def _spec(self, suffix: str, argv: Sequence[str], env: Mapping[str, str], deps_writable: bool) -> SandboxSpec:
        base_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8",  # noqa: S108
                    "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "PYTHONPATH": "/deps"}
        return SandboxSpec(
            run_id=f"{self.run_id}-{suffix}", host_dir=self.dir, argv=tuple(argv), env={**base_env, **env},
            mounts=(Mount(self.app_dir, "/app"), Mount(self.deps_dir, "/deps", writable=deps_writable),
                    Mount(self.sock_dir, SOCKET_DIR, writable=True)),
            limits=self.limits.sandbox)

    def install(self, wheels: Sequence[str]) -> bool:
        """pip-install the bundle's wheels into /deps inside a sandbox without network. False on failure
        (with a start_failure verdict)."""
        if not wheels:
            return True
        argv = [PYTHON, "-m", "pip", "install", "--no-index", "--find-links", "/app/wheels", "--target", "/deps",
                "--no-compile", "--disable-pip-version-check", "--no-warn-script-location", "--quiet",
                *[f"/app/wheels/{name}" for name in wheels]]
        sandbox = self.backend.start(self._spec("install", argv, {}, deps_writable=True))
        try:
            code = sandbox.wait(self.limits.install_seconds)
            sandbox.output().join(1)
            self.install_log = sandbox.output().text
            events = sandbox.events()
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
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return f"{SOCKET_DIR}/{name}"

    # -- running ----------------------------------------------------------------------------------
    def start_app(self, entrypoint: str, env: Mapping[str, str]) -> bool:
        """Start ``python3 -m govapp.serve`` and wait for GET /health; False (start_failure) if it never gets ready."""
        app_env = {"GOVAPP_ENTRYPOINT": entrypoint, "GOVAPP_SOCKET": f"{SOCKET_DIR}/app.sock", **env}
        self.started_s = time.monotonic()
        self.sandbox = self.backend.start(self._spec("app", [PYTHON, "-m", "govapp.serve"], app_env, deps_writable=False))
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
                if reply.error.startswith("refused:"):
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
        output = self.sandbox.output()
        if output.total > self.limits.sandbox.log_flood_bytes:
            self.flag("output", f"the app wrote {output.total} bytes to stdout/stderr, over the limit of "
                                f"{self.limits.sandbox.log_flood_bytes}")

    def alive(self) -> bool:
        return self.sandbox is not None and self.sandbox.poll() is None

    def request(self, method: str, target: str, headers: Mapping[str, str] | None = None, body: bytes | None = None,
                timeout: float | None = None) -> Reply:
        """One HTTP request to the app with a hard deadline on the whole exchange and a cap on the body."""
        assert self.sandbox is not None
        timeout = timeout or self.limits.request_seconds
        conn = _SandboxConnection(str(self.sock_dir / "app.sock"), self.sandbox, timeout)
        cap = self.limits.response_bytes
        timer = threading.Timer(timeout, lambda: _abort(conn))  # a slow drip must not outlive the deadline
        timer.daemon = True
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
            chunks, size = [], 0
            while size <= cap:
                chunk = resp.read(min(65536, cap + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            elapsed = (time.perf_counter() - started) * 1000
            if elapsed >= timeout * 1000 * 0.95:
                return Reply(resp.status, dict(resp.getheaders()), b"".join(chunks), elapsed, "timeout",
                             f"the response was not complete within {timeout:.1f} s")
            if size > cap:
                return Reply(resp.status, dict(resp.getheaders()), b"".join(chunks)[:cap], elapsed, "output",
                             f"the response is larger than {cap} bytes")
            return Reply(resp.status, dict(resp.getheaders()), b"".join(chunks), elapsed)
        except PeerRefused as exc:
            return Reply(None, {}, b"", (time.perf_counter() - started) * 1000, None, f"refused: {exc}")
        except (OSError, http.client.HTTPException) as exc:
            elapsed = (time.perf_counter() - started) * 1000
            if elapsed >= timeout * 1000 * 0.95 or isinstance(exc, TimeoutError):
                return Reply(None, {}, b"", elapsed, "timeout", f"no complete answer within {timeout:.1f} s")
            verdict = "crash" if not self.alive() else None
            return Reply(None, {}, b"", elapsed, verdict, f"the connection failed: {exc.__class__.__name__}: {exc}")
        finally:
            timer.cancel()
            conn.close()

    def close(self) -> dict[str, Any]:
        """Stop the sandbox, record final verdicts, remove the run directory; returns the app's captured output."""
        output = {"text": "", "bytes": 0}
        if self.sandbox is not None:
            self.check_resources()
            self.sandbox.stop()
            captured = self.sandbox.output()
            output = {"text": captured.text, "bytes": captured.total}
            self.sandbox = None
        # rmtree never follows links; entries the app created in sock/ and deps/ are just removed.
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
    socket (reset, recorded calls, scenarios) outside it, where the app cannot reach."""

    def __init__(self, session: AppSession, dataset: Mapping, scopes: Sequence[str], start_seconds: float = 60):
        self.socket = session.sock_dir / "dept.sock"
        self.control_path = session.dir / "dept-control.sock"
        # It must not outlive a worker killed mid-run: it exits when its parent is gone (--parent-pid), and its
        # owner key in the run directory lets the sweep kill it should it still be there.
        args = [sys.executable, "-m", "mockdata", "serve", "--socket", str(self.socket), "--control-socket",
                str(self.control_path), "--spec", str(dataset["spec"]), "--seed", str(dataset["seed"]),
                "--scopes", ",".join(sorted(scopes)), "--parent-pid", str(os.getpid())]
        if dataset.get("size"):
            args += ["--size", str(dataset["size"])]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # noqa: S603
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
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # type: ignore[union-attr]
        # The app runs as another uid: it must be able to connect; the sticky directory keeps the socket ours.
        os.chmod(self.socket, 0o666)  # noqa: S103

    def control(self, method: str, path: str) -> Any:
        conn = http.client.HTTPConnection("dept.control", timeout=30)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(str(self.control_path))
        conn.sock = sock
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            data = resp.read()
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
    """Signs the citizen identity JWT for each case, as the gateway does, with a key made for this run."""

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
    failures (the caller may retry those); everything the app does wrong ends up in the report instead."""
    from govsuite import CaseResult, SuiteRun, load_suite

    limits = limits or HarnessLimits()
    suite = load_suite(dict(job.suite))
    started = time.monotonic()
    report: dict[str, Any] = {
        "image_hash": backend.image_hash(), "backend": backend.name, "bundle_sha256": job.bundle_sha256,
        "suite": {"name": suite.name, "version": suite.version, "sha256": suite_hash(job.suite)},
        "limits": {"memory_bytes": limits.sandbox.memory_bytes, "pids": limits.sandbox.pids, "cpus": limits.sandbox.cpus,
                   "tmp_bytes": limits.sandbox.tmp_bytes, "ready_seconds": limits.ready_seconds,
                   "request_seconds": limits.request_seconds, "response_bytes": limits.response_bytes,
                   "run_seconds": limits.run_seconds},
        "cases": [], "verdicts": {}, "output": {"text": "", "bytes": 0}, "install_log": "",
    }
    results: list[CaseResult] = []
    with AppSession(backend, runs_root, limits, job.run_id) as session:
        dept: DepartmentService | None = None
        try:
            info = session.extract(store, job.bundle_sha256, intake_limits or intake.IntakeLimits())
            report["manifest"] = {"name": info.manifest.name, "version": info.manifest.version,
                                  "entrypoint": info.manifest.entrypoint, "scopes": list(info.manifest.scopes)}
            undeclared = sorted(set(info.manifest.scopes) - set(job.scopes))
            if undeclared:
                session.flag("scope_violation", f"govapp.toml asks for {', '.join(undeclared)}, which the order does "
                                                "not grant")
            dept = DepartmentService(session, suite.dataset, job.scopes)
            resolved = suite.resolve(dept.control("GET", "/scenarios"))
            cases = resolved.all_cases(job.contract)
            signer = TokenSigner()
            jwks = session.write_host_file("jwks.json", signer.jwks())
            if on_progress:
                on_progress(0, len(cases))
            ready = session.install(info.wheels) and session.start_app(info.manifest.entrypoint, {
                "GOVAPP_DEPT_SOCKET": f"{SOCKET_DIR}/dept.sock", "GOVAPP_JWKS": jwks, "GOVAPP_ISSUER": ISSUER})
            report["ready_ms"] = round(getattr(session, "ready_ms", 0.0), 1)
            for index, case in enumerate(cases):
                if not ready or not session.alive():
                    verdict = "start_failure" if not ready else "crash"
                    if ready:
                        session.check_resources()
                        session.flag("crash", f"the app exited during the suite, before case {case.id!r}")
                    results.append(CaseResult(case.id, case.category, case.visibility, False, None, 0.0, verdict=verdict))
                elif time.monotonic() - started > limits.run_seconds:
                    session.flag("timeout", f"the whole run exceeded {limits.run_seconds:.0f} s")
                    results.append(CaseResult(case.id, case.category, case.visibility, False, None, 0.0, verdict="timeout"))
                else:
                    results.append(_run_case(session, dept, signer, case, job.contract))
                if on_progress:
                    on_progress(index + 1, len(cases))
        finally:
            if dept is not None:
                dept.stop()
            report["install_log"] = session.install_log[-4000:]
            report["output"] = session.close()
            report["verdicts"] = dict(session.verdicts)
    run = SuiteRun(suite, results)
    report["cases"] = [r.to_dict(with_diff=True) for r in results]
    report["summary"] = {"total": run.total, "passed": run.passed_count, "ratio": round(run.ratio, 4),
                         "latency_p95_ms": round(run.latency_p95_ms, 1), "violations": run.violations,
                         "reasons": run.reasons, "by_category": {k: list(v) for k, v in run.by_category().items()}}
    if run.violations:
        report["verdicts"].setdefault("scope_violation", f"{run.violations} department call(s) outside the granted scopes")
    report["certified"] = run.passed and not report["verdicts"]
    report["duration_s"] = round(time.monotonic() - started, 2)
    return report


def _run_case(session: AppSession, dept: DepartmentService, signer: TokenSigner, case, contract):
    from govsuite import CaseResult, HttpResponse, evaluate_case

    dept.control("POST", "/reset")
    reply: Reply | None = None
    for request in case.requests():
        headers = dict(request.headers)
        if case.identity is not None:
            headers["Authorization"] = f"Bearer {signer.sign(case.identity)}"
        if request.content_type():
            headers.setdefault("Content-Type", request.content_type())
        reply = session.request(request.method, request.target(), headers, request.body_bytes())
        if reply.verdict or reply.status is None:
            break
    assert reply is not None
    if reply.verdict:
        session.flag(reply.verdict, f"case {case.id!r}: {reply.error}")
    if reply.status is None:
        return CaseResult(case.id, case.category, case.visibility, False, None, reply.latency_ms,
                          verdict=reply.verdict or "crash", body_excerpt=reply.error[:300])
    calls = (dept.control("GET", "/calls") or {}).get("calls", [])
    result = evaluate_case(case, HttpResponse(reply.status, reply.headers, reply.body, reply.latency_ms), calls, contract)
    if reply.verdict:
        result.passed = False
        result.verdict = reply.verdict
    return result


def suite_hash(document: Mapping) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(document, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
