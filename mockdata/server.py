"""Serving the department service: a bounded threaded HTTP server on a unix socket or a loopback TCP port.

The app-facing server and the control server are separate listeners, so an app given the department
socket can never reach ``/calls`` or ``/reset``.

The app is untrusted, so the server is bounded whatever it does (``ServerLimits``): at most ``connections``
are handled at once, one thread each — a connection beyond that is closed at once, uncounted work never
queues up; each connection lives at most ``connection_seconds`` from accept to close, however slowly its
request drips in (one watchdog thread cuts it); one request per connection (HTTP/1.0), so an idle
keep-alive holds nothing; handler threads have small stacks. What was refused or cut is counted
(``BoundedServer.refusals``) for the harness's ``department`` verdict.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

from mockdata.service import DepartmentService

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class ServerLimits:
    connections: int = 32  # handled at once; one more is closed at once
    connection_seconds: float = 10.0  # from accept to close, whatever the client does
    read_seconds: float = 5.0  # the longest wait for the next bytes of a request
    thread_stack_bytes: int = 256 * 1024


class _QuietHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: an idle keep-alive would hold a thread

    # Every call is recorded by the service itself; one stderr line per request is noise for the harness.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None

    def setup(self) -> None:
        self.timeout = self.server.limits.read_seconds  # type: ignore[attr-defined]
        super().setup()


class BoundedServer(BaseWSGIServer):
    """A WSGI server with a thread per connection, at most ``limits.connections`` of them, each connection cut after
    ``limits.connection_seconds``."""

    multithread = True

    def __init__(self, host: str, port: int, app: Callable, limits: ServerLimits, refusals: dict[str, int] | None = None):
        self.limits = limits
        self._slots = threading.BoundedSemaphore(limits.connections)
        self._open: dict[socket.socket, float] = {}  # connection -> its deadline
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.refusals = refusals if refusals is not None else {}  # shared with the service: one count per kind
        self.refusals.update(connections_refused=0, connections_cut=0)
        super().__init__(host, port, app, handler=_QuietHandler)
        self._watchdog = threading.Thread(target=self._cut_overdue, name="mockdata-watchdog", daemon=True)
        self._watchdog.start()

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            with self._lock:
                self.refusals["connections_refused"] += 1
            self.shutdown_request(request)
            return
        with self._lock:
            self._open[request] = time.monotonic() + self.limits.connection_seconds
        previous = threading.stack_size(self.limits.thread_stack_bytes)
        try:
            threading.Thread(target=self._serve, args=(request, client_address), daemon=True).start()
        except RuntimeError:  # no thread to be had: refuse this one rather than fail the server
            self._done(request)
        finally:
            threading.stack_size(previous)

    def _serve(self, request, client_address) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: S110  (a client hanging up or a cut connection: nothing to report)
            pass
        finally:
            self._done(request)

    def _done(self, request) -> None:
        with self._lock:
            self._open.pop(request, None)
        self.shutdown_request(request)
        self._slots.release()

    def _cut_overdue(self) -> None:
        while not self._closing.wait(0.25):
            now = time.monotonic()
            with self._lock:
                overdue = [conn for conn, deadline in self._open.items() if deadline <= now]
                for conn in overdue:
                    self._open[conn] = float("inf")  # cut once
                self.refusals["connections_cut"] += len(overdue)
            for conn in overdue:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def server_close(self) -> None:
        self._closing.set()
        super().server_close()


def listen(app: Callable, *, socket_path: str | Path | None = None, port: int | None = None,
           host: str = "127.0.0.1", socket_mode: int = 0o666, limits: ServerLimits | None = None,
           refusals: dict[str, int] | None = None) -> BoundedServer:
    """A bounded threaded WSGI server for ``app``, bound and listening (not yet serving).

    Exactly one of ``socket_path`` (a unix socket, created with ``socket_mode``) and ``port`` (TCP on
    ``host``; 0 picks a free port).
    """
    limits = limits or ServerLimits()
    if (socket_path is None) == (port is None):
        raise ValueError("give exactly one of socket_path and port")
    if socket_path is not None:
        path = Path(socket_path)
        if path.exists() and not path.is_socket():
            raise FileExistsError(f"{path} exists and is not a socket; choose another path")
        server = BoundedServer(f"unix://{path}", 0, app, limits, refusals)
        os.chmod(path, socket_mode)
        return server
    if host not in {"127.0.0.1", "::1", "localhost"}:
        raise ValueError(f"the department service listens on loopback only, not {host!r}")
    return BoundedServer(host, port, app, limits, refusals)


def address_of(server: BaseWSGIServer) -> str:
    """``unix:/path`` or ``http://127.0.0.1:PORT``."""
    if isinstance(server.server_address, str):
        return f"unix:{server.server_address}"
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


