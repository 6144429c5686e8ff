"""`python -m govapp.serve`: serve an app's WSGI callable the way the platform runs it.

The sandbox starts every app as `python3 -m govapp.serve` with `GOVAPP_ENTRYPOINT` ("module:attr", or
"module:factory()" to call a factory) and `GOVAPP_SOCKET` (a unix socket path). For local development
give a TCP port instead: `python -m govapp.serve --port 8000`. The server is threaded (one thread per
request) and answers `GET /health` itself once the app has been imported, which is how the platform
knows the app is ready. Standard library only.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import json
import os
import select
import signal
import socket
import socketserver
import stat
import sys
import threading
import time
import traceback
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


# HTTP/1.1 with keep-alive, so that the platform's gateway reuses its connections to the app (and nothing a client
# does can hold the server): see _Handler.
HEADER_BYTES = 64 * 1024  # the request line and headers together; more answers 431 and closes
IDLE_SECONDS = 15.0  # a connection waiting for its (next) request is closed after this
READ_SECONDS = 30.0  # any one read of a request, or write of its answer, within a request
MAX_CONNECTIONS = 64  # open connections (a thread each); past it the longest idle is closed, or the newcomer gets 503
DRAIN_BYTES = 64 * 1024  # the unread rest of a request body up to this is skipped to keep the connection
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade"})
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
         b"Connection: close\r\n\r\nserver busy\n")


class _HeadTooLarge(http.client.LineTooLong):
    """The request line and headers exceeded HEADER_BYTES (BaseHTTPRequestHandler answers 431 to LineTooLong)."""


class _Reader:
    """A connection's input with a buffer of its own: the server must know whether a next request is already here
    before it waits for one, and counts the bytes of a request's head."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()
        self.head_budget: int | None = None  # set while the request line and headers are read

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def _take(self, n: int) -> bytes:
        out = bytes(self.buf[:n])
        del self.buf[:n]
        if self.head_budget is not None:
            self.head_budget -= n
            if self.head_budget < 0:
                raise _HeadTooLarge(f"request head over {HEADER_BYTES} bytes")
        return out

    def readline(self, limit: int = -1) -> bytes:
        while True:
            end = self.buf.find(b"\n")
            if end >= 0:
                n = end + 1
                break
            if 0 <= limit <= len(self.buf) or (self.head_budget is not None and len(self.buf) > self.head_budget):
                n = len(self.buf)
                break
            if not self._fill():
                n = len(self.buf)
                break
        return self._take(n if limit < 0 else min(n, limit))

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buf) < size:
            if not self._fill():
                break
        return self._take(len(self.buf) if size < 0 else min(size, len(self.buf)))

    def close(self) -> None:
        self.buf.clear()


