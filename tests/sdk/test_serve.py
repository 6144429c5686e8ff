"""`govapp.serve` speaks HTTP/1.1 with keep-alive: one connection carries request after request whatever the app's
body looks like (a list, a generator, nothing read of the request), and ends when its state is in doubt (an app
error, a request head too large, an unframed request body), when it idles, or when the server needs its thread."""

from __future__ import annotations

import http.client
import socket
import threading
import time

import pytest
from govapp.serve import make_server, with_health


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 5.0):
        super().__init__("app", timeout=timeout)
        self.path = path
        self.connects = 0

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock
        self.connects += 1


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (part for part in (b"one ", b"two ", b"three"))
    if path == "/ignore-body":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"not read"]
    if path == "/fail":
        raise RuntimeError("the app broke")
    if path == "/fail-late":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body():
            yield b"half"
            raise RuntimeError("broke while streaming")
        return body()
    if path == "/slow":
        time.sleep(float(environ["QUERY_STRING"] or 0.5))
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body) + 5))])
    return [b"echo:" + body]


@pytest.fixture
def server(tmp_path):
    sock = tmp_path / "app.sock"
    made = make_server(with_health(app), socket_path=str(sock))
    threading.Thread(target=made.serve_forever, daemon=True).start()
    made.path = str(sock)
    yield made
    made.shutdown()
    made.server_close()


def raw(path: str, data: bytes, wait: float = 0.3) -> bytes:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(3)
        sock.connect(path)
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):  # the server answered and closed before reading it all
            pass
        time.sleep(wait)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_one_connection_carries_many_requests_whatever_the_body(server):
    conn = UnixConnection(server.path)
    seen = []
    for method, target, body in [("GET", "/health", None), ("POST", "/echo", b"hello"), ("GET", "/stream", None),
                                 ("POST", "/ignore-body", b"x" * 10_000), ("HEAD", "/stream", None),
                                 ("POST", "/echo", b"again")]:
        conn.request(method, target, body=body)
        resp = conn.getresponse()
        seen.append((resp.status, resp.read(), resp.getheader("Transfer-Encoding"), resp.will_close))
    assert conn.connects == 1, "every request went over the first connection"
    assert seen[1][:2] == (200, b"echo:hello")
    assert seen[2] == (200, b"one two three", "chunked", False), "a generator's body is chunked, not close-delimited"
    assert seen[3][:2] == (200, b"not read") and seen[5][:2] == (200, b"echo:again"), \
        "a request body the app did not read does not spill into the next request"
    assert seen[4][1] == b"" and all(not will_close for *_, will_close in seen)


def test_an_app_error_answers_500_and_ends_the_connection(server):
    conn = UnixConnection(server.path)
    conn.request("GET", "/fail")
    resp = conn.getresponse()
    assert (resp.status, resp.will_close) == (500, True)
    resp.read()
    conn.request("GET", "/fail-late")
    resp = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead):  # a broken stream is not passed off as a whole answer
        resp.read()
    assert conn.connects == 2


def test_a_request_head_too_large_or_an_unframed_body_is_refused_and_closes(server):
    huge = b"GET / HTTP/1.1\r\nHost: app\r\n" + b"".join(b"X-H%d: %s\r\n" % (i, b"a" * 8000) for i in range(10))
    answer = raw(server.path, huge + b"\r\nGET /health HTTP/1.1\r\nHost: app\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 ") and answer.count(b"HTTP/1.1") == 1
    chunked = raw(server.path, b"POST /echo HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n"
                               b"3\r\nabc\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: app\r\n\r\n")
    assert chunked.startswith(b"HTTP/1.1 411 ") and chunked.count(b"HTTP/1.1") == 1
    smuggled = raw(server.path, b"POST /echo HTTP/1.1\r\nHost: app\r\nContent-Length: 3\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\nabc")
    assert smuggled.startswith(b"HTTP/1.1 400 ")


def test_pipelined_requests_are_answered_in_order_and_http_1_0_gets_a_closed_body(server):
    both = raw(server.path, b"POST /echo HTTP/1.1\r\nHost: app\r\nContent-Length: 2\r\n\r\nhi"
                            b"GET /health HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n")
    assert both.count(b"HTTP/1.1 200 OK") == 2 and both.index(b"echo:hi") < both.index(b'"status": "ok"')
    old = raw(server.path, b"GET /stream HTTP/1.0\r\n\r\n")
    assert old.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in old and old.endswith(b"one two three")
    assert b"chunked" not in old


def test_idle_connections_end_and_give_way_to_new_ones(server):
    server.idle_seconds = 0.3
    conn = UnixConnection(server.path)
    conn.request("GET", "/health")
    conn.getresponse().read()
    time.sleep(0.8)
    assert conn.sock.recv(1) == b"", "an idle connection is closed by the server"

    server.idle_seconds = 30
    server.max_connections = 2
    idle = [UnixConnection(server.path) for _ in range(2)]
    for c in idle:
        c.request("GET", "/health")
        c.getresponse().read()
    newcomer = UnixConnection(server.path)
    newcomer.request("GET", "/health")
    assert newcomer.getresponse().status == 200, "a new connection closes the longest idle one instead of waiting"
    assert idle[0].sock.recv(1) == b""

    busy = [UnixConnection(server.path, timeout=5) for _ in range(2)]
    for c in busy:
        c.request("GET", "/slow", headers={})
    time.sleep(0.1)
    refused = raw(server.path, b"GET /health HTTP/1.1\r\nHost: app\r\n\r\n", wait=0.1)
    assert refused.startswith(b"HTTP/1.1 503 "), "with every connection busy a newcomer is told so, not queued"
    assert [c.getresponse().status for c in busy] == [200, 200]
