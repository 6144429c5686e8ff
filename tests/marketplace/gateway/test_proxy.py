"""The gateway's connections to an app (marketplace/gateway/proxy.py with sandbox.serving.ConnectionPool), against
the SDK's real server (govapp.serve) on a unix socket: a connection is kept for the next request only when its
answer was read to the end; one the app closed meanwhile is replaced — the request sent again only if it is safe
to send twice; a stopped instance's connections are closed."""

from __future__ import annotations

import http.client
import io
import socket
import threading
import time

import pytest
from govapp.serve import make_server

from marketplace.gateway.proxy import ProxyLimits, forward
from sandbox.serving import ConnectionPool

LIMITS = ProxyLimits(request_bytes=1 << 20, response_bytes=1 << 20, timeout_seconds=5.0)


def app(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    if environ["PATH_INFO"] == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"part " for _ in range(3))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["REQUEST_METHOD"].encode() + b" " + body]


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("app", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


class Target:
    """What forward() needs of a served instance, as sandbox.serving.Instance gives it (without the sandbox)."""

    def __init__(self, path: str):
        self.served = type("Served", (), {"key": "echo"})()
        self.pool = ConnectionPool(lambda timeout: UnixConnection(path, timeout), idle_seconds=60)
        self.stopped = False

    def connection(self, timeout: float, *, fresh: bool = False):
        return self.pool.get(timeout, fresh=fresh)

    def give_back(self, conn) -> None:
        conn.close() if self.stopped else self.pool.put(conn)


@pytest.fixture
def served(tmp_path):
    server = make_server(app, socket_path=str(tmp_path / "app.sock"))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, Target(str(tmp_path / "app.sock"))
    server.shutdown()
    server.server_close()


def call(target: Target, method: str = "GET", path: str = "/", body: bytes = b"", *, read: bool = True) -> bytes:
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(body),
               "CONTENT_LENGTH": str(len(body)) if body else ""}
    upstream = forward(target, environ, {"Host": "echo.apps.localhost"}, LIMITS, reserved_cookies=frozenset(),
                       on_close=lambda: None)
    try:
        return b"".join(upstream.body) if read else next(iter(upstream.body))
    finally:
        upstream.body.close()


def test_requests_share_one_kept_connection(served):
    _server, target = served
    answers = [call(target), call(target, "POST", "/", b"form"), call(target, "GET", "/stream"), call(target)]
    assert answers == [b"GET ", b"POST form", b"part part part ", b"GET "]
    assert target.pool.opened == 1, "every request after the first reused the kept connection"


def test_a_connection_whose_answer_was_not_read_to_the_end_is_not_kept(served):
    _server, target = served
    assert call(target, "GET", "/stream", read=False) == b"part "
    call(target)
    assert target.pool.opened == 2


def test_a_kept_connection_the_app_closed_is_replaced_and_only_a_safe_request_sent_again(served):
    server, target = served
    server.idle_seconds = 0.2  # the app closes idle connections long before the pool would drop them
    call(target)
    time.sleep(0.6)
    assert call(target) == b"GET ", "a GET on a closed kept connection is sent again on a new one"
    assert target.pool.opened == 2
    time.sleep(0.6)
    with pytest.raises(ConnectionError):  # a POST is never sent twice: the gateway answers 502 instead
        call(target, "POST", "/", b"pay")


def test_a_stopped_instances_connections_are_closed(served):
    _server, target = served
    call(target)
    kept = target.pool.get(5.0)
    target.pool.put(kept)
    target.pool.close()
    target.stopped = True
    assert kept.sock is None, "the pool closed what it kept"
    call(target)
    assert target.pool.opened == 2 and not target.pool._idle, "nothing is kept after the stop"


def test_the_body_is_read_once_per_request_and_handed_on_rewound():
    """The gateway looks into a request's body (whom it names) before forwarding it: both get the one spool."""
    import io

    from marketplace.gateway.proxy import spool_body

    stream = io.BytesIO(b"resident_id=410320199607073214")
    environ = {"CONTENT_LENGTH": str(len(stream.getvalue())), "wsgi.input": stream}
    first, size = spool_body(environ, 1024)
    assert first.read() == stream.getvalue() and size == len(stream.getvalue())
    again, same = spool_body(environ, 1024)
    assert again is first and same == size and again.read() == stream.getvalue(), "the same spool, rewound"
    assert stream.read() == b"", "the client's stream was read once"
    assert spool_body({"wsgi.input": io.BytesIO()}, 1024) == (None, 0)
