"""The app gateway with a real served app (bubblewrap sandbox): the launch flow from the platform to the app's
own origin, single-use and expiring launch codes, a fresh identity JWT with only the consented claims, no
platform cookie at the app, caps and security headers, friendly pages, and department calls recorded — scope
violations, the citizen's access log — with a department decision completing the citizen's case."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from core.auth import SYSTEM
from core.time import utcnow
from mockdata.identifiers import resident_id_is_valid
from tests.marketplace.conftest import contract_doc, suite_doc
from tests.marketplace.webpages import submit
from tests.services import require_bwrap

APPS = "apps.localhost:5000"
SCOPES = ["person.read", "application.submit"]
OTHER_RESIDENT_ID = "410320199607073214"  # a person of the dataset who never used the app (food_ok's applicant)

# A tiny app that shows what reaches it, streams big bodies, sets cookies and calls the department service.
ECHO_APP = b'''
import http.client, json, os, socket

def dept(method, target, body, delegation):
    conn = http.client.HTTPConnection("dept")
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(os.environ["GOVAPP_DEPT_SOCKET"])
    conn.sock = sock
    headers = {"Content-Type": "application/json"}
    if delegation and "nodelegation" not in target:  # the citizen's delegation, as the SDK's client sends it
        headers["Authorization"] = "Bearer " + delegation
    conn.request(method, target.replace("nodelegation", ""), body=body, headers=headers)
    reply = conn.getresponse()
    return reply.status, reply.read()

def app(environ, start_response):
    path, query = environ["PATH_INFO"], environ.get("QUERY_STRING", "")
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    if path == "/big":
        blocks = int(query.split("=")[1])
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (b"x" * 65536 for _ in range(blocks))
    if path == "/cookies":
        start_response("200 OK", [("Content-Type", "text/plain"),
                                  ("Set-Cookie", "appc=1; Path=/; Domain=apps.localhost; HttpOnly"),
                                  ("Set-Cookie", "govgw_session=forged; Path=/"),
                                  ("Set-Cookie", "__Host-govgw_session=forged; Path=/; Secure")])
        return [b"ok"]
    if path == "/page":
        page = b"<!doctype html><html><head><title>t</title></head><body class=app><h1>App page</h1></body></html>"
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(page)))])
        return [page]
    if path == "/snoop":  # the app reads, on its own, a person the request does not name (reversed in the query)
        status, answer = dept("GET", "/persons/" + query[::-1], None, environ.get("HTTP_X_DEPARTMENT_TOKEN"))
        start_response("%d Dept" % status, [("Content-Type", "application/json")])
        return [answer]
    if path.startswith("/dept/"):
        status, answer = dept(environ["REQUEST_METHOD"], path[5:] + ("?" + query if query else ""), body or None,
                              environ.get("HTTP_X_REPLAY") or environ.get("HTTP_X_DEPARTMENT_TOKEN"))
        start_response("%d Dept" % status, [("Content-Type", "application/json")])
        return [answer]
    seen = {"method": environ["REQUEST_METHOD"], "path": path, "query": query, "body_bytes": len(body),
            "headers": {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}}
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Echo", "yes")])
    return [json.dumps(seen).encode()]
'''


@pytest.fixture(scope="module")
def served_registry(app):
    """Instances started by this module's tests are stopped at its end."""
    require_bwrap()
    from marketplace.gateway import instances

    yield
    instances.registry(app).close()


@pytest.fixture(scope="session")
def ssc_ok():
    from mockdata.generator import scenarios_for
    from mockdata.specs import get_spec

    return scenarios_for(get_spec("citizens-v1"), 42)["ssc_ok"]


