"""Serving published app versions: long-lived sandboxed processes behind the app gateway (ARCHITECTURE.md §5).

A served app runs exactly as in certification — the bundle extracted by intake, its wheels installed inside
a sandbox without network, ``python3 -m govapp.serve`` on ``app.sock`` in a private run directory, the same
backend and the same limits — but it stays up between requests:

- started on demand by the first request (``ServingRegistry.lease``), reused while requests come in,
  stopped once it has been idle for ``idle_seconds``, and started again when the process died;
- replaced when what it should serve changes (a new published version, new department scopes, rotated
  identity keys): the old instance finishes its in-flight requests and is then stopped;
- its department calls go to a simulated department service (``mockdata``) that this process runs on
  ``dept.sock`` in the same run directory, configured with the order's scopes, so the platform sees every
  call (``Listeners.on_call``) and every decision (``Listeners.on_decision``).

The registry lives in the memory of one process and is safe across its threads. Nothing in it is needed
by another process: gateway sessions are in the database, and an instance is only a cache of a running
sandbox that can be started again anywhere (docs/gateway.md says how serving is placed across hosts).
Run directories and sandboxes carry the owner key of the process that started them, so the orphans of a
process that died are swept when the next registry starts.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ServiceUnavailable
from core.storage import BlobStore
from mockdata.delegation import DelegationVerifier
from mockdata.server import ServiceServer, start_service
from mockdata.service import DepartmentService
from mockdata.store import MemoryStore
from sandbox import intake
from sandbox.backends import SandboxBackend
from sandbox.deps_cache import DepsCache
from sandbox.harness import SOCKET_DIR, AppSession, HarnessLimits, _SandboxConnection, sweep_run_dirs

log = logging.getLogger(__name__)


DEPARTMENT_TICK_SECONDS = 30.0  # how often a served app's department service moves its cases on (acceptance, review)

@dataclass(frozen=True)
class ServedVersion:
    """Everything that decides what an instance runs; a different value means a different instance."""

    key: str  # the app slug: one instance per key in a registry
    app_id: int
    version_id: int
    bundle_sha256: str
    dept_scopes: tuple[str, ...]
    dataset: tuple[str, int, int]  # (spec, seed, size) of the mock dataset the department service answers from
    jwks: bytes  # the platform's public keys, for the app to verify identity tokens
    issuer: str
    audience: str


@dataclass
class Listeners:
    """What the platform wants to know about a served app's department calls (called on the service's threads)."""

    on_call: Callable[[ServedVersion, dict], None] = lambda served, call: None
    on_decision: Callable[[ServedVersion, dict], None] = lambda served, case: None


class _CallReporter:
    """WSGI middleware in front of the department service: hands each finished call (request, status and the
    parsed answer) to the platform. The service itself enforces the scopes and decides."""

    def __init__(self, service: DepartmentService, report: Callable[[dict], None]):
        self.service = service
        self.report = report

    @property
    def refusals(self) -> dict[str, int]:
        return self.service.refusals

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        body = b""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > self.service.body_bytes:  # refused before the body is read (the service counts it too)
            self.service.refusals["bodies_too_large"] += 1
            start_response("413 Payload Too Large", [("Content-Type", "application/json")])
            return [json.dumps({"error": "too_large", "detail": f"department calls carry at most "
                                                                f"{self.service.body_bytes} bytes"}).encode()]
        if length:
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
        status: list[int] = []

        def capture(status_line: str, headers: list, exc_info: Any = None):
            status.append(int(status_line.split(" ", 1)[0]))
            return start_response(status_line, headers, exc_info)

        answer = b"".join(self.service(environ, capture))
        call = {"method": environ.get("REQUEST_METHOD", "GET"), "path": environ.get("PATH_INFO", "/"),
                "query": environ.get("QUERY_STRING", ""), "json": _json_or_none(body),
                "status": status[0] if status else 500, "response": _json_or_none(answer)}
        response = call["response"] if isinstance(call["response"], dict) else {}
        call["violation"] = call["status"] == 403 and response.get("error") == "scope_denied"
        call["scope"] = response.get("scope") if call["violation"] else None
        call["refusal"] = response.get("error") if call["status"] in (401, 403) and not call["violation"] else None
        # A refusal about someone the citizen's own request named (mockdata.delegation.Delegation.names).
        call["named"] = bool(call["refusal"]) and response.get("named_by_citizen") is True
        try:
            self.report(call)
        except Exception:
            log.exception("recording the department call %s %s failed", call["method"], call["path"])
        return [answer]


def _json_or_none(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


class ConnectionPool:
    """Kept-alive connections to one instance's app socket, for the threads of this process: the most recently
    returned first, at most ``size`` idle ones, none idle longer than ``idle_seconds`` (below the 15 s after which
    ``govapp.serve`` closes an idle connection, so a kept connection is not one the app is closing). Each was checked
    to lead into the instance's sandbox when it was opened (``_SandboxConnection.connect``)."""

    def __init__(self, open_new: Callable[[float], http.client.HTTPConnection], *, size: int = 32,
                 idle_seconds: float = 5.0):
        self._open_new = open_new
        self.size = size
        self.idle_seconds = idle_seconds
        self._idle: deque[tuple[http.client.HTTPConnection, float]] = deque()
        self._lock = threading.Lock()
        self._closed = False
        self.opened = 0  # connections opened over the pool's life (tests, the benchmark)

    def get(self, timeout: float, *, fresh: bool = False) -> http.client.HTTPConnection:
        """A connection to the app with ``timeout`` on every read; ``conn.reused`` tells whether it served before."""
        stale = []
        conn = None
        with self._lock:
            now = time.monotonic()
            while self._idle and not fresh:
                candidate, since = self._idle.pop()
                if now - since < self.idle_seconds and candidate.sock is not None:
                    conn = candidate
                    break
                stale.append(candidate)
        for old in stale:
            old.close()
        if conn is not None:
            conn.timeout = timeout
            conn.sock.settimeout(timeout)
            conn.reused = True  # type: ignore[attr-defined]
            return conn
        conn = self._open_new(timeout)
        conn.reused = False  # type: ignore[attr-defined]
        with self._lock:
            self.opened += 1
        return conn

    def put(self, conn: http.client.HTTPConnection) -> None:
        """Keep ``conn`` (its last answer read to the end) for the next request, or close it when the pool is full or
        closed."""
        with self._lock:
            if not self._closed and conn.sock is not None and len(self._idle) < self.size:
                self._idle.append((conn, time.monotonic()))
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = list(self._idle), deque()
        for conn, _since in idle:
            conn.close()


