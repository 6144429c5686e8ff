"""In a real browser (Playwright driving Debian's chromium): a citizen logs in on the platform, clicks "use this
app", lands on the app's own origin through the gateway — and JavaScript there cannot read the platform's
session: it is not in document.cookie, and the platform's API does not accept the browser's credentials."""

from __future__ import annotations

import io

import pytest

from core.auth import SYSTEM
from core.time import utcnow
from tests.conftest import make_app, upgrade
from tests.live import free_port, served
from tests.marketplace.conftest import contract_doc, suite_doc
from tests.marketplace.test_gateway import ECHO_APP
from tests.services import launch_chromium, require_bwrap, require_chromium


@pytest.fixture
def platform(fresh_database_url, tmp_path):
    """The whole platform served by a real HTTP server on 127.0.0.1, with a published echo app 'echo'."""
    require_bwrap()
    port = free_port()
    app = make_app(fresh_database_url, tmp_path, APPS_DOMAIN=f"apps.localhost:{port}",
                   ISSUER=f"http://localhost:{port}", TESTING=False)
    upgrade(app)
    with app.app_context():
        resident_id = _seed(app)
    with served(app, port):
        yield {"url": f"http://localhost:{port}", "port": port, "resident_id": resident_id}


def _seed(app) -> str:
    from core.extensions import db
    from core.storage import FileBlobStore
    from marketplace.accounts import services as accounts
    from marketplace.catalogue import services as catalogue
    from marketplace.identity import personas
    from marketplace.identity import services as identity
    from marketplace.orders import services as orders
    from marketplace.vendors import services as vendors
    from marketplace.vendors.models import AppVersion
    from tests.marketplace.conftest import _uscc
    from tests.sandbox.conftest import make_bundle

    department = catalogue.department_create(SYSTEM, code="dept-gw", name="人社局")
    item = catalogue.service_item_create(SYSTEM, department_id=department.id, code="ssc", name="社保卡申领",
                                         time_limit_days=10)
    vendor = vendors.vendor_create(SYSTEM, name="Echo Co", credit_code=_uscc("91310000MA1FL0009"))
    member = accounts.user_create(SYSTEM, email="member@echo.example.cn", display_name="member",
                                  password="correct horse battery", role="vendor_member", vendor_id=vendor.id)
    order = orders.order_create(SYSTEM, service_item_id=item.id, slug="gw-order", title="Gateway order",
                                contract=contract_doc(), fee_per_transaction_fen=100, quarterly_budget_fen=100_000,
                                dept_scopes=["person.read"], citizen_scopes=["name"])
    orders.suite_add(SYSTEM, order.id, suite_doc("gw-order"))
    orders.order_publish(SYSTEM, order.id)
    echo = vendors.app_create(member, order_id=order.id, name="Echo", slug="echo")
    blob = FileBlobStore(app.config["BUNDLE_STORE"]).put_stream(
        io.BytesIO(make_bundle("echo:app", {"echo.py": ECHO_APP})), 10**8)
    db.session.add(AppVersion(app_id=echo.id, version="1.0.0", bundle_sha256=blob.sha256, bundle_size=blob.size,
                              approved_at=utcnow(), published_at=utcnow()))
    db.session.commit()
    persona = personas.persona_list()[0]
    citizen = identity.citizen_login_persona(persona.resident_id, settings=app.config)
    identity.consent_grant(citizen, echo.id, ["name"])
    return persona.resident_id


