"""Cookie tossing (issue 14, item 4): a request naming a cookie twice is refused on the platform and on app origins,
and the platform's cookies carry the "__Host-" prefix over https. The real browser check is
test_gateway_browser.py::test_a_sibling_app_cannot_toss_cookies_into_another_app."""

from __future__ import annotations

import pytest

from core.config import load_config
from marketplace.request_guards import expiring_cookies, parent_domains


@pytest.fixture
def client(app):
    """A client that sends the Cookie header as given (the usual one replaces it with its own cookie jar)."""
    return app.test_client(use_cookies=False)


def test_a_duplicated_cookie_name_is_a_400_that_expires_the_parent_domains_copy(client):
    page = client.get("/orders", base_url="http://www.gov.localhost", headers={"Cookie": "lang=en; session=a; lang=zh_CN"})
    assert page.status_code == 400 and "lang" in page.get_data(as_text=True)
    expired = page.headers.getlist("Set-Cookie")
    assert expired and all("Max-Age=0" in c and c.startswith("lang=") and "Domain=gov.localhost" in c for c in expired)

    api = client.get("/api/orders", headers={"Cookie": "x=1; x=2"})
    assert api.status_code == 400 and api.mimetype == "application/problem+json"
    assert api.json["code"] == "duplicate_cookie" and "x" in api.json["detail"]

    app_origin = client.get("/", base_url="http://echo.apps.localhost:5000", headers={"Cookie": "pref=a; pref=b"})
    assert app_origin.status_code == 400
    assert any("Domain=apps.localhost" in c for c in app_origin.headers.getlist("Set-Cookie"))


def test_distinct_cookies_pass(client):
    assert client.get("/", headers={"Cookie": "lang=en; other=1"}).status_code == 200


def test_the_expired_copies_cover_every_parent_domain_and_path_above_the_request():
    assert parent_domains("a.apps.gov.cn") == ["apps.gov.cn", "gov.cn"]
    assert parent_domains("echo.apps.localhost:5000") == ["apps.localhost"]
    assert parent_domains("localhost:5000") == parent_domains("127.0.0.1") == parent_domains("[::1]:80") == []
    cookies = expiring_cookies(["pref", "__Host-gw"], "echo.apps.localhost", "/a/b")
    assert sorted(c.split("Path=")[1] for c in cookies) == ["/", "/a", "/a/b"]
    assert all("Domain=apps.localhost" in c for c in cookies)


def test_the_session_cookie_is_host_prefixed_over_https(tmp_path, monkeypatch):
    monkeypatch.setenv("GOVMARKET_ENV", "production")
    monkeypatch.setenv("GOVMARKET_SECRET_KEY", "x" * 32)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    production = load_config(str(tmp_path))
    assert production["SESSION_COOKIE_NAME"] == "__Host-session" and production["SESSION_COOKIE_SECURE"]
    monkeypatch.setenv("GOVMARKET_ENV", "development")
    assert load_config(str(tmp_path))["SESSION_COOKIE_NAME"] == "session"
