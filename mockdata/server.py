"""Serving the department service: a threaded HTTP server on a unix socket or a loopback TCP port.

The app-facing server and the control server are separate listeners, so an app given the department
socket can never reach ``/calls`` or ``/reset``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from mockdata.service import DepartmentService


class _QuietHandler(WSGIRequestHandler):
    # Every call is recorded by the service itself; one stderr line per request is noise for the harness.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def listen(app: Callable, *, socket_path: str | Path | None = None, port: int | None = None,
           host: str = "127.0.0.1", socket_mode: int = 0o666) -> BaseWSGIServer:
    """A threaded WSGI server for ``app``, bound and listening (not yet serving).

    Exactly one of ``socket_path`` (a unix socket, created with ``socket_mode``) and ``port`` (TCP on
    ``host``; 0 picks a free port).
    """
    if (socket_path is None) == (port is None):
        raise ValueError("give exactly one of socket_path and port")
    if socket_path is not None:
        path = Path(socket_path)
        if path.exists() and not path.is_socket():
            raise FileExistsError(f"{path} exists and is not a socket; choose another path")
        server = make_server(f"unix://{path}", 0, app, threaded=True, request_handler=_QuietHandler)
        os.chmod(path, socket_mode)
        return server
    if host not in {"127.0.0.1", "::1", "localhost"}:
        raise ValueError(f"the department service listens on loopback only, not {host!r}")
    return make_server(host, port, app, threaded=True, request_handler=_QuietHandler)


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
    servers: list[BaseWSGIServer]
    threads: list[threading.Thread] = field(default_factory=list)

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
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
            if isinstance(server.server_address, str):
                Path(server.server_address).unlink(missing_ok=True)
        for thread in self.threads:
            thread.join(timeout=5)


def start_service(service: DepartmentService, *, socket_path: str | Path | None = None, port: int | None = None,
                  control_socket_path: str | Path | None = None, control_port: int | None = None,
                  host: str = "127.0.0.1") -> ServiceServer:
    """Serve ``service`` (and optionally its control app) in background threads; call ``.stop()`` when done."""
    servers = [listen(service, socket_path=socket_path, port=port, host=host)]
    if control_socket_path is not None or control_port is not None:
        try:
            servers.append(listen(service.control_app, socket_path=control_socket_path, port=control_port, host=host,
                                  socket_mode=0o600))
        except BaseException:
            servers[0].server_close()
            raise
    return ServiceServer(service, servers).start()


@contextmanager
def serve_in_thread(service: DepartmentService, **where) -> Iterator[ServiceServer]:
    """``with serve_in_thread(service, socket_path=...) as server:`` — stopped and cleaned up on exit."""
    server = start_service(service, **where)
    try:
        yield server
    finally:
        server.stop()