class Instance:
    """One running app: its sandbox session and its department service. Counts its in-flight requests."""

    def __init__(self, served: ServedVersion, session: AppSession, dept: ServiceServer,
                 phases: Mapping[str, float] | None = None):
        self.served = served
        self.session = session
        self.dept = dept
        # Seconds each step of the start took (extract, department, install, ready): logged, and read by
        # bench/app_first_load.py to show where a cold start's time goes.
        self.phases = dict(phases or {})
        self.busy = 0
        self.started_at = time.monotonic()
        self.last_used = self.started_at
        self.stopped = False
        self._alive = True
        self._checked_at = self.started_at
        self.pool = ConnectionPool(self._open)

    @property
    def id(self) -> str:
        return self.session.run_id

    def alive(self, max_age: float = 0.0) -> bool:
        """Whether the app process runs; with ``max_age`` a check younger than that many seconds is reused
        (asking Docker costs an API round trip, too much for every proxied request)."""
        now = time.monotonic()
        if max_age and now - self._checked_at < max_age:
            return not self.stopped and self._alive
        self._alive = self.session.alive()
        self._checked_at = now
        return not self.stopped and self._alive

    def _open(self, timeout: float) -> http.client.HTTPConnection:
        assert self.session.sandbox is not None
        return _SandboxConnection(str(self.session.sock_dir / "app.sock"), self.session.sandbox, timeout)

    def connection(self, timeout: float, *, fresh: bool = False) -> http.client.HTTPConnection:
        """An HTTP connection to the app's socket that hangs up unless the peer is this instance's sandbox: a kept
        one from the pool (``conn.reused``) unless ``fresh``. Hand it back with ``give_back`` once its answer was
        read to the end; close it otherwise."""
        return self.pool.get(timeout, fresh=fresh)

    def give_back(self, conn: http.client.HTTPConnection) -> None:
        if self.stopped:
            conn.close()
        else:
            self.pool.put(conn)

    def output(self) -> str:
        return self.session.sandbox.output().text if self.session.sandbox is not None else ""

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.pool.close()
        try:
            self.session.close()
        finally:
            self.dept.stop()


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    instance: Instance | None = None


