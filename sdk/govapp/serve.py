"""`python -m govapp.serve`: serve an app's WSGI callable the way the platform runs it.

The sandbox starts every app as `python3 -m govapp.serve` with `GOVAPP_ENTRYPOINT` ("module:attr", or
"module:factory()" to call a factory) and `GOVAPP_SOCKET` (a unix socket path). For local development
give a TCP port instead: `python -m govapp.serve --port 8000`. The server is threaded (one thread per
request) and answers `GET /health` itself once the app has been imported, which is how the platform
knows the app is ready. Standard library only.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import socket
import socketserver
import stat
import sys
import threading
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

__all__ = ["carry_delegation", "current_delegation", "delegation_from_environ", "load_entrypoint", "main",
           "make_server", "with_health"]

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
# The platform's department access token for the request being handled (header X-Department-Token); kept here,
# in the one module every sandbox runs, and read by govapp.department.DepartmentClient.
_DELEGATION_ENVIRON_KEY = "HTTP_X_DEPARTMENT_TOKEN"
_current_delegation: ContextVar[str | None] = ContextVar("govapp_delegation", default=None)


def delegation_from_environ(environ) -> str | None:
    """The department access token the platform sent with this WSGI request, or None."""
    token = str(environ.get(_DELEGATION_ENVIRON_KEY) or "").strip()
    return token or None


def current_delegation() -> str | None:
    """The department access token of the request this thread is handling (under ``carry_delegation``)."""
    return _current_delegation.get()


def carry_delegation(app: WSGIApp) -> WSGIApp:
    """WSGI middleware: while ``app`` handles a request, DepartmentClient calls on that thread carry the request's
    department access token (``python -m govapp.serve`` wraps every app in it)."""

    def wrapped(environ, start_response):
        token = delegation_from_environ(environ)
        reset = _current_delegation.set(token)
        try:
            result = app(environ, start_response)
        finally:
            _current_delegation.reset(reset)
        return _CarriedBody(result, token)

    return wrapped


class _CarriedBody:
    """A response body produced under the request's delegation, chunk by chunk: an app may call the department
    while it streams, and a streamed body (however long) is never held in memory."""

    def __init__(self, result: Iterable[bytes], token: str | None):
        self._result = result
        self._token = token

    def _under_delegation(self, step):
        reset = _current_delegation.set(self._token)
        try:
            return step()
        finally:
            _current_delegation.reset(reset)

    def __iter__(self):
        iterator = self._under_delegation(lambda: iter(self._result))
        done = object()
        while True:
            chunk = self._under_delegation(lambda: next(iterator, done))
            if chunk is done:
                return
            yield chunk

    def close(self) -> None:
        close = getattr(self._result, "close", None)
        if close is not None:
            self._under_delegation(close)


def load_entrypoint(entrypoint: str) -> WSGIApp:
    """Import "package.module:attr" (or "module:factory()") from the current directory and return the WSGI app."""
    module_name, sep, attr = entrypoint.partition(":")
    if not sep or not module_name or not attr:
        raise SystemExit(f"govapp.serve: entrypoint {entrypoint!r} must look like 'module:app' (see govapp.toml)")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    call = attr.endswith("()")
    target = getattr(module, attr.removesuffix("()"), None)
    if target is None:
        raise SystemExit(f"govapp.serve: module {module_name!r} has no attribute {attr.removesuffix('()')!r}")
    app = target() if call else target
    if not callable(app):
        raise SystemExit(f"govapp.serve: {entrypoint!r} is not a WSGI callable")
    return app


def with_health(app: WSGIApp, name: str = "app") -> WSGIApp:
    """Wrap `app` so that `GET /health` answers 200 without touching the app."""
    body = json.dumps({"status": "ok", "app": name}).encode()

    def wrapped(environ, start_response):
        if environ.get("PATH_INFO") == "/health" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return wrapped


class _Handler(WSGIRequestHandler):
    # Access logs are one line per request on stderr; the platform keeps a capped copy.
    def setup(self) -> None:
        super().setup()
        if not isinstance(self.client_address, tuple) or not self.client_address:
            self.client_address = ("unix", 0)

    def address_string(self) -> str:
        return str(self.client_address[0])

    def log_message(self, format: str, *args) -> None:
        if os.environ.get("GOVAPP_ACCESS_LOG", "1") != "0":
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")


class _ThreadingTCPServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 64


class _ThreadingUnixServer(socketserver.ThreadingMixIn, WSGIServer):
    address_family = socket.AF_UNIX
    daemon_threads = True
    request_queue_size = 64
    allow_reuse_address = False

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        # The directory is private to the run; the harness may run as another user than the app.
        os.chmod(self.server_address, 0o666)  # noqa: S103
        self.server_name = "localhost"
        self.server_port = 80
        self.setup_environ()


def make_server(app: WSGIApp, *, socket_path: str | None = None, host: str = "127.0.0.1", port: int = 0) -> WSGIServer:
    """A threaded WSGI server on a unix socket (socket_path) or on host:port."""
    if socket_path:
        if os.path.exists(socket_path):
            if not stat.S_ISSOCK(os.stat(socket_path).st_mode):
                raise SystemExit(f"govapp.serve: {socket_path} exists and is not a socket; refusing to replace it")
            os.unlink(socket_path)
        server = _ThreadingUnixServer(socket_path, _Handler)
    else:
        server = _ThreadingTCPServer((host, port), _Handler)
    server.set_app(app)
    return server


def main(argv: list[str] | None = None) -> None:
    """`python -m govapp.serve`: serve the WSGI app `--entrypoint` on `--socket` (the sandbox) or `--host`/`--port`."""
    parser = argparse.ArgumentParser(prog="python -m govapp.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--entrypoint", default=os.environ.get("GOVAPP_ENTRYPOINT"),
                        help="module:app (default $GOVAPP_ENTRYPOINT)")
    parser.add_argument("--socket", default=os.environ.get("GOVAPP_SOCKET"), help="unix socket path (default $GOVAPP_SOCKET)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GOVAPP_PORT", "0") or 0))
    args = parser.parse_args(argv)
    if not args.entrypoint:
        parser.error("no entrypoint: set GOVAPP_ENTRYPOINT or pass --entrypoint module:app")
    if not args.socket and not args.port:
        parser.error("nowhere to listen: set GOVAPP_SOCKET or pass --socket PATH or --port N")

    # Run as `python -m govapp.serve` this module is __main__; the client reads the context of `govapp.serve`,
    # so the middleware must be that module's (imported here: at the top it would import this file twice always).
    from govapp import serve as canonical

    app = with_health(canonical.carry_delegation(load_entrypoint(args.entrypoint)), args.entrypoint)
    server = make_server(app, socket_path=None if args.port and not args.socket else args.socket, host=args.host, port=args.port)
    where = args.socket if args.socket else f"http://{args.host}:{server.server_port}"

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"govapp.serve: {args.entrypoint} listening on {where}", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if args.socket and os.path.exists(args.socket):
            os.unlink(args.socket)


if __name__ == "__main__":
    main()