@pytest.fixture
def gw(app, client, world, served_registry, ssc_ok):
    """A published echo app (slug 'echo') for an order granting person.read and application.submit and asking
    for name, resident_id and phone; a persona citizen logged in on the platform who shared only their name."""
    from core.extensions import db
    from core.storage import FileBlobStore
    from marketplace.accounts.models import User
    from marketplace.identity import services as identity
    from marketplace.orders import services as orders
    from marketplace.vendors import services as vendors
    from marketplace.vendors.models import AppVersion
    from tests.sandbox.conftest import make_bundle

    order = orders.order_create(SYSTEM, service_item_id=world.ids["item_a"], slug="gw-order", title="Gateway order",
                                contract=contract_doc(), fee_per_transaction_fen=100, quarterly_budget_fen=100_000,
                                dept_scopes=SCOPES, citizen_scopes=["name", "resident_id", "phone"])
    orders.suite_add(SYSTEM, order.id, suite_doc("gw-order"))
    orders.order_publish(SYSTEM, order.id)
    echo = vendors.app_create(db.session.get(User, world.ids["vendor_a"]), order_id=order.id, name="Echo",
                              slug="echo")
    blob = FileBlobStore(app.config["BUNDLE_STORE"]).put_stream(
        io.BytesIO(make_bundle("echo:app", {"echo.py": ECHO_APP})), 10**8)
    version = AppVersion(app_id=echo.id, version="1.0.0", bundle_sha256=blob.sha256, bundle_size=blob.size,
                         approved_at=utcnow(), published_at=utcnow())
    db.session.add(version)
    db.session.commit()
    resident_id = ssc_ok["applicant"]["resident_id"]
    citizen = identity.citizen_login_persona(resident_id, settings=app.config)
    identity.consent_grant(citizen, echo.id, ["name"])
    response = submit(client, "/identity/personas", {"resident_id": resident_id})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return {"app_id": echo.id, "version_id": version.id, "citizen_id": citizen.id, "name": citizen.display_name,
            "resident_id": resident_id}


def citizen_of(gw):
    from core.extensions import db
    from marketplace.accounts.models import User

    return db.session.get(User, gw["citizen_id"])


def declare_fields(gw, required, optional=()):
    """Make the echo version certified with a manifest declaring these department fields (what intake and the
    certification record for a real bundle), so the consent page asks for them. The echo bundle stays the same
    while its manifest here changes, so the process's answer kept per bundle hash is dropped (a real bundle declares
    one set of fields: ``identity.department_fields_declared``); else an earlier test's set, kept for a version id
    the rolled-back database hands out again, would answer."""
    from core.extensions import db
    from marketplace.identity import services as identity
    from sandbox.models import CertificationRun

    identity._declared_for_app.pop(gw["app_id"], None)

    db.session.add(CertificationRun(app_version_id=gw["version_id"], bundle_sha256="0" * 64, suite_version="1",
                                    suite_sha256="0" * 64, suite={}, job_id=f"declared-{gw['version_id']}",
                                    state="certified", report={"manifest": {"fields": list(required),
                                                                            "optional_fields": list(optional)}}))
    db.session.commit()


def launch(client, slug="echo"):
    """Click "use this app" on the platform; returns the redirect to the app origin."""
    return submit(client, f"/apps/{slug}/launch", {})


def enter(client, slug="echo"):
    response = launch(client, slug)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    target = urlsplit(response.headers["Location"])
    assert target.netloc == f"{slug}.{APPS}" and target.path == "/_gateway/launch"
    redeemed = client.get(f"{target.path}?{target.query}", base_url=f"http://{target.netloc}")
    assert redeemed.status_code == 303 and redeemed.headers["Location"] == "/"
    return redeemed, target


def on_app(client, path="/", slug="echo", **kw):
    return client.open(path, base_url=f"http://{slug}.{APPS}", **kw)