class ServingRegistry:
    """The app instances this process runs, by app slug. Thread-safe; one per web process (see the module doc)."""

    def __init__(self, backend: Callable[[], SandboxBackend], store: BlobStore, runs_root: Path, *,
                 idle_seconds: float = 300.0, limits: HarnessLimits | None = None,
                 intake_limits: intake.IntakeLimits | None = None, listeners: Listeners | None = None,
                 department_time_scale: int = 1, deps_cache: DepsCache | None = None):
        self._backend_factory = backend
        # Installed deps kept by bundle: a start after the first copies them instead of running pip (None: always pip).
        self.deps_cache = deps_cache
        # The simulated departments handle cases this many times faster than real ones, with real times on every
        # step (a demo or a test stack sees a case go from 已提交 to 办结 in seconds); 1 in production.
        self.department_time_scale = max(1, int(department_time_scale))
        self._backend: SandboxBackend | None = None
        self.store = store
        self.runs_root = runs_root
        self.idle_seconds = idle_seconds
        self.limits = limits or HarnessLimits()
        self.intake_limits = intake_limits or intake.IntakeLimits()
        self.listeners = listeners or Listeners()
        self._lock = threading.Lock()  # guards the slot table, busy counters, the retiring list and the stores
        self._slots: dict[str, _Slot] = {}
        self._retiring: list[Instance] = []
        self._stores: dict[tuple[str, int, int], MemoryStore] = {}
        self._reaper: threading.Thread | None = None
        self._closing = threading.Event()
        # bwrap's --die-with-parent (PR_SET_PDEATHSIG) kills the sandbox when the *thread* that started it ends,
        # and threaded web servers end a thread with each request: start instances from long-lived threads.
        self._starter: ThreadPoolExecutor | None = None
        # Starts ahead of requests (``prewarm``): their own threads, so a start queued there never waits for one of
        # the starter's threads it occupies itself.
        self._warmer: ThreadPoolExecutor | None = None
        self._warming: dict[ServedVersion, Future] = {}
        self.pinned: frozenset[str] = frozenset()  # keys kept running though idle (``keep_warm``)

    # -- the backend and orphans ----------------------------------------------------------------
    def backend(self) -> SandboxBackend:
        """The configured backend, checked and swept of orphans the first time it is needed."""
        with self._lock:
            if self._backend is None:
                self._backend = self._backend_factory()
                self._sweep(self._backend)
            return self._backend

    def sweep(self) -> list[str]:
        """Remove sandboxes and run directories whose owner process is gone; returns what was removed."""
        return self._sweep(self.backend())

    def _sweep(self, backend: SandboxBackend) -> list[str]:
        removed = backend.sweep() + sweep_run_dirs(self.runs_root)
        if removed:
            log.info("serving: swept %d orphaned sandboxes and run directories: %s", len(removed), removed)
        return removed

    # -- leasing --------------------------------------------------------------------------------
    @contextmanager
    def lease(self, served: ServedVersion):
        """``with registry.lease(served) as instance:`` — a running instance of ``served`` (started if needed)
        that is not stopped for idleness before the block ends. Raises ServiceUnavailable if it cannot start."""
        instance = self.acquire(served)
        try:
            yield instance
        finally:
            self.release(instance)

    def acquire(self, served: ServedVersion) -> Instance:
        """A running instance of ``served``, counted busy until ``release``. Starts one when there is none,
        the running one died, or it serves something else."""
        with self._lock:
            slot = self._slots.setdefault(served.key, _Slot())
        with slot.lock:
            current = slot.instance
            if current is not None and not current.alive(max_age=1.0):
                log.warning("serving: %s (%s) died; starting it again. Its output:\n%s", served.key, current.id,
                            current.output()[-2000:])
                slot.instance = None
                self._retire(current)
            elif current is not None and current.served != served:
                log.info("serving: %s now serves version %s; replacing instance %s", served.key, served.version_id,
                         current.id)
                slot.instance = None
                self._retire(current)
            if slot.instance is None:
                with self._lock:
                    if self._starter is None:
                        self._starter = ThreadPoolExecutor(max_workers=4, thread_name_prefix="serving-start")
                    starter = self._starter
                slot.instance = starter.submit(self._start, served).result()
            instance = slot.instance
            with self._lock:
                instance.busy += 1
                instance.last_used = time.monotonic()
        self._ensure_reaper()
        return instance

    def prewarm(self, served: ServedVersion) -> Future | None:
        """Start an instance of ``served`` in the background unless one already runs it; returns the start's
        future (its result is None, its exception the start's failure), or None when it runs already."""
        with self._lock:
            pending = self._warming.get(served)
            if pending is not None and not pending.done():
                return pending
            slot = self._slots.get(served.key)
            current = slot.instance if slot is not None else None
        if current is not None and current.served == served and current.alive(max_age=1.0):
            return None
        with self._lock:
            if self._warmer is None:
                self._warmer = ThreadPoolExecutor(max_workers=4, thread_name_prefix="serving-warm")
            future = self._warmer.submit(self._warm, served)
            self._warming = {k: f for k, f in self._warming.items() if not f.done()}
            self._warming[served] = future
        return future

    def _warm(self, served: ServedVersion) -> None:
        self.release(self.acquire(served))

    def ready_within(self, served: ServedVersion, seconds: float) -> bool:
        """Start ``served`` unless it runs and wait up to ``seconds`` for it: True when it runs (a request will
        find it), False while it is still starting. Raises what the start raised (ServiceUnavailable)."""
        future = self.prewarm(served)
        if future is None:
            return True
        try:
            future.result(timeout=seconds)
        except FutureTimeout:
            return False
        return True

    def keep_warm(self, keys: Iterable[str]) -> None:
        """Keep the instances of ``keys`` running when idle (the warm pool's apps); others idle out as before."""
        with self._lock:
            self.pinned = frozenset(keys)

    def release(self, instance: Instance) -> None:
        with self._lock:
            instance.busy -= 1
            instance.last_used = time.monotonic()
            finished = [i for i in self._retiring if i.busy == 0]
            self._retiring = [i for i in self._retiring if i.busy > 0]
        for old in finished:
            old.stop()

    def _retire(self, instance: Instance) -> None:
        """Stop ``instance`` once its in-flight requests are done (at once when there are none)."""
        with self._lock:
            if instance.busy > 0:
                self._retiring.append(instance)
                return
        instance.stop()

    # -- starting -------------------------------------------------------------------------------
    def _dataset(self, dataset: tuple[str, int, int]) -> MemoryStore:
        with self._lock:
            store = self._stores.get(dataset)
        if store is None:
            store = MemoryStore(*dataset)  # read-only once built; shared by every instance on this dataset
            with self._lock:
                store = self._stores.setdefault(dataset, store)
        return store

    def _start(self, served: ServedVersion) -> Instance:
        backend = self.backend()
        started = time.monotonic()
        session = AppSession(backend, self.runs_root, self.limits, run_id=f"serve-{uuid.uuid4().hex[:12]}")
        dept: ServiceServer | None = None
        phases: dict[str, float] = {}
        mark = started

        def phase(name: str) -> None:
            nonlocal mark
            now = time.monotonic()
            phases[name] = round(now - mark, 3)
            mark = now

        try:
            info = session.extract(self.store, served.bundle_sha256, self.intake_limits)
            phase("extract")
            # Every call must carry the delegation the gateway minted for this app (signed with the platform's keys).
            verifier = DelegationVerifier(served.jwks.decode(), served.issuer, app=f"app:{served.app_id}")
            service = DepartmentService(self._dataset(served.dataset), served.dept_scopes, delegation=verifier,
                                        pace=self.department_time_scale)
            service.on_decision(lambda case: self.listeners.on_decision(served, case))
            recorder = _CallReporter(service, lambda call: self.listeners.on_call(served, call))
            dept = start_service(recorder, socket_path=session.sock_dir / "dept.sock")  # type: ignore[arg-type]
            # The department's own clock; a faster clock ticks every second.
            dept.tick = service.advance
            dept.tick_seconds = DEPARTMENT_TICK_SECONDS if self.department_time_scale == 1 else 1.0
            dept.start_ticking()
            jwks = session.write_host_file("jwks.json", served.jwks)
            phase("department")
            ready = self._install(session, served, backend, info.wheels)
            phase("install")
            ready = ready and session.start_app(info.manifest.entrypoint, {
                "GOVAPP_DEPT_SOCKET": f"{SOCKET_DIR}/dept.sock", "GOVAPP_JWKS": jwks,
                "GOVAPP_ISSUER": served.issuer, "GOVAPP_AUDIENCE": served.audience, "GOVAPP_ACCESS_LOG": "0"})
            phase("ready")
            if not ready:
                detail = "; ".join(f"{k}: {v}" for k, v in session.verdicts.items())
                output = session.sandbox.output().text[-1500:] if session.sandbox is not None else ""
                raise ServiceUnavailable(f"the app {served.key!r} (version {served.version_id}) could not be started: "
                                         f"{detail}\n{session.install_log[-1500:]}{output}", key=served.key)
        except BaseException:
            session.close()
            if dept is not None:
                dept.stop()
            raise
        log.info("serving: started %s version %s as %s on %s in %.1f s (%s)", served.key, served.version_id,
                 session.run_id, backend.name, time.monotonic() - started,
                 ", ".join(f"{name} {seconds:.2f} s" for name, seconds in phases.items()))
        return Instance(served, session, dept, phases)

    def _install(self, session: AppSession, served: ServedVersion, backend: SandboxBackend,
                 wheels: Iterable[str]) -> bool:
        """The bundle's deps in the session's deps area: copied from the cache when this host installed them
        before, else installed (bytecode compiled) and kept for the next start."""
        wheels = list(wheels)
        if not wheels or self.deps_cache is None:
            return session.install(wheels, compile_bytecode=self.deps_cache is not None)
        key = self.deps_cache.key(served.bundle_sha256, backend.image_hash())
        if self.deps_cache.restore(key, session.deps_dir):
            return True
        if not session.install(wheels, compile_bytecode=True):
            return False
        try:
            self.deps_cache.store(key, session.deps_dir)
        except OSError as exc:
            log.warning("serving: could not keep the deps of %s: %s", served.key, exc)
        return True

    # -- idle stopping --------------------------------------------------------------------------
    def _ensure_reaper(self) -> None:
        with self._lock:
            if self._reaper is not None and self._reaper.is_alive():
                return
            self._closing.clear()
            self._reaper = threading.Thread(target=self._reap_loop, name="serving-reaper", daemon=True)
            self._reaper.start()

    def _reap_loop(self) -> None:
        interval = max(0.2, min(self.idle_seconds / 4, 15.0))
        while not self._closing.wait(interval):
            try:
                self.stop_idle()
            except Exception:
                log.exception("serving: stopping idle instances failed")

    def stop_idle(self, now: float | None = None) -> list[str]:
        """Stop every instance without requests for ``idle_seconds`` (and any that died); returns their keys."""
        now = time.monotonic() if now is None else now
        stopped = []
        with self._lock:
            slots = list(self._slots.items())
        for key, slot in slots:
            if not slot.lock.acquire(blocking=False):
                continue  # being started or replaced right now: certainly not idle
            try:
                instance = slot.instance
                if instance is None:
                    continue
                with self._lock:
                    idle = (instance.busy == 0 and now - instance.last_used >= self.idle_seconds
                            and key not in self.pinned)
                    dead = instance.busy == 0 and not instance.alive()
                if idle or dead:
                    slot.instance = None
                    instance.stop()
                    stopped.append(key)
                    log.info("serving: stopped %s (%s) after %s", key, instance.id, "idling" if idle else "it died")
            finally:
                slot.lock.release()
        return stopped

    def running(self) -> dict[str, Mapping[str, Any]]:
        """What runs now, by key: instance id, version, busy count, seconds idle."""
        now = time.monotonic()
        with self._lock:
            return {key: {"instance": slot.instance.id, "version_id": slot.instance.served.version_id,
                          "busy": slot.instance.busy, "idle_seconds": round(now - slot.instance.last_used, 1),
                          "alive": slot.instance.alive()}
                    for key, slot in self._slots.items() if slot.instance is not None}

    def instance(self, key: str) -> Instance | None:
        with self._lock:
            slot = self._slots.get(key)
            return slot.instance if slot is not None else None

    def close(self) -> None:
        """Stop every instance (process shutdown, tests)."""
        self._closing.set()
        with self._lock:
            slots = list(self._slots.values())
            retiring, self._retiring = self._retiring, []
            starter, self._starter = self._starter, None
            warmer, self._warmer = self._warmer, None
            self._warming = {}
        for pool in (warmer, starter):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        for slot in slots:
            with slot.lock:
                if slot.instance is not None:
                    slot.instance.stop()
                    slot.instance = None
        for instance in retiring:
            instance.stop()