@dataclass
class ServiceServer:
    """The running listeners of one department service."""

    service: DepartmentService
    servers: list[BoundedServer]
    threads: list[threading.Thread] = field(default_factory=list)
    # The department's own clock: every ``tick_seconds`` the service takes its cases through their due steps.
    tick: Callable[[], object] | None = None
    tick_seconds: float = 30.0
    _stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def address(self) -> str:
        return address_of(self.servers[0])

    @property
    def control_address(self) -> str | None:
        return address_of(self.servers[1]) if len(self.servers) > 1 else None

    def start(self) -> ServiceServer:
        for server in self.servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                      name=f"mockdata-{address_of(server)}", daemon=True)
            thread.start()
            self.threads.append(thread)
        if self.tick is not None:
            self.start_ticking()
        return self

    def start_ticking(self) -> None:
        """Start calling ``tick`` every ``tick_seconds`` until ``stop()``."""
        thread = threading.Thread(target=self._ticking, name="mockdata-department-clock", daemon=True)
        thread.start()
        self.threads.append(thread)

    def _ticking(self) -> None:
        while not self._stopping.wait(self.tick_seconds):
            try:
                self.tick()
            except Exception:
                log.exception("the department service's clock tick failed")

    @property
    def refusals(self) -> dict[str, int]:
        """What the app-facing side refused: connections over the limit or over time, and (the service's) bodies
        over the cap and calls over the budget."""
        return dict(self.servers[0].refusals)

    def stop(self) -> None:
        self._stopping.set()
        for server in self.servers:
            server.shutdown()
            server.server_close()
            if isinstance(server.server_address, str):
                try:
                    Path(server.server_address).unlink(missing_ok=True)
                except PermissionError:  # dropped to an unprivileged uid: whoever owns the folder removes it
                    pass
        for thread in self.threads:
            thread.join(timeout=5)


def start_service(service: DepartmentService, *, socket_path: str | Path | None = None, port: int | None = None,
                  control_socket_path: str | Path | None = None, control_port: int | None = None,
                  host: str = "127.0.0.1", limits: ServerLimits | None = None,
                  tick_seconds: float | None = None) -> ServiceServer:
    """Serve ``service`` (and optionally its control app) in background threads; call ``.stop()`` when done.
    ``tick_seconds``: also advance the department's handling of its cases that often (``service.advance``)."""
    # The app-facing listener counts what it refuses in the service's own tally, which GET /calls reports.
    servers = [listen(service, socket_path=socket_path, port=port, host=host, limits=limits,
                      refusals=getattr(service, "refusals", None))]
    if control_socket_path is not None or control_port is not None:
        try:
            servers.append(listen(service.control_app, socket_path=control_socket_path, port=control_port, host=host,
                                  socket_mode=0o600))
        except BaseException:
            servers[0].server_close()
            raise
    tick = getattr(service, "advance", None) if tick_seconds else None
    return ServiceServer(service, servers, tick=tick, tick_seconds=tick_seconds or 30.0).start()


@contextmanager
def serve_in_thread(service: DepartmentService, **where) -> Iterator[ServiceServer]:
    """``with serve_in_thread(service, socket_path=...) as server:`` — stopped and cleaned up on exit."""
    server = start_service(service, **where)
    try:
        yield server
    finally:
        server.stop()