class _Body:
    """``wsgi.input``: the request's body and no more (Content-Length), whatever the app asks for."""

    def __init__(self, reader: _Reader, length: int):
        self.reader = reader
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self.reader.read(size)
        self.remaining -= len(data)
        if len(data) < size:
            self.remaining = 0
            raise ConnectionError("the client closed the connection in the middle of the request body")
        return data

    def readline(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        limit = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self.reader.readline(limit)
        self.remaining -= len(data)
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(iter(self.readline, b""))

    def __iter__(self):
        return iter(self.readline, b"")


class _Handler(WSGIRequestHandler):
    """One connection: requests one after another (HTTP/1.1 keep-alive) until the client closes it, asks to, an
    error leaves it in doubt, it idles IDLE_SECONDS, or the server needs its thread for a newer connection.

    Every answer is framed — Content-Length when the app gives one or its body is a list, chunked otherwise (close-
    delimited for an HTTP/1.0 client) — so the connection can carry the next request."""

    protocol_version = "HTTP/1.1"
    timeout = READ_SECONDS

    def setup(self) -> None:
        super().setup()
        if not isinstance(self.client_address, tuple) or not self.client_address:
            self.client_address = ("unix", 0)
        if self.connection.family in (socket.AF_INET, socket.AF_INET6):
            # Headers and body go in one write, but a chunked answer writes several: no Nagle delay between them.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile.close()
        self.rfile = _Reader(self.connection)
        self.evicted = False

    def address_string(self) -> str:
        return str(self.client_address[0])

    def log_message(self, format: str, *args) -> None:
        if os.environ.get("GOVAPP_ACCESS_LOG", "1") != "0":
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def handle(self) -> None:
        self.close_connection = False
        while not self.close_connection:
            if not self._wait_for_request():
                return
            self.handle_one_request()

    def _wait_for_request(self) -> bool:
        """True once the next request's first bytes are here; False if the connection should close instead."""
        if self.rfile.buf:
            return True
        server = self.server
        server.idle(self, True)
        try:
            ready, _, _ = select.select([self.connection], [], [], server.idle_seconds)
        except (OSError, ValueError):
            ready = []
        return server.idle(self, False) and bool(ready)

    def handle_one_request(self) -> None:
        try:
            if self._read_head():
                self._run_app()
        except (TimeoutError, ConnectionError) as exc:  # the client went away or stalled: nothing left to answer
            self.log_error("connection dropped: %r", exc)
            self.close_connection = True

    def _read_head(self) -> bool:
        """Read and parse the request line and headers; False (having answered an error, if any) to stop."""
        self.rfile.head_budget = HEADER_BYTES
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                self.close_connection = True
                return False
            parsed = self.parse_request()  # answers 400/431/505 itself, with Connection: close
        except _HeadTooLarge:
            self.requestline, self.request_version, self.command = "", "", ""
            self.send_error(431, "Request Header Fields Too Large")
            return False
        finally:
            self.rfile.head_budget = None
        if not parsed:
            self.close_connection = True
        return parsed

    # -- one request ----------------------------------------------------------------------------------
    def _request_body(self) -> _Body | None:
        """The body reader, or None after answering a request whose framing is not plain Content-Length."""
        if self.headers.get("Transfer-Encoding") is not None:
            # Platform clients always send Content-Length; a chunked request next to it would be a smuggling trick.
            self.send_error(411 if self.headers.get("Content-Length") is None else 400,
                            "send the request body with Content-Length")
            return None
        lengths = self.headers.get_all("Content-Length") or []
        if len(set(lengths)) > 1 or (lengths and not lengths[0].strip().isdigit()):
            self.send_error(400, "Bad Content-Length")
            return None
        return _Body(self.rfile, int(lengths[0]) if lengths else 0)

    def _run_app(self) -> None:
        body = self._request_body()
        if body is None:
            return
        environ = self.get_environ()
        environ.update({"wsgi.input": body, "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
                        "wsgi.run_once": False, "wsgi.url_scheme": "http", "wsgi.multithread": True,
                        "wsgi.multiprocess": False})
        response = _Response(self)
        try:
            result = self.server.get_app()(environ, response.start_response)
        except Exception:
            self.log_error("the app failed:\n%s", traceback.format_exc())
            response.fail()
            return
        try:
            response.send(result)
        except (TimeoutError, ConnectionError):
            raise
        except Exception:
            self.log_error("the app failed while answering:\n%s", traceback.format_exc())
            response.fail()
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    self.log_error("closing the app's answer failed:\n%s", traceback.format_exc())
        if body.remaining:  # the app did not read the whole body: skip a small rest, else the connection ends
            if body.remaining > DRAIN_BYTES:
                self.close_connection = True
            else:
                body.read()


class _Response:
    """start_response, and the answer on the wire with the framing that keeps the connection usable."""

    def __init__(self, handler: _Handler):
        self.handler = handler
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.sent_head = False
        self.chunked = False
        self.length: int | None = None  # declared by the app
        self.written = 0

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info=None):
        if exc_info:
            try:
                if self.sent_head:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response called twice without exc_info")
        self.status, self.headers = status, list(headers)
        return self.write

    def _no_body(self) -> bool:
        code = int(self.status.split(" ", 1)[0])  # type: ignore[union-attr]
        return self.handler.command == "HEAD" or code < 200 or code in (204, 304)

    def _send_head(self, first: bytes, known_total: int | None) -> None:
        handler = self.handler
        if self.status is None:
            raise AssertionError("the app returned a body without calling start_response")
        code, _, reason = self.status.partition(" ")
        handler.send_response(int(code), reason)  # also Server and Date, and logs the request
        for name, value in self.headers:
            lower = name.lower()
            if lower == "connection" and "close" in value.lower():
                handler.close_connection = True
            if lower in HOP_BY_HOP:
                continue
            if lower == "content-length":
                self.length = int(value) if value.strip().isdigit() else None
                if self.length is None:
                    continue
            handler.send_header(name, value)
        if self._no_body():
            pass
        elif self.length is None and known_total is not None:
            self.length = known_total
            handler.send_header("Content-Length", str(known_total))
        elif self.length is None and handler.request_version == "HTTP/1.1" and not handler.close_connection:
            self.chunked = True
            handler.send_header("Transfer-Encoding", "chunked")
        elif self.length is None:
            handler.close_connection = True  # an HTTP/1.0 client: the end of the body is the end of the connection
        if handler.close_connection:
            handler.send_header("Connection", "close")
        head = b"".join(handler._headers_buffer) + b"\r\n"
        handler._headers_buffer = []
        self.sent_head = True
        handler.wfile.write(head + self._framed(first))

    def _framed(self, data: bytes) -> bytes:
        if not data or self._no_body():
            return b""
        if self.length is not None:
            room = self.length - self.written
            if len(data) > room:
                self.handler.log_error("the app wrote more than its Content-Length of %d; cut off", self.length)
                self.handler.close_connection = True
                data = data[:room]
        self.written += len(data)
        if self.chunked:
            return b"%x\r\n%s\r\n" % (len(data), data)
        return data

    def write(self, data: bytes) -> None:
        if not isinstance(data, bytes):
            raise TypeError(f"a WSGI body is bytes, not {type(data).__name__}")
        if not self.sent_head:
            self._send_head(data, None)
        elif data:
            out = self._framed(data)
            if out:
                self.handler.wfile.write(out)

    def send(self, result: Iterable[bytes]) -> None:
        if isinstance(result, (list, tuple)) and not self.sent_head:
            total = sum(len(part) for part in result)
            self._send_head(b"".join(result), total)
        else:
            for part in result:
                if part:
                    self.write(part)
            if not self.sent_head:
                self._send_head(b"", 0)
        if self.chunked:
            self.handler.wfile.write(b"0\r\n\r\n")
        elif self.length is not None and self.written < self.length and not self._no_body():
            self.handler.log_error("the app wrote %d of its Content-Length of %d", self.written, self.length)
            self.handler.close_connection = True

    def fail(self) -> None:
        """The app raised: a 500 if nothing was sent yet; either way the connection ends (its state is in doubt)."""
        handler = self.handler
        handler.close_connection = True
        if self.sent_head:
            return
        body = b"Internal Server Error\n"
        handler.send_response(500, "Internal Server Error")
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Connection", "close")
        head = b"".join(handler._headers_buffer) + b"\r\n"
        handler._headers_buffer = []
        handler.wfile.write(head + (b"" if handler.command == "HEAD" else body))


