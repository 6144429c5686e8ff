"""Web login and logout, CSRF, failed-login rate limits; user and client rules."""

from __future__ import annotations

import re

import pytest

from core.auth import SYSTEM
from core.errors import Conflict, Forbidden, ValidationError


def _csrf(client, path="/login"):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


@pytest.fixture
def person(app):
    from marketplace.accounts import services

    return services.user_create(SYSTEM, email="Officer@Test.example.cn", display_name="Officer",
                                role="auditor", password="correct horse battery")


def test_login_and_logout(client, person):
    token = _csrf(client)
    response = client.post("/login", data={"email": "officer@test.example.cn", "password": "correct horse battery",
                                           "csrf_token": token})
    assert response.status_code == 302
    assert "Officer" in client.get("/").get_data(as_text=True)
    logout = client.post("/logout", data={"csrf_token": _csrf(client)})
    assert logout.status_code == 302
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_login_without_csrf_token_is_refused(client, person):
    response = client.post("/login", data={"email": "officer@test.example.cn", "password": "correct horse battery"})
    assert response.status_code == 400
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_wrong_password_says_so_without_revealing_which(client, person):
    wrong_pw = client.post("/login", data={"email": "officer@test.example.cn", "password": "nope nope nope",
                                           "csrf_token": _csrf(client)})
    no_user = client.post("/login", data={"email": "ghost@test.example.cn", "password": "nope nope nope",
                                          "csrf_token": _csrf(client)})
    assert wrong_pw.status_code == no_user.status_code == 401
    assert "wrong" in wrong_pw.get_data(as_text=True).lower() or "错误" in wrong_pw.get_data(as_text=True)


class Clock:
    """time.time() moved by the test (the session stamps, the login delay and the limiter's storage all read it)."""

    def __init__(self, monkeypatch):
        import time

        self.now = time.time()
        monkeypatch.setattr(time, "time", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _attempt(client, password: str, address: str):
    return client.post("/login", data={"email": "officer@test.example.cn", "password": password,
                                       "csrf_token": _csrf(client)}, environ_base={"REMOTE_ADDR": address})


def test_failed_logins_slow_an_account_down_progressively_but_never_lock_it(app, person, monkeypatch):
    """Issue 14, item 6: from ever new addresses (so the per-address limit never applies), three failures are
    free, then each makes the account wait 1, 2, 4 … seconds, at most 60; after the wait a try is a try again."""
    from core.extensions import limiter

    limiter.reset()
    clock = Clock(monkeypatch)
    attacker = app.test_client()
    assert [_attempt(attacker, f"bad {i}xxxxxx", f"10.0.0.{i}").status_code for i in range(4)] == [401] * 4
    waits = []
    for i in range(12):
        refused = _attempt(attacker, "correct horse battery", f"10.0.1.{i}")
        assert refused.status_code == 429, "even the right password waits: the delay must not tell which is right"
        assert "秒后再试" in refused.get_data(as_text=True)
        waits.append(int(refused.headers["Retry-After"]))
        clock.advance(waits[-1])
        assert _attempt(attacker, f"bad again {i}x", f"10.0.2.{i}").status_code == 401
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60], "doubling, capped at a minute: never a lock"
    clock.advance(60)
    assert _attempt(attacker, "correct horse battery", "10.0.3.1").status_code == 302
    limiter.reset()


def test_the_owners_browser_is_not_kept_waiting_by_others_failures(app, person, monkeypatch):
    from core.extensions import limiter

    limiter.reset()
    Clock(monkeypatch)
    owner = app.test_client()
    assert _attempt(owner, "correct horse battery", "192.0.2.1").status_code == 302  # the device becomes known
    owner.post("/logout", data={"csrf_token": _csrf(owner)})
    attacker = app.test_client()
    for i in range(10):
        _attempt(attacker, f"bad {i}xxxxxx", f"10.0.0.{i}")
    assert _attempt(attacker, "correct horse battery", "10.0.9.9").status_code == 429
    assert _attempt(owner, "correct horse battery", "192.0.2.1").status_code == 302
    # A forged known-device cookie is ignored.
    attacker.set_cookie("known_device", "forged")
    assert _attempt(attacker, "correct horse battery", "10.0.9.10").status_code == 429
    limiter.reset()


def test_successful_logins_do_not_count_against_the_limit(app, person):
    from core.extensions import limiter

    limiter.reset()
    client = app.test_client()
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    for _ in range(limit + 2):
        response = client.post("/login", data={"email": "officer@test.example.cn",
                                               "password": "correct horse battery", "csrf_token": _csrf(client)})
        assert response.status_code == 302
    limiter.reset()


def test_login_redirect_stays_on_site(client, person):
    response = client.post("/login?next=//evil.example.com/x", data={
        "email": "officer@test.example.cn", "password": "correct horse battery", "csrf_token": _csrf(client)})
    assert response.status_code == 302
    assert "evil" not in response.headers["Location"]


def test_passwords_are_hashed_with_argon2(person):
    assert person.password_hash.startswith("$argon2id$")
    assert "correct horse" not in person.password_hash


def test_user_rules(app, world):
    from marketplace.accounts import services

    with pytest.raises(ValidationError, match="department staff must belong"):
        services.user_create(SYSTEM, email="a@b.cn", display_name="A", role="department_staff",
                             password="long enough pw")
    with pytest.raises(ValidationError, match="only vendor members"):
        services.user_create(SYSTEM, email="a@b.cn", display_name="A", role="finance", password="long enough pw",
                             vendor_id=world.ids["org_a"])
    with pytest.raises(ValidationError, match="check character"):
        services.user_create(SYSTEM, email="c@b.cn", display_name="C", role="citizen", password="long enough pw",
                             resident_id="110105199003074570")
    with pytest.raises(Conflict, match="already exists"):
        services.user_create(SYSTEM, email="ADMIN@test.example.cn", display_name="Dup", role="admin",
                             password="long enough pw")


def test_clients_cannot_exceed_the_role(world):
    from core.extensions import db
    from marketplace.accounts import services
    from marketplace.accounts.models import User

    vendor = db.session.get(User, world.ids["vendor_a"])
    with pytest.raises(ValidationError, match="may not hold orders:write"):
        services.client_create(vendor, name="ci", scopes=["apps:write", "orders:write"])
    citizen = db.session.get(User, world.ids["citizen"])
    with pytest.raises(Forbidden):
        services.client_create(citizen, name="mine", scopes=["orders:read"])
