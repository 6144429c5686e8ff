"""Behind a reverse proxy (GOVMARKET_TRUSTED_PROXY_HOPS): the per-address login limit, the address the rating
signals see and the scheme are the real client's; a client's own X-Forwarded-For never chooses its address."""

from __future__ import annotations

import re

import pytest
from flask import request

from tests.conftest import make_app, upgrade

PROXY = "10.9.0.2"  # the reverse proxy: every request reaches the web from it


@pytest.fixture
def behind_proxy(fresh_database_url, tmp_path):
    def make(hops: int):
        app = make_app(fresh_database_url, tmp_path / f"hops{hops}", TRUSTED_PROXY_HOPS=hops,
                       LOGIN_RATE_LIMIT="3 per minute")
        upgrade(app)

        @app.get("/_test/seen")
        def seen():
            return {"remote_addr": request.remote_addr, "scheme": request.scheme, "host": request.host}

        return app
    return make


def failed_login(client, forwarded_for: str | None, n: int) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    page = client.get("/login", headers=headers, environ_base={"REMOTE_ADDR": PROXY}).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"email": f"nobody{n}@example.cn", "password": "wrong wrong wrong",
                                       "csrf_token": token}, headers=headers,
                       environ_base={"REMOTE_ADDR": PROXY}).status_code


def test_one_trusted_hop_limits_each_client_on_its_own(behind_proxy):
    from core.extensions import limiter

    app = behind_proxy(1)
    client = app.test_client()
    limiter.reset()
    try:
        # Client A fails three times with three different accounts: A is limited ...
        assert [failed_login(client, "203.0.113.7", n) for n in range(4)] == [401, 401, 401, 429]
        # ... and B, behind the same proxy, is not.
        assert failed_login(client, "198.51.100.9", 9) == 401
        # A planting its own X-Forwarded-For in front gains nothing: one hop is trusted, counted from the right.
        assert failed_login(client, "198.51.100.77, 203.0.113.7", 10) == 429
    finally:
        limiter.reset()

    seen = client.get("/_test/seen", headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.7",
                                               "X-Forwarded-Proto": "https", "X-Forwarded-Host": "gov.example.cn"},
                      environ_base={"REMOTE_ADDR": PROXY}).get_json()
    assert seen == {"remote_addr": "203.0.113.7", "scheme": "https", "host": "gov.example.cn"}


def test_no_trusted_hop_ignores_forwarding_headers(behind_proxy):
    """Reached directly (the default), a forwarding header is the client's own claim and is ignored."""
    from core.extensions import limiter

    app = behind_proxy(0)
    client = app.test_client()
    limiter.reset()
    try:
        assert [failed_login(client, f"203.0.113.{n}", n) for n in range(4)] == [401, 401, 401, 429]
    finally:
        limiter.reset()
    seen = client.get("/_test/seen", headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
                      environ_base={"REMOTE_ADDR": PROXY}).get_json()
    assert seen["remote_addr"] == PROXY and seen["scheme"] == "http"


def test_rating_device_signal_sees_the_real_client(behind_proxy):
    """The rating form fingerprints the device from ``request.remote_addr`` (the client's network): behind the
    proxy, citizens on two networks are two devices, not one."""
    from marketplace.ratings.services import device_fingerprint

    def fingerprint(app, client_address: str) -> str:
        seen = app.test_client().get("/_test/seen", headers={"X-Forwarded-For": client_address},
                                     environ_base={"REMOTE_ADDR": PROXY}).get_json()
        return device_fingerprint("UA", seen["remote_addr"])

    trusted = behind_proxy(1)
    assert fingerprint(trusted, "203.0.113.7") != fingerprint(trusted, "198.51.100.9")
    assert fingerprint(trusted, "203.0.113.7") == fingerprint(trusted, "203.0.113.99")  # one /24: one network
    untrusted = behind_proxy(0)
    assert fingerprint(untrusted, "203.0.113.7") == fingerprint(untrusted, "198.51.100.9")  # all look like the proxy


def test_a_negative_hop_count_is_refused(fresh_database_url, tmp_path):
    with pytest.raises(RuntimeError, match="TRUSTED_PROXY_HOPS must be 0 or more"):
        make_app(fresh_database_url, tmp_path, TRUSTED_PROXY_HOPS=-1)
