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


def test_failed_logins_are_rate_limited_per_account(app, person):
    from core.extensions import limiter

    limiter.reset()
    client = app.test_client()
    limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
    statuses = []
    for i in range(limit + 1):
        statuses.append(client.post("/login", data={"email": "officer@test.example.cn", "password": f"bad {i}xxxxxx",
                                                    "csrf_token": _csrf(client)},
                                    environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code)
    assert statuses[:limit] == [401] * limit
    assert statuses[limit] == 429
    # the right password is refused too while the account is throttled
    blocked = client.post("/login", data={"email": "officer@test.example.cn", "password": "correct horse battery",
                                          "csrf_token": _csrf(client)}, environ_base={"REMOTE_ADDR": "10.0.1.1"})
    assert blocked.status_code == 429
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