class _KeepAliveMixIn(socketserver.ThreadingMixIn):
    """A thread per connection, at most ``max_connections`` of them: a newcomer over the limit closes the connection
    idle the longest, or — when every one is busy — gets a 503 from the accepting thread itself."""

    daemon_threads = True
    request_queue_size = 64
    max_connections = MAX_CONNECTIONS
    idle_seconds = IDLE_SECONDS

    def _slots(self) -> tuple[threading.Lock, dict]:
        state = self.__dict__.get("_keepalive")
        if state is None:
            state = self.__dict__.setdefault("_keepalive", (threading.Lock(), {"open": 0, "idle": {}}))
        return state

    def idle(self, handler: _Handler, waiting: bool) -> bool:
        """Mark ``handler`` as waiting for a request (or no longer); False when it was closed meanwhile."""
        lock, state = self._slots()
        with lock:
            if waiting:
                state["idle"][handler] = time.monotonic()
                return True
            state["idle"].pop(handler, None)
            return not handler.evicted

    def process_request(self, request, client_address) -> None:
        lock, state = self._slots()
        with lock:
            admitted = state["open"] < self.max_connections
            if not admitted and state["idle"]:
                # The evicted connection's thread ends at once (its select wakes up) and frees its slot then.
                oldest = min(state["idle"], key=state["idle"].get)
                del state["idle"][oldest]
                oldest.evicted = True
                try:
                    oldest.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                admitted = True
            if admitted:
                state["open"] += 1
        if not admitted:
            try:
                request.settimeout(1.0)
                request.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            with lock:
                state["open"] -= 1
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            lock, state = self._slots()
            with lock:
                state["open"] -= 1


class _ThreadingTCPServer(_KeepAliveMixIn, WSGIServer):
    pass


class _ThreadingUnixServer(_KeepAliveMixIn, WSGIServer):
    address_family = socket.AF_UNIX
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