def test_a_citizen_reaches_the_app_with_only_consented_claims_and_never_the_platform_session(app, client, gw):
    from joserfc import jwt
    from joserfc.jwk import KeySet

    redeemed, _target = enter(client)
    cookie = redeemed.headers["Set-Cookie"]
    assert cookie.startswith("__Host-govgw_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" in cookie and "Path=/" in cookie, "a __Host- cookie is Secure (browsers take that on *.localhost)"
    assert "Domain" not in cookie, "the gateway's cookie is host-only on the app's origin"

    # The browser also sends cookies the app must not see (as if the platform's had leaked to this host).
    client.set_cookie("session", "platform-session-value", domain=f"echo.{APPS}")
    client.set_cookie("appc", "mine", domain=f"echo.{APPS}")
    response = on_app(client, "/some/page?x=1", headers={"Authorization": "Bearer forged", "X-Forwarded-For": "6.6.6.6"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    seen = response.json
    assert seen["path"] == "/some/page" and seen["query"] == "x=1"
    assert seen["headers"]["Cookie"] == "appc=mine"
    assert "X-Forwarded-For" not in seen["headers"] and seen["headers"]["Host"] == f"echo.{APPS}"

    token = seen["headers"]["Authorization"].removeprefix("Bearer ")
    from marketplace.identity import keys

    claims = jwt.decode(token, KeySet.import_key_set(keys.jwks())).claims
    assert claims["aud"] == f"http://echo.{APPS}" and claims["iss"] == app.config["ISSUER"].rstrip("/")
    assert claims["name"] == gw["name"]
    assert "resident_id" not in claims and "phone" not in claims
    assert claims["exp"] - claims["iat"] <= 300
    assert claims["sub"] != str(gw["citizen_id"]), "the subject is pairwise, not the platform's user id"

    # While the claims stay the same, the session's token is sent again (it has minutes left).
    again = on_app(client, "/").json["headers"]["Authorization"]
    assert again == seen["headers"]["Authorization"]

    # The platform's session cookie is host-only: never scoped to a domain the apps share.
    login_cookie = submit(client, "/identity/personas", {"resident_id": gw["resident_id"]}).headers["Set-Cookie"]
    assert "Domain=" not in login_cookie
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Echo"] == "yes"


def test_the_app_cannot_set_cookies_for_other_origins_or_forge_the_gateway_cookie(client, gw):
    enter(client)
    response = on_app(client, "/cookies")
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies == ["appc=1; Path=/; HttpOnly"]


def test_platform_routes_are_not_reachable_on_an_app_origin(client, gw):
    enter(client)
    # /identity/personas is a platform page; on the app origin it is just a path of the app.
    seen = on_app(client, "/identity/personas").json
    assert seen["path"] == "/identity/personas"
    assert on_app(client, "/_gateway/anything").status_code == 404


def test_launch_codes_are_single_use_and_expire(app, client, gw):
    from marketplace.gateway import services

    response = launch(client)
    target = urlsplit(response.headers["Location"])
    assert client.get(f"{target.path}?{target.query}", base_url=f"http://{target.netloc}").status_code == 303
    replay = client.get(f"{target.path}?{target.query}", base_url=f"http://{target.netloc}")
    assert replay.status_code == 409 and "链接已失效" in replay.get_data(as_text=True)

    citizen = citizen_of(gw)
    old = services.app_launch(citizen, "echo", now=utcnow() - timedelta(seconds=services.LAUNCH_CODE_SECONDS + 1))
    assert on_app(client, f"/_gateway/launch?code={old.code}").status_code == 409

    # A code is bound to its app: it does not open another app's origin.
    fresh = services.app_launch(citizen, "echo")
    assert on_app(client, f"/_gateway/launch?code={fresh.code}", slug="app-a").status_code == 404
    assert on_app(client, f"/_gateway/launch?code={fresh.code}").status_code == 303


@pytest.mark.parametrize("next_", ["/%09/x", "%2F%09%2Fx", "/%5Cx", "//x", "http://x/"])
def test_launch_goes_on_only_to_a_path_of_the_app(client, gw, next_):
    from marketplace.gateway import services

    fresh = services.app_launch(citizen_of(gw), "echo")
    response = on_app(client, f"/_gateway/launch?code={fresh.code}&next={next_}")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    fresh = services.app_launch(citizen_of(gw), "echo")
    kept = on_app(client, f"/_gateway/launch?code={fresh.code}&next=/applications%3Fstep%3D2")
    assert kept.headers["Location"] == "/applications?step=2"


def test_app_pages_carry_the_platform_bar_with_the_way_back(client, gw):
    enter(client)
    page = on_app(client, "/page")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.startswith("<!doctype html>")
    bar = re.search(r'<body class=app><nav id="govmarket-bar" lang="zh-CN" aria-label="政务应用市场"[^>]*>(.*?)</nav>'
                    r'<h1>App page</h1>', html)
    assert bar, html[:400]
    issuer = client.application.config["ISSUER"].rstrip("/")
    assert f'href="{issuer}/services/apps/echo"' in bar.group(1) and "返回政务应用市场" in bar.group(1)
    assert f'href="{issuer}/my/cases"' in bar.group(1)
    assert int(page.headers.get("Content-Length", len(page.data))) == len(page.data), "no stale length"
    assert "govmarket-bar" not in on_app(client, "/x").get_data(as_text=True), "JSON answers are left alone"
    english = on_app(client, "/page", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Back to the Gov App Market" in english


def test_proxied_requests_reuse_one_connection_to_the_sandboxed_app_until_it_stops(app, client, gw):
    from marketplace.gateway import instances

    def served(response):
        response.get_data()
        response.close()  # as every WSGI server does once the body is sent: gives the connection back
        return response

    enter(client)
    assert served(on_app(client, "/")).status_code == 200
    instance = instances.registry(app).instance("echo")
    opened = instance.pool.opened
    answers = [served(on_app(client, "/x")), served(on_app(client, "/page")), served(on_app(client, "/big?blocks=3")),
               served(on_app(client, "/x", method="POST", data=b"form"))]
    assert [a.status_code for a in answers] == [200] * 4 and len(answers[2].data) == 3 * 65536
    assert instance.pool.opened == opened, "JSON, a page with the bar, a streamed body and a POST: one connection"
    assert instance.pool._idle, "the connection is kept for the next request"
    kept = instance.pool._idle[-1][0]
    instances.registry(app).close()
    assert instance.stopped and not instance.pool._idle and kept.sock is None, "a stopped instance's connection ends"
    assert served(on_app(client, "/x")).status_code == 200, "the next request starts the app again"


def test_the_bar_is_inserted_after_body_even_when_the_tag_is_split_across_chunks():
    from marketplace.gateway.bar import WithBar, bar_html, injectable

    closed = []

    class Body(list):
        def close(self):
            closed.append(True)

    bar = bar_html("http://p.example/", "a<b", "名<字>", "zh")
    assert b'href="http://p.example/services/apps/a&lt;b"' in bar and "名&lt;字&gt;".encode() in bar
    body = WithBar(Body([b"<html><head></head><bo", b"dy id=x>hi", b"</body></html>"]), b"[BAR]")
    assert b"".join(body) == b"<html><head></head><body id=x>[BAR]hi</body></html>"
    body.close()
    assert closed == [True], "closing the page closes the app's answer (and its lease)"
    assert b"".join(WithBar([b"<head></head><p>no body tag"], b"[BAR]")) == b"<head></head>[BAR]<p>no body tag"
    assert b"".join(WithBar([b"plain"], b"[BAR]")) == b"plain"
    assert not injectable(200, [("Content-Type", "text/html"), ("Content-Encoding", "gzip")])
    assert not injectable(302, [("Content-Type", "text/html")]) and injectable(200, [("content-type", "text/html")])


def test_without_a_gateway_session_the_app_is_not_reached(client, gw):
    response = on_app(client, "/")
    assert response.status_code == 401
    assert f"http://{APPS.split('.', 1)[1]}/apps/echo/launch" in response.get_data(as_text=True)
    client.set_cookie("__Host-govgw_session", "guessed", domain=f"echo.{APPS}")
    assert on_app(client, "/").status_code == 401


def test_app_sessions_end_when_idle_and_with_the_platform_logout(app, client, gw):
    """Issue 14, item 5: a gateway cookie is no longer good after GATEWAY_SESSION_IDLE_SECONDS without use, nor
    after the citizen logged out of the platform (a copy taken before included)."""
    from core.extensions import db
    from marketplace.gateway import services
    from marketplace.gateway.models import GatewaySession
    from marketplace.gateway.origin import HOST_COOKIE as COOKIE

    def cookie():
        return client.get_cookie(COOKIE, domain=f"echo.{APPS.split(':')[0]}").value

    def live(token, **kw):
        return services.gateway_session_get(gw["app_id"], token, idle_seconds=30 * 60, **kw) is not None

    assert app.config["GATEWAY_SESSION_IDLE_SECONDS"] == 30 * 60
    enter(client)
    idle = cookie()
    assert live(idle) and not live(idle, now=utcnow() + timedelta(minutes=30))
    row = db.session.scalar(sa.select(GatewaySession).order_by(GatewaySession.id.desc()))
    row.last_seen_at = utcnow() - timedelta(minutes=30)
    db.session.commit()
    assert on_app(client, "/").status_code == 401

    enter(client)
    copied = cookie()
    assert live(copied)
    assert on_app(client, "/").status_code == 200  # the session is now in the gateway's claims cache
    assert submit(client, "/", {}, action="/logout").status_code == 302
    assert not live(copied)
    thief = app.test_client()
    thief.set_cookie(COOKIE, copied, domain=f"echo.{APPS.split(':')[0]}")
    assert on_app(thief, "/").status_code == 401


def test_login_and_consent_come_before_the_app(app, client, gw):
    from flask import g

    from marketplace.identity import services as identity

    identity.consent_revoke(citizen_of(gw), gw["app_id"])
    response = launch(client)
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"/identity/consent/{gw['app_id']}")
    # A request without the CSRF token is refused.
    assert client.post("/apps/echo/launch").status_code == 400

    anonymous = app.test_client()
    # The test's app context outlives requests, and Flask-Login and Flask-WTF cache per context: start clean.
    g.pop("_login_user", None)
    g.pop("csrf_token", None)
    response = submit(anonymous, "/apps/echo/launch", {})
    assert response.status_code == 303 and "/identity/login" in response.headers["Location"]


def test_agreeing_to_share_goes_straight_into_the_app_two_taps_after_login(app, client, gw):
    from marketplace.identity import services as identity

    identity.consent_revoke(citizen_of(gw), gw["app_id"])
    first_tap = launch(client)
    consent_url = first_tap.headers["Location"]
    assert consent_url.startswith(f"/identity/consent/{gw['app_id']}?next=/apps/echo/launch")
    second_tap = submit(client, consent_url, {"fields": ["name"], "grant": "1"})
    assert second_tap.status_code == 307 and second_tap.headers["Location"] == "/apps/echo/launch", \
        "the consent POST is repeated at the launch address (same CSRF token), no third tap"
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(consent_url).get_data(as_text=True))
    opened = client.post("/apps/echo/launch", data={"csrf_token": token.group(1), "fields": ["name"], "grant": "1"})
    assert opened.status_code == 303 and urlsplit(opened.headers["Location"]).netloc == f"echo.{APPS}"
    elsewhere = submit(client, f"/identity/consent/{gw['app_id']}?next=/identity/my-data", {"fields": ["name"],
                                                                                           "grant": "1"})
    assert elsewhere.status_code == 302, "from My data the choice is only saved"


def test_unknown_and_unpublished_apps_get_a_friendly_404(app, client, gw):
    from core.extensions import db

    assert on_app(client, "/", slug="no-such-app").status_code == 404
    page = client.get("/", base_url=f"http://{APPS}")
    assert page.status_code == 404 and "找不到这个应用" in page.get_data(as_text=True)
    from marketplace.vendors.models import AppVersion

    enter(client)
    assert on_app(client, "/").status_code == 200  # the served app is now in the gateway's cache
    db.session.get(AppVersion, gw["version_id"]).suspended_at = utcnow()
    db.session.commit()
    response = on_app(client, "/")
    assert response.status_code == 404 and "App not found" in response.get_data(as_text=True)
    assert client.get("/apps/echo/launch").status_code == 404


def assert_caps_of_1000_and_200000_bytes(client) -> None:
    """With the gateway's caps at 1,000 request bytes and 200,000 response bytes: a body at the cap passes, one
    over it answers 413; a response over the cap is cut off (never a clean short body), one under it is whole."""
    assert on_app(client, "/", method="POST", data=b"x" * 999).json["body_bytes"] == 999
    assert on_app(client, "/", method="POST", data=b"x" * 1001).status_code == 413
    streamed = on_app(client, "/big?blocks=4", buffered=False)
    assert streamed.status_code == 200
    with pytest.raises(Exception, match="larger than 200000"):
        b"".join(streamed.response)
    streamed.close()
    assert len(on_app(client, "/big?blocks=2").data) == 2 * 65536


def test_request_and_response_sizes_are_capped(app, client, gw, monkeypatch):
    from marketplace.gateway.proxy import ProxyLimits

    enter(client)
    from marketplace.gateway import host_dispatch

    origin = host_dispatch(app).origin
    monkeypatch.setattr(origin, "limits", ProxyLimits(request_bytes=1000, response_bytes=200_000, timeout_seconds=10))
    assert_caps_of_1000_and_200000_bytes(client)


def test_department_calls_are_recorded_and_a_decision_completes_the_case(app, client, gw, ssc_ok):
    from core.audit import AuditEvent
    from core.extensions import db
    from marketplace.gateway.models import DepartmentCall
    from marketplace.identity import services as identity
    from marketplace.identity.models import AccessLogEntry
    from marketplace.transactions.models import Transaction

    declare_fields(gw, ["name"])
    identity.consent_grant(citizen_of(gw), gw["app_id"], ["name", "dept:name"])
    enter(client)
    resident_id = gw["resident_id"]
    person = on_app(client, f"/dept/persons/{resident_id}")
    assert person.status_code == 200 and person.json["resident_id"] == resident_id
    refused = on_app(client, f"/dept/persons/{resident_id}/licences")
    assert refused.status_code == 403 and refused.json["error"] == "scope_denied"
    decision = on_app(client, "/dept/applications/social-security-card", method="POST",
                      data=json.dumps(ssc_ok["application"]))
    assert decision.status_code == 201 and decision.json["decision"] == "accepted"
    # Outside the citizen's delegation: another (non-consenting) person's record — once because the citizen's request
    # named them, once read by the app on its own — and a call without the token.
    other = on_app(client, f"/dept/persons/{OTHER_RESIDENT_ID}")
    assert other.status_code == 403 and other.json["error"] == "not_delegated", other.json
    assert other.json["named_by_citizen"] is True
    assert not resident_id_is_valid(OTHER_RESIDENT_ID[::-1]), "the snooping request must not name the person"
    snooped = on_app(client, f"/snoop?{OTHER_RESIDENT_ID[::-1]}")
    assert snooped.status_code == 403 and snooped.json["error"] == "not_delegated", snooped.json
    assert "named_by_citizen" not in snooped.json
    bare = on_app(client, f"/dept/persons/{resident_id}nodelegation")
    assert bare.status_code == 401 and bare.json["error"] == "delegation_missing"

    calls = db.session.scalars(sa.select(DepartmentCall).where(DepartmentCall.app_id == gw["app_id"])
                               .order_by(DepartmentCall.id)).all()
    assert [(c.method, c.status, c.violation) for c in calls] == [("GET", 200, False), ("GET", 403, True),
                                                                  ("POST", 201, False), ("GET", 403, False),
                                                                  ("GET", 403, False), ("GET", 401, False)]
    # Only what the app read on its own counts towards suspension; what the citizen asked about is audited apart.
    refusals = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "gateway.department_delegation_refused").order_by(AuditEvent.id)).all()
    assert [(e.payload["refusal"], e.department_id is not None) for e in refusals] == [
        ("not_delegated", True), ("delegation_missing", True)]
    asked = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "gateway.department_representation_refused")).all()
    assert [(e.payload["refusal"], e.payload["named_by_citizen"]) for e in asked] == [("not_delegated", True)]
    assert all(OTHER_RESIDENT_ID not in json.dumps(e.payload) for e in [*refusals, *asked])
    assert calls[1].scope == "licence.read" and calls[2].case_number == decision.json["case_number"]
    assert all(c.citizen_ids == [gw["citizen_id"]] for c in calls if c.status < 400)
    violation = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "gateway.department_scope_violation"))
    assert violation is not None and violation.payload["scope"] == "licence.read"

    log = db.session.scalars(sa.select(AccessLogEntry).where(AccessLogEntry.user_id == gw["citizen_id"],
                                                             AccessLogEntry.via.like("% /%"))).all()
    assert {entry.via for entry in log} == {"GET /persons/{resident_id}", "POST /applications/social-security-card"}
    assert all(resident_id not in entry.via for entry in log)

    case = db.session.scalar(sa.select(Transaction).where(Transaction.citizen_id == gw["citizen_id"],
                                                          Transaction.app_id == gw["app_id"]))
    db.session.refresh(case)
    assert case.status == "submitted" and case.department_case_number == decision.json["case_number"]
    # The department accepts within half an hour and concludes within the item's time limit, on its own clock.
    from datetime import timedelta

    from core.time import utcnow
    from marketplace.gateway import instances

    department, case_id = instances.registry(app).instance("echo").dept, case.id
    department.tick(utcnow() + timedelta(hours=1))  # in this thread, as the department's clock thread does
    case = db.session.get(Transaction, case_id)
    assert case.status == "under_review" and case.accepted_at is not None
    department.tick(utcnow() + timedelta(days=30))
    db.session.expire_all()
    case = db.session.get(Transaction, case_id)
    assert case.status == "completed" and case.result.startswith("SSC")
    assert [e.kind for e in case.events] == ["started", "submitted", "accepted", "under_review", "completed"]


