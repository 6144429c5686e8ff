"""Stored XSS: every free-text field one user types and other users see holds a script payload, and every page
that shows it must render it as text.

The payload carries a marker (``Zq``) so a page that shows it can be told apart from one that does not: where
the text is shown it must appear escaped, its script and image tags never as markup, and the template syntax
``{{7*7}}`` never evaluated to 49. One real browser then loads the pages with the payloads and confirms that no
injected script runs: ``window.__xss`` stays undefined and no dialog opens."""

from __future__ import annotations

import re

import pytest

from tests.hostile.conftest import stock
from tests.marketplace.webpages import PASSWORD, submit, text
from tests.services import launch_chromium

PAYLOAD = ("Zq<script>window.__xss=1</script>\"><img src=x onerror=\"window.__xss=2\">"
           "{{7*7}}' OR 1=1 -- javascript:x")  # fits a 120-character column
ESCAPED = "Zq&lt;script&gt;window.__xss=1&lt;/script&gt;"
FORBIDDEN = ("<script>window.__xss", "<img src=x onerror", "Zq49")  # markup, or the template evaluated


@pytest.fixture
def stocked(world, market):
    return stock(world, market, PAYLOAD)


def pages(stocked, world) -> dict[str, list[tuple[str, bool]]]:
    """Per viewer, the pages to look at and whether the payload must be on them (False: may or may not be)."""
    i = stocked.ids
    return {
        "anonymous": [("/services", False), (f"/services/search?q={PAYLOAD[:20]}", False),
                      (f"/services/items/{i['item_code']}", True), (f"/services/apps/{i['app_slug']}", True),
                      ("/departments", True), (f"/departments/{i['department_code']}", True)],
        "vendor_a": [("/orders", True), (f"/orders/{i['order']}", True), (f"/orders/{i['order']}/suite", True),
                     ("/apps", True), (f"/apps/{i['app']}", True), ("/feedback", True),
                     (f"/feedback/complaints/{i['complaint']}", True), ("/account/clients", True)],
        "staff_a": [("/orders", True), (f"/orders/{i['order']}", True), (f"/orders/{i['order']}/suite", True),
                    ("/feedback", True), (f"/feedback/complaints/{i['complaint']}", True), ("/analytics", False)],
        "admin": [("/audit", True), ("/orders", True), ("/apps", True)],
        "citizen": [(f"/services/apps/{i['app_slug']}", True), ("/identity/my-data", False)],
    }


def _login(client, email: str):
    response = submit(client, "/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, " ".join(re.sub(r"<[^>]+>", " ", text(response)).split())[-400:]


def _client_for(app, who: str):
    from flask import g

    # The test's app context outlives requests, and Flask-WTF caches the CSRF token on g: a new client must
    # not reuse the previous client's token (it would never get a session holding it).
    g.pop("csrf_token", None)
    client = app.test_client()
    if who != "anonymous":
        _login(client, f"{who}@test.example.cn")
    return client


def test_every_page_renders_stored_payloads_as_text(app, world, stocked):
    shown = 0
    for who, urls in pages(stocked, world).items():
        client = _client_for(app, who)
        for url, must_show in urls:
            response = client.get(url)
            assert response.status_code == 200, (who, url, response.status_code)
            html = text(response)
            for bad in FORBIDDEN:
                assert bad not in html, f"{url} as {who} renders {bad!r} unescaped"
            if must_show:
                assert ESCAPED in html, f"{url} as {who} should show the stored text (escaped)"
                assert "{{7*7}}" in html, f"{url} as {who} shows the template syntax altered"
                shown += 1
    assert shown >= 15


def test_api_returns_stored_payloads_verbatim_as_json(world, stocked):
    """The API is JSON: it gives the text back unchanged (escaping is the page's job) with a JSON content type,
    so a browser never renders it as HTML."""
    i = stocked.ids
    for who, url, pick in [
        ("vendor_a", f"/api/orders/{i['order']}", lambda body: body["title"]),
        ("vendor_a", f"/api/orders/{i['order']}/questions", lambda body: body[0]["text"]),
        ("vendor_a", f"/api/apps/{i['app']}", lambda body: body["name"]),
        ("anonymous", f"/api/departments/{i['department_code']}", lambda body: body["name"]),
    ]:
        response = world.call(who, "GET", url)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:300])
        assert response.mimetype == "application/json"
        assert pick(response.json) == PAYLOAD


@pytest.mark.browser
def test_no_injected_script_runs_in_a_real_browser(app, world, stocked):
    """Chromium loads the pages (and everything they load) from the app through the test client, so the
    browser sees the platform's real responses, headers included, without a server thread."""
    from playwright.sync_api import sync_playwright

    base = "http://market.test"
    client = app.test_client()

    def serve(route):
        request = route.request
        if not request.url.startswith(base + "/"):
            route.abort()
            return
        response = client.open(request.url.removeprefix(base), method=request.method,
                               headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
                               data=request.post_data_buffer)
        route.fulfill(status=response.status_code, headers=dict(response.headers), body=response.get_data())

    i = stocked.ids
    urls = [f"/services/apps/{i['app_slug']}", f"/services/items/{i['item_code']}",
            f"/departments/{i['department_code']}"]
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            page.route("**/*", serve)
            dialogs = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            for url in urls:
                page.goto(base + url)
                page.wait_for_load_state("load")
                assert page.get_by_text("Zq<script>", exact=False).count() >= 1, f"{url} does not show the text"
                assert page.evaluate("typeof window.__xss") == "undefined", f"an injected script ran on {url}"
            assert dialogs == []
        finally:
            browser.close()


@pytest.mark.parametrize("url", ["/", "/login", "/services", "/departments", "/api/openapi.json", "/api/orders",
                                 "/no-such-page"])
def test_platform_responses_carry_security_headers(client, url):
    response = client.get(url)
    csp = response.headers.get("Content-Security-Policy", "")
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    assert directives.get("script-src") == "'self'", csp  # no inline or outside scripts, hence no injected ones
    assert directives.get("frame-ancestors") == "'none'" and directives.get("object-src") == "'none'", csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin"
    assert response.headers.get("X-Frame-Options") == "DENY"


def test_swagger_ui_gets_only_its_own_inline_script_allowed(client):
    response = client.get("/api/docs")
    script_src = next(part for part in response.headers["Content-Security-Policy"].split(";")
                      if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src
    assert script_src.count("'sha256-") == text(response).count("<script>") == 1


@pytest.mark.browser
def test_swagger_ui_still_works_under_the_policy(app, client):
    """The API documentation renders its operations in chromium with the headers the platform sends."""
    from playwright.sync_api import sync_playwright

    base = "http://market.test"

    def serve(route):
        if not route.request.url.startswith(base + "/"):
            route.abort()
            return
        response = client.get(route.request.url.removeprefix(base))
        route.fulfill(status=response.status_code, headers=dict(response.headers), body=response.get_data())

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            violations = []
            page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
            page.route("**/*", serve)
            page.goto(base + "/api/docs")
            page.locator(".opblock-summary-path", has_text="/api/orders/{order_id}").first.wait_for(timeout=15_000)
            assert violations == []
        finally:
            browser.close()