def test_app_pages_cannot_read_the_platform_session(platform):
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()
            page.goto(f"{platform['url']}/identity/personas?next=/apps/echo/launch")
            page.locator(f"form:has(input[value='{platform['resident_id']}']) button[type=submit]").click()
            page.wait_for_url("**/apps/echo/launch")
            platform_cookies = {c["name"]: c for c in page.context.cookies(platform["url"])}
            assert "session" in platform_cookies, "the citizen is logged in on the platform"
            page.locator("form[action='/apps/echo/launch'] button[type=submit]").click()
            app_origin = f"http://echo.apps.localhost:{platform['port']}"
            page.wait_for_url(f"{app_origin}/", timeout=60_000)
            # While the app starts, the gateway shows its "starting" page at this address; it reloads into the app.
            page.locator("#govmarket-starting").wait_for(state="detached", timeout=90_000)

            seen = page.evaluate("() => JSON.parse(document.body.innerText)")
            assert seen["headers"]["Authorization"].startswith("Bearer ")
            assert "session=" not in seen["headers"].get("Cookie", ""), "the app received the platform's cookie"

            visible = page.evaluate("() => document.cookie")
            assert "session=" not in visible and "govgw_session" not in visible
            api = page.evaluate("""async (url) => {
                try {
                    const r = await fetch(url, {credentials: "include"});
                    return {status: r.status, body: await r.text()};
                } catch (e) { return {error: String(e)}; }
            }""", f"{platform['url']}/api/identity/access-log")
            # Either the browser refuses to let the app read the platform's answer (CORS), or the platform
            # answers 401: its API takes bearer tokens only, never the session cookie.
            assert "error" in api or api["status"] == 401, api
            app_cookies = {c["name"]: c for c in page.context.cookies(app_origin)}
            assert "session" not in app_cookies
            gateway_cookie = app_cookies["__Host-govgw_session"]
            assert gateway_cookie["httpOnly"] and gateway_cookie["sameSite"] == "Lax" and gateway_cookie["secure"]
        finally:
            browser.close()


def test_a_sibling_app_cannot_toss_cookies_into_another_app(platform):
    """Issue 14, item 4: script on a sibling origin under the apps domain plants cookies for the whole domain. The
    gateway's "__Host-" cookie cannot be planted at all, a planted unprefixed one is ignored, and a planted copy of
    an app's own cookie makes the request a 400 that expires the copy, so the next load is the app's again."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()
            page.goto(f"{platform['url']}/identity/personas?next=/apps/echo/launch")
            page.locator(f"form:has(input[value='{platform['resident_id']}']) button[type=submit]").click()
            page.wait_for_url("**/apps/echo/launch")
            page.locator("form[action='/apps/echo/launch'] button[type=submit]").click()
            app_origin = f"http://echo.apps.localhost:{platform['port']}"
            page.wait_for_url(f"{app_origin}/", timeout=60_000)
            # While the app starts, the gateway shows its "starting" page at this address; it reloads into the app.
            page.locator("#govmarket-starting").wait_for(state="detached", timeout=90_000)
            page.evaluate("() => { document.cookie = 'pref=mine; path=/' }")  # the app's own cookie

            # A sibling origin (any other name under the apps domain) plants cookies for the whole domain.
            page.goto(f"http://sibling.apps.localhost:{platform['port']}/")
            page.evaluate("""() => {
                for (const name of ['__Host-govgw_session', 'govgw_session', 'pref'])
                    document.cookie = name + '=planted; domain=apps.localhost; path=/';
            }""")
            planted = {c["name"] for c in page.context.cookies(app_origin) if c["value"] == "planted"}
            assert planted == {"govgw_session", "pref"}, "the browser refuses a __Host- cookie with a Domain"

            tossed = page.goto(f"{app_origin}/")
            assert tossed.status == 400 and "pref" in page.inner_text("body")
            left = {(c["name"], c["value"]) for c in page.context.cookies(app_origin)}
            assert ("pref", "planted") not in left and ("pref", "mine") in left, left

            again = page.goto(f"{app_origin}/")
            assert again.status == 200, "the real gateway session still works: the planted one was ignored"
            seen = page.evaluate("() => JSON.parse(document.body.innerText)")
            cookie = seen["headers"].get("Cookie", "")
            assert "pref=mine" in cookie and "planted" not in cookie and "govgw_session" not in cookie
        finally:
            browser.close()
