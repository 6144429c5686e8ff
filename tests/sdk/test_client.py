"""PlatformClient and the platform commands, against a small local WSGI fake — transport concerns only.

The fake checks what travels (auth, query, headers, the streamed body); the platform's real behaviour is
exercised by the platform's end-to-end tests.
"""

from __future__ import annotations

import base64
import json
import stat
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from click.testing import CliRunner
from govapp.cli import main
from govapp.client import PlatformClient, PlatformError


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class FakePlatform:
    def __init__(self):
        self.requests: list[dict] = []
        self.version_polls = 0

    def __call__(self, environ, start_response):
        length = environ.get("CONTENT_LENGTH")
        body = environ["wsgi.input"].read(int(length)) if length else b""
        path, query = environ["PATH_INFO"], environ.get("QUERY_STRING", "")
        self.requests.append({"method": environ["REQUEST_METHOD"], "path": path, "query": query, "body": body,
                              "auth": environ.get("HTTP_AUTHORIZATION"), "type": environ.get("CONTENT_TYPE")})
        status, headers, data = self.route(environ["REQUEST_METHOD"], path, query, body, environ)
        payload = json.dumps(data).encode()
        start_response(status, [("Content-Type", "application/json"), *headers])
        return [payload]

    def route(self, method, path, query, body, environ):
        if path == "/oauth/token":
            if environ.get("HTTP_AUTHORIZATION") != "Basic " + base64.b64encode(b"vendor-ci:s3cret").decode():
                return "401 Unauthorized", [], {"error": "invalid_client", "error_description": "unknown client or wrong secret"}
            return "200 OK", [], {"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600, "scope": "apps:write"}
        if environ.get("HTTP_AUTHORIZATION") != "Bearer tok-1":
            return "401 Unauthorized", [], {"title": "Unauthorized", "detail": "send a bearer token"}
        if path == "/api/orders":
            page = int(dict(p.split("=") for p in query.split("&"))["page"])
            items = [{"id": 1, "slug": "food-licence"}, {"id": 2, "slug": "social-security-card"}][page - 1:page]
            return "200 OK", [("X-Pagination", json.dumps({"total": 2, "total_pages": 2, "page": page}))], items
        if path == "/api/apps/7/versions" and method == "POST":
            return "201 Created", [], {"id": 70, "status": "uploaded", "size": len(body)}
        if path == "/api/apps/8/versions":
            return "413 Request Entity Too Large", [], {"title": "Too large", "detail": "bundles may hold at most 1 byte"}
        if path == "/api/versions/70":
            self.version_polls += 1
            states = ["queued", "testing", "testing", "certified"]
            state = states[min(self.version_polls - 1, 3)]
            return "200 OK", [], {"id": 70, "status": state, "progress": {"done": self.version_polls, "total": 4}}
        if path == "/api/versions/70/report":
            return "200 OK", [], {"passed": True, "pass_ratio": 1.0, "cases": []}
        return "404 Not Found", [], {"title": "Not Found", "detail": f"no {path}"}


@pytest.fixture
def platform():
    fake = FakePlatform()
    server = make_server("127.0.0.1", 0, fake, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield fake, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_client_credentials_then_bearer_calls(platform):
    fake, url = platform
    with PlatformClient.login(url, "vendor-ci", "s3cret") as client:
        assert [o["slug"] for o in client.iter_orders()] == ["food-licence", "social-security-card"]
    assert fake.requests[0]["body"] == b"grant_type=client_credentials"
    assert [r["query"] for r in fake.requests[1:]] == ["status=open&page_size=50&page=1", "status=open&page_size=50&page=2"]


def test_errors_carry_the_platforms_detail(platform):
    _, url = platform
    with pytest.raises(PlatformError, match="unknown client or wrong secret") as err:
        PlatformClient.fetch_token(url, "vendor-ci", "wrong")
    assert err.value.status == 401
    with PlatformClient(url, "tok-1") as client, pytest.raises(PlatformError) as err:
        client.get_order(99)
    assert err.value.status == 404 and err.value.detail == "no /api/orders/99"


def test_an_unreachable_platform_is_a_platform_error():
    with PlatformClient("http://127.0.0.1:9", "t", timeout=2) as client, pytest.raises(PlatformError, match="cannot reach"):
        client.get_version(1)


def test_upload_streams_the_raw_bundle(platform, tmp_path):
    fake, url = platform
    bundle = tmp_path / "b.tar.gz"
    bundle.write_bytes(bytes(range(256)) * 3000)
    seen = []
    with PlatformClient(url, "tok-1") as client:
        created = client.upload_version(7, "1.0.0", bundle, progress=lambda sent, total: seen.append((sent, total)),
                                        chunk_size=100_000)
    assert created == {"id": 70, "status": "uploaded", "size": 768_000}
    upload = fake.requests[-1]
    assert upload["query"] == "version=1.0.0" and upload["type"] == "application/gzip"
    assert upload["body"] == bundle.read_bytes()
    assert seen[-1] == (768_000, 768_000) and len(seen) == 8


def test_wait_for_version_reports_each_change(platform):
    _, url = platform
    updates = []
    with PlatformClient(url, "tok-1") as client:
        final = client.wait_for_version(70, poll_s=0.01, on_update=lambda v: updates.append(v["status"]))
    assert final["status"] == "certified"
    assert updates == ["queued", "testing", "testing", "certified"]  # progress changed between the two "testing"


def test_login_submit_status_commands(platform, tmp_path, monkeypatch):
    fake, url = platform
    config = tmp_path / "cfg" / "credentials.json"
    monkeypatch.setenv("GOVAPP_CONFIG", str(config))
    monkeypatch.delenv("GOVAPP_TOKEN", raising=False)
    runner = CliRunner()

    refused = runner.invoke(main, ["login", "--platform", url, "--client-id", "vendor-ci", "--client-secret", "nope"])
    assert refused.exit_code == 1 and not config.exists()

    result = runner.invoke(main, ["login", "--platform", url, "--client-id", "vendor-ci"], input="s3cret\n")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text())["token"] == "tok-1"

    bundle = _bundle(tmp_path)
    submitted = runner.invoke(main, ["submit", str(bundle), "--app", "7"])
    assert submitted.exit_code == 0, submitted.output
    assert "Version 2.1.0 uploaded as 70" in submitted.output
    assert fake.requests[-1]["query"] == "version=2.1.0"

    followed = runner.invoke(main, ["status", "70", "--poll", "0.01"])
    assert followed.exit_code == 0, followed.output
    assert "certified" in followed.output and "[##############################] 4/4" in followed.output

    too_big = runner.invoke(main, ["submit", str(bundle), "--app", "8"])
    assert too_big.exit_code == 1 and "bundles may hold at most 1 byte" in too_big.output


def _bundle(tmp_path: Path) -> Path:
    import io
    import tarfile

    path = tmp_path / "app-2.1.0.tar.gz"
    data = b'name = "app"\nversion = "2.1.0"\n'
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("govapp.toml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path