def test_a_consent_change_reaches_the_app_on_the_very_next_request(app, client, gw):
    from joserfc import jwt
    from joserfc.jwk import KeySet

    from marketplace.identity import keys
    from marketplace.identity import services as identity

    def claims_now():
        token = on_app(client, "/").json["headers"]["Authorization"].removeprefix("Bearer ")
        return token, jwt.decode(token, KeySet.import_key_set(keys.jwks())).claims

    enter(client)
    first, claims = claims_now()
    assert claims["name"] == gw["name"] and "phone" not in claims
    identity.consent_grant(citizen_of(gw), gw["app_id"], ["name", "phone"])
    second, claims = claims_now()
    assert second != first and claims["name"] == gw["name"] and "phone" in claims
    identity.consent_revoke(citizen_of(gw), gw["app_id"])
    third, claims = claims_now()
    assert third not in (first, second)
    assert not {"name", "phone", "resident_id"} & set(claims), "a revoked consent removes the claims at once"


def test_a_steady_proxied_request_reads_little_and_writes_nothing(app, client, gw):
    """The hot path: after the first request of a session, a request to the app reads and writes nothing in the
    database."""
    from core.extensions import db

    enter(client)
    assert on_app(client, "/").status_code == 200  # the first request mints the session's token
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE")):
            statements.append(statement)

    from core.extensions import cache

    backend = cache  # what the gateway calls (Flask-Caching's Cache): each call is one round trip to Redis
    calls: list[str] = []

    def counted(name):
        method = getattr(backend, name)

        def call(*args, **kwargs):
            calls.append(name)
            return method(*args, **kwargs)
        return call

    sa.event.listen(db.engine, "before_cursor_execute", record)
    delegations = []
    try:
        for name in ("get", "get_many", "set", "set_many", "add", "has", "delete"):
            setattr(backend, name, counted(name))
        for _ in range(3):
            response = on_app(client, "/")
            assert response.status_code == 200
            delegations.append(response.json["headers"]["X-Department-Token"])
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
        for name in ("get", "get_many", "set", "set_many", "add", "has", "delete"):
            backend.__dict__.pop(name, None)
    # Two cache round trips per request (the entries, then their generations: claims.reading_ahead), not six.
    assert calls == ["get_many", "get_many"] * 3, calls
    writes = [s for s in statements if not s.lstrip().upper().startswith("SELECT")]
    assert writes == [], f"a steady request wrote: {writes}"
    # No read at all: the app with its live version, the session, the citizen, the consent, the profile, the
    # delegation basis and the keys come from the shared cache (marketplace/gateway/claims.py), invalidated by
    # every change of their rows.
    assert statements == [], f"{len(statements) / 3:.1f} queries per request: {statements}"
    # ... and still a department token minted for each request (its own jti), for the citizen's resident ID.
    import jwt

    payloads = [jwt.decode(t, options={"verify_signature": False}) for t in delegations]
    assert len({p["jti"] for p in payloads}) == 3 and all(t for t in delegations)
    assert {(p["sub"], p["app"]) for p in payloads} == {(gw["resident_id"], f"app:{gw['app_id']}")}


