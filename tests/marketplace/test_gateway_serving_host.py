"""The production shape of the app gateway: the web process (SERVING_URL set) starts no app and forwards each
citizen request to the serving host (``marketplace.gateway.serving_host``, here on loopback in a thread of this
process, as ``govmarket gateway serve`` runs it on a sandbox host), which runs the app in a bubblewrap sandbox.
Checks the whole path — only consented claims, department calls recorded by the serving host, caps on both hops
— and that the serving host answers nobody without the shared secret."""

from __future__ import annotations

import http.client
import json
import secrets
import threading
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from werkzeug.serving import WSGIRequestHandler, make_server

from marketplace.gateway import host_dispatch
from tests.marketplace import test_gateway as local
from tests.marketplace.test_gateway import APPS, assert_caps_of_1000_and_200000_bytes, enter, on_app

# The echo app and the citizen of the in-process gateway's tests, served here by the serving host instead.
gw, served_registry, ssc_ok = local.gw, local.served_registry, local.ssc_ok


class _Http11(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # as gunicorn: a body cut off mid-stream is an incomplete chunked body


@pytest.fixture(scope="module")
def serving_host(app, served_registry):
    from marketplace.gateway.serving_host import ServingHost

    secret = secrets.token_hex(32)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(app.config, "SERVING_SECRET", secret)
        host = ServingHost(app)
    reached: list[str | None] = []

    def counted(environ, start_response):
        reached.append(environ.get("HTTP_X_GOVMARKET_APP"))
        return host(environ, start_response)

    server = make_server("127.0.0.1", 0, counted, threaded=True, request_handler=_Http11)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.port}", port=server.port, secret=secret, host=host,
                          reached=reached)
    server.shutdown()
    thread.join(10)


@pytest.fixture
def remote(app, serving_host, monkeypatch):
    """The platform configured with GOVMARKET_SERVING_URL / _SECRET (its gateway made from that configuration)."""
    from marketplace.gateway.origin import AppOrigin

    monkeypatch.setitem(app.config, "SERVING_URL", serving_host.url)
    monkeypatch.setitem(app.config, "SERVING_SECRET", serving_host.secret)
    origin = AppOrigin(app)
    assert origin.serving is not None and origin.serving.placement.hosts() == [serving_host.url]
    monkeypatch.setattr(host_dispatch(app), "origin", origin)
    serving_host.reached.clear()
    return origin


