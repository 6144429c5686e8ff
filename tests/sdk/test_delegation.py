"""The SDK carries the citizen's delegation: DepartmentClient sends the department access token of the request
its thread is handling (`govapp.serve.carry_delegation`), also while a streamed body is produced, never a token
of another request, and a streamed body is never held in memory."""

from __future__ import annotations

import itertools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from govapp.department import DepartmentClient
from govapp.serve import carry_delegation, current_delegation


@pytest.fixture
def department():
    """A department stand-in on loopback that records the Authorization header of each call."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers.get("Authorization"))
            body = b'{"resident_id": "x"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield DepartmentClient(base_url=f"http://127.0.0.1:{server.server_port}"), seen
    server.shutdown()
    server.server_close()


def test_the_client_sends_the_token_of_the_request_being_handled(department):
    client, seen = department

    def app(environ, start_response):
        client.person("x")  # while handling the request
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body():
            client.person("x")  # while streaming the body
            yield b"ok"

        return body()

    wrapped = carry_delegation(app)
    for token in ("token-a", "token-b"):
        result = wrapped({"HTTP_X_DEPARTMENT_TOKEN": token}, lambda status, headers: None)
        assert b"".join(result) == b"ok"
        result.close()
    assert seen == ["Bearer token-a", "Bearer token-a", "Bearer token-b", "Bearer token-b"]
    assert current_delegation() is None, "no token outlives its request"
    client.person("x")
    assert seen[-1] is None


def test_a_streamed_body_is_produced_as_it_is_sent_not_collected_first():
    produced = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])

        def body():
            for n in range(1000):  # stands for an endless stream
                produced.append(n)
                yield b"y" * 65536

        return body()

    body = carry_delegation(app)({}, lambda status, headers: None)
    assert len(list(itertools.islice(body, 3))) == 3
    assert len(produced) == 3
    body.close()


def test_the_app_can_see_which_fields_its_citizen_delegated():
    import base64
    import json

    def token(claims: dict) -> str:
        part = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return f"eyJhbGciOiJFUzI1NiJ9.{part}.c2ln"

    client = DepartmentClient(base_url="http://127.0.0.1:9")
    assert client.delegated_fields() == frozenset()
    seen = []

    def app(environ, start_response):
        seen.append(client.delegated_fields())
        start_response("200 OK", [])
        return [b""]

    carry_delegation(app)({"HTTP_X_DEPARTMENT_TOKEN": token({"fields": ["name", "businesses"]})}, lambda *a: None)
    carry_delegation(app)({"HTTP_X_DEPARTMENT_TOKEN": "not-a-token"}, lambda *a: None)
    assert seen == [frozenset({"name", "businesses"}), frozenset()]