def test_the_app_reads_exactly_the_consented_fields_and_a_withdrawal_blocks_the_next_read(app, client, gw):
    """Serving path: the department answers the app with exactly the three fields the citizen consented to (not the
    optional one they left unticked); after the citizen withdraws, the app's very next read is refused (403, audited
    for the department) and the old request's token no longer reads either."""
    from core.audit import AuditEvent
    from core.extensions import db
    from marketplace.identity import services as identity
    from marketplace.identity.models import AccessLogEntry

    declare_fields(gw, ["name", "phone", "address"], ["birth_date"])
    status = identity.consent_status(citizen_of(gw), gw["app_id"])
    assert status.state == "required" and {"dept:name", "dept:phone", "dept:address", "dept:birth_date"} <= set(
        status.requested)
    identity.consent_grant(citizen_of(gw), gw["app_id"], ["name", "dept:name", "dept:phone", "dept:address"])
    enter(client)
    resident_id = gw["resident_id"]
    assert on_app(client, "/").status_code == 200  # the instance is up: what follows times the read alone
    asked = utcnow()
    person = on_app(client, f"/dept/persons/{resident_id}")
    assert person.status_code == 200, person.json
    assert set(person.json) == {"resident_id", "name", "phone", "address"}
    # In the citizen's access log before the app had the answer (the department reports each call before it
    # replies), in plain language on My data.
    entry = db.session.scalar(sa.select(AccessLogEntry).where(AccessLogEntry.user_id == gw["citizen_id"],
                                                              AccessLogEntry.via == "GET /persons/{resident_id}"))
    assert entry is not None and set(entry.fields) == {"resident_id", "name", "phone", "address"}
    assert timedelta(0) <= entry.occurred_at - asked < timedelta(seconds=1)
    old_token = on_app(client, "/").json["headers"]["X-Department-Token"]

    identity.consent_revoke(citizen_of(gw), gw["app_id"])
    refused = on_app(client, f"/dept/persons/{resident_id}")
    assert refused.status_code == 403 and refused.json["error"] == "field_not_consented"
    replayed = on_app(client, f"/dept/persons/{resident_id}", headers={"X-Replay": old_token})  # a kept token
    assert replayed.status_code == 401 and replayed.json["error"] == "delegation_superseded"
    events = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "gateway.department_delegation_refused", AuditEvent.object_id == str(gw["app_id"]))).all()
    assert [e.payload["refusal"] for e in events][:1] == ["field_not_consented"]