def direct(serving_host, path="/", *, method="GET", headers=None, body=None):
    """A request straight to the serving host, as anything on the network could send it."""
    conn = http.client.HTTPConnection("127.0.0.1", serving_host.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        reply = conn.getresponse()
        return reply.status, dict(reply.getheaders()), reply.read()
    finally:
        conn.close()


def test_a_citizen_request_reaches_the_app_through_the_serving_host_with_only_consented_claims(app, client, gw,
                                                                                                remote, serving_host):
    from joserfc import jwt
    from joserfc.jwk import KeySet

    from marketplace.gateway import instances
    from marketplace.identity import keys

    enter(client)
    client.set_cookie("session", "platform-session-value", domain=f"echo.{APPS}")
    client.set_cookie("appc", "mine", domain=f"echo.{APPS}")
    response = on_app(client, "/some/page?x=1", headers={
        "Authorization": "Bearer forged", "X-Forwarded-For": "6.6.6.6",
        # A browser naming another app or guessing the secret changes nothing.
        "X-Govmarket-App": "app-a", "X-Govmarket-Serving-Secret": "guess"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert serving_host.reached == ["echo"], "the request went through the serving host"
    seen = response.json
    assert seen["path"] == "/some/page" and seen["query"] == "x=1"
    assert seen["headers"]["Cookie"] == "appc=mine" and seen["headers"]["Host"] == f"echo.{APPS}"
    assert not [name for name in seen["headers"] if name.lower().startswith("x-govmarket")], seen["headers"]
    assert "X-Forwarded-For" not in seen["headers"]

    claims = jwt.decode(seen["headers"]["Authorization"].removeprefix("Bearer "),
                        KeySet.import_key_set(keys.jwks())).claims
    assert claims["aud"] == f"http://echo.{APPS}" and claims["name"] == gw["name"]
    assert "resident_id" not in claims and "phone" not in claims

    # The security headers once each, though both hosts filter the answer; the app's own header passes.
    assert response.headers.getlist("X-Content-Type-Options") == ["nosniff"]
    assert response.headers.getlist("X-Frame-Options") == ["DENY"]
    assert response.headers["X-Echo"] == "yes"
    assert not [name for name in response.headers.keys() if name.lower().startswith("x-govmarket")]
    cookies = on_app(client, "/cookies").headers.getlist("Set-Cookie")
    assert cookies == ["appc=1; Path=/; HttpOnly"]
    assert instances.registry(app).instance("echo") is not None


def test_department_calls_are_recorded_by_the_serving_host(app, client, gw, remote, serving_host, ssc_ok):
    from core.extensions import db
    from marketplace.gateway.models import DepartmentCall
    from marketplace.identity import services as identity
    from marketplace.transactions.models import Transaction

    local.declare_fields(gw, ["name"])  # the citizen's delegation then carries their name
    identity.consent_grant(local.citizen_of(gw), gw["app_id"], ["name", "dept:name"])
    enter(client)
    resident_id = gw["resident_id"]
    person = on_app(client, f"/dept/persons/{resident_id}")
    assert person.status_code == 200 and set(person.json) == {"resident_id", "name"}
    refused = on_app(client, f"/dept/persons/{resident_id}/licences")
    assert refused.status_code == 403 and refused.json["error"] == "scope_denied"
    decision = on_app(client, "/dept/applications/social-security-card", method="POST",
                      data=json.dumps(ssc_ok["application"]))
    assert decision.status_code == 201 and decision.json["decision"] == "accepted"
    assert serving_host.reached == ["echo"] * 3

    calls = db.session.scalars(sa.select(DepartmentCall).where(DepartmentCall.app_id == gw["app_id"])
                               .order_by(DepartmentCall.id)).all()
    assert [(c.method, c.status, c.violation) for c in calls] == [("GET", 200, False), ("GET", 403, True),
                                                                  ("POST", 201, False)]
    assert all(c.version_id == gw["version_id"] for c in calls)
    case = db.session.scalar(sa.select(Transaction).where(Transaction.citizen_id == gw["citizen_id"],
                                                          Transaction.app_id == gw["app_id"]))
    db.session.refresh(case)
    # Submitted to the department, which accepts and concludes later on its own clock (test_gateway.py follows it).
    assert case.status == "submitted" and case.department_case_number == decision.json["case_number"]


def test_the_serving_host_refuses_requests_without_the_secret(app, gw, serving_host):
    good = {"X-Govmarket-App": "echo", "X-Forwarded-Proto": "http", "Authorization": "Bearer some.identity.token"}
    status, headers, body = direct(serving_host, "/", headers=good)
    assert status == 401 and headers["X-Govmarket-Serving-Error"] == "1" and b"gateway only" in body
    status, _headers, _body = direct(serving_host, "/", headers={**good, "X-Govmarket-Serving-Secret": "wrong"})
    assert status == 403
    near = serving_host.secret[:-1] + ("0" if serving_host.secret[-1] != "0" else "1")
    assert direct(serving_host, "/", headers={**good, "X-Govmarket-Serving-Secret": near})[0] == 403
    # An app's request would carry no secret either: the app's own bearer token is not the secret.
    assert direct(serving_host, "/", headers={**good, "Authorization": f"Bearer {serving_host.secret}"})[0] == 401

    with_secret = {**good, "X-Govmarket-Serving-Secret": serving_host.secret}
    for broken in ({"X-Govmarket-App": "../etc"}, {"X-Govmarket-App": ""}, {"X-Forwarded-Proto": "gopher"},
                   {"Authorization": ""}):
        assert direct(serving_host, "/", headers={**with_secret, **broken})[0] == 400, broken
    # The serving host looks the app up itself: an unknown app is not served, whatever the web says.
    status, headers, body = direct(serving_host, "/", headers={**with_secret, "X-Govmarket-App": "no-such-app"})
    assert status == 404 and "no published app" in json.loads(body)["error"]


def test_a_wrong_secret_on_the_web_shows_a_page_and_the_app_is_not_reached(app, client, gw, remote, serving_host,
                                                                          monkeypatch):
    from marketplace.gateway.placement import StaticHosts
    from marketplace.gateway.remote import RemoteServing

    enter(client)
    monkeypatch.setattr(remote, "serving", RemoteServing(StaticHosts([serving_host.url]), "x" * 64))
    response = on_app(client, "/")
    assert response.status_code == 502 and "X-Echo" not in response.headers
    assert "not answering" in response.get_data(as_text=True)

    with pytest.raises(ValueError, match="at least 32"):
        RemoteServing(StaticHosts([serving_host.url]), "short")
    for wrong in ("unix:///run/serving.sock", "http://a:1,ftp://b:2", " , "):
        with pytest.raises(ValueError, match="GOVMARKET_SERVING_URL"):
            RemoteServing.from_config({"SERVING_URL": wrong, "SERVING_SECRET": "x" * 64})


def test_caps_hold_on_both_hops(app, client, gw, remote, serving_host, monkeypatch):
    from marketplace.gateway.proxy import ProxyLimits

    enter(client)
    # The web's caps.
    monkeypatch.setattr(remote, "limits", ProxyLimits(request_bytes=1000, response_bytes=200_000, timeout_seconds=10))
    assert_caps_of_1000_and_200000_bytes(client)

    # The serving host's own caps, with a web that would pass more.
    monkeypatch.setattr(remote, "limits", ProxyLimits(request_bytes=10**6, response_bytes=10**7, timeout_seconds=10))
    monkeypatch.setattr(serving_host.host, "limits", ProxyLimits(request_bytes=500, response_bytes=200_000,
                                                                 timeout_seconds=10))
    refused = on_app(client, "/", method="POST", data=b"x" * 501)
    assert refused.status_code == 413 and "larger than 500 bytes" in refused.get_data(as_text=True)
    streamed = on_app(client, "/big?blocks=4", buffered=False)
    assert streamed.status_code == 200
    with pytest.raises(http.client.IncompleteRead):  # the serving host aborts: never a clean, shortened end
        b"".join(streamed.response)
    streamed.close()
    assert len(on_app(client, "/big?blocks=2").data) == 2 * 65536


def test_the_serve_command_runs_the_serving_host_under_gunicorn(fresh_database_url, tmp_path):
    """``govmarket gateway serve`` as compose's app-serving runs it: refuses to start without a secret; then
    answers 401/403 without or with a wrong one and looks the app up in its database (404 for an unknown one).
    Its own migrated database: the other tests' open transaction would lock SQLite for another process."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    from tests.conftest import make_app, upgrade

    migrated = make_app(fresh_database_url, tmp_path / "migrate")
    upgrade(migrated)
    with migrated.app_context():
        from core.extensions import db

        db.engine.dispose()
    secret = secrets.token_hex(32)
    env = {key: value for key, value in os.environ.items() if not key.startswith("GOVMARKET_")}
    env.update({"DATABASE_URL": fresh_database_url, "GOVMARKET_INSTANCE_PATH": str(tmp_path),
                "GOVMARKET_SECRET_KEY": "x" * 32, "GOVMARKET_APPS_DOMAIN": APPS})
    command = [str(Path(sys.executable).parent / "govmarket"), "gateway", "serve", "--bind", f"127.0.0.1:{port}",
               "--threads", "2"]

    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "GOVMARKET_SERVING_SECRET must be set" in refused.stderr

    process = subprocess.Popen(command, env={**env, "GOVMARKET_SERVING_SECRET": secret}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        target = SimpleNamespace(port=port)
        deadline = time.monotonic() + 60
        while True:
            try:
                status = direct(target, "/")[0]
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "the serving host did not start"
                time.sleep(0.2)
        assert status == 401
        hop = {"X-Govmarket-App": "no-such-app", "X-Forwarded-Proto": "http", "Authorization": "Bearer t.t.t"}
        assert direct(target, "/", headers={**hop, "X-Govmarket-Serving-Secret": "x" * 64})[0] == 403
        status, headers, body = direct(target, "/", headers={**hop, "X-Govmarket-Serving-Secret": secret})
        if status != 404:
            process.terminate()
            pytest.fail(f"{status} {body!r}\n{process.communicate(timeout=30)[0][-3000:]}")
        assert headers["X-Govmarket-Serving-Error"] == "1"
        assert "no published app" in json.loads(body)["error"]
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "govmarket-serving" in output or "Listening at" in output, output[-2000:]


def test_a_browser_sees_the_starting_page_while_the_serving_host_starts_the_app(app, client, gw, remote,
                                                                                serving_host, monkeypatch):
    import time

    from marketplace.gateway import instances

    enter(client)
    registry = instances.registry(app)
    registry.close()  # nothing runs (what earlier tests left streaming included): the next request starts the app
    assert registry.instance("echo") is None
    deadline = time.monotonic() + 120
    monkeypatch.setattr(serving_host.host, "starting_page_seconds", 0.001)
    navigate = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
    page = on_app(client, "/", headers=navigate)
    assert page.status_code == 503 and 'id="govmarket-starting"' in page.get_data(as_text=True)
    assert page.headers["Retry-After"] == "1" and serving_host.reached == ["echo"]
    while page.status_code == 503:
        assert time.monotonic() < deadline, "the app never replaced the starting page"
        time.sleep(0.2)
        page = on_app(client, "/", headers=navigate)
    assert page.status_code == 200 and page.json["path"] == "/"
    page.close()