def test_repeated_refusals_suspend_the_version_by_the_documented_rule(app, gw):
    """REFUSALS_TO_SUSPEND refusals within REFUSAL_WINDOW take the live version off the market (audited with the
    rule); one refusal fewer does not, refusals older than the window do not count, nor do not_represented ones."""
    from core.audit import AuditEvent
    from core.extensions import db
    from marketplace.gateway import services
    from marketplace.vendors.models import AppVersion

    benign = {"method": "GET", "path": "/businesses/91410320MA49M30274", "query": "", "status": 403,
              "refusal": "not_represented", "response": {"error": "not_represented", "detail": "not theirs"}}
    for _ in range(services.REFUSALS_TO_SUSPEND + 5):  # how a correct app learns the citizen is not the owner
        services.department_call_record(gw["app_id"], gw["version_id"], benign)
    assert db.session.get(AppVersion, gw["version_id"]).suspended_at is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "gateway.department_representation_refused")) == services.REFUSALS_TO_SUSPEND + 5

    # Whom the citizen's own request named: any number of these (a competitor typing strangers' ID numbers into
    # the app) never takes it off the market.
    asked = {"method": "GET", "path": f"/persons/{OTHER_RESIDENT_ID}", "query": "", "status": 403,
             "refusal": "not_delegated", "named": True,
             "response": {"error": "not_delegated", "detail": "another person", "named_by_citizen": True}}
    for _ in range(services.REFUSALS_TO_SUSPEND + 5):
        services.department_call_record(gw["app_id"], gw["version_id"], asked)
    assert db.session.get(AppVersion, gw["version_id"]).suspended_at is None

    refusal = {"method": "GET", "path": f"/persons/{OTHER_RESIDENT_ID}", "query": "", "status": 403,
               "refusal": "not_delegated", "response": {"error": "not_delegated", "detail": "another person"}}
    services.department_call_record(gw["app_id"], gw["version_id"], refusal)
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.action == "gateway.department_delegation_refused")
                       .values(occurred_at=utcnow() - services.REFUSAL_WINDOW - timedelta(minutes=1)))
    for _ in range(services.REFUSALS_TO_SUSPEND - 1):
        services.department_call_record(gw["app_id"], gw["version_id"], refusal)
    version = db.session.get(AppVersion, gw["version_id"])
    assert version.suspended_at is None, "an old refusal counted, or the rule fired one refusal early"
    services.department_call_record(gw["app_id"], gw["version_id"], refusal)
    db.session.refresh(version)
    assert version.suspended_at is not None and "not_delegated" in version.suspension_reason
    suspended = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "version.suspend",
                                                              AuditEvent.object_id == str(gw["version_id"])))
    assert suspended.payload["rule"] == "delegation_refusals" and suspended.department_id is not None
    assert OTHER_RESIDENT_ID not in json.dumps(suspended.payload)
