"""Web sessions end when they should (issue 14, item 5): logging out ends every copy of the session cookie, and a
session expires after SESSION_IDLE_SECONDS without use and SESSION_MAX_SECONDS after its login. The clock is moved by
rewriting the session's own timestamps, as time passing would."""

from __future__ import annotations

import pytest

from marketplace.identity.personas import persona_list
from tests.marketplace.webpages import csrf_token, login, submit


def cookie_of(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def replay(app, value: str, path: str):
    """A request from another machine that copied the session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", value)
    return thief.get(path)


def logout(client):
    return client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def test_a_session_cookie_copied_before_logout_is_dead_after_it(app, world, client):
    login(client, "vendor_a")
    copied = cookie_of(client)
    assert replay(app, copied, "/account/clients").status_code == 200, "a copy works while the session lives"
    assert logout(client).status_code == 302
    assert replay(app, copied, "/account/clients").status_code == 401
    # Logging in again starts a new session; the old copy stays dead.
    login(client, "vendor_a")
    assert client.get("/account/clients").status_code == 200
    assert replay(app, copied, "/account/clients").status_code == 401


def test_a_citizen_session_copied_before_logout_is_dead_after_it(app, client):
    persona = persona_list()[0]
    assert submit(client, "/identity/personas", {"resident_id": persona.resident_id}).status_code == 302
    copied = cookie_of(client)
    assert replay(app, copied, "/identity/my-data").status_code == 200
    logout(client)
    assert replay(app, copied, "/identity/my-data").status_code == 401


def test_login_starts_a_new_session_rather_than_adopting_the_visitors(world, client):
    with client.session_transaction() as session:
        session["planted"] = "by a fixation attack"
    login(client, "vendor_a")
    with client.session_transaction() as session:
        assert "planted" not in session


def age(client, *, login_ago: int, seen_ago: int) -> None:
    with client.session_transaction() as session:
        now = session["seen_at"]
        session["login_at"], session["seen_at"] = now - login_ago, now - seen_ago


@pytest.mark.parametrize(("login_ago", "seen_ago", "alive"), [
    (0, 60 * 30 - 5, True),  # idle just under SESSION_IDLE_SECONDS
    (0, 60 * 30, False),  # idle for it
    (12 * 3600 - 5, 0, True),  # busy, just under SESSION_MAX_SECONDS
    (12 * 3600, 0, False),  # busy, but the login is that old
])
def test_sessions_expire_when_idle_and_at_their_absolute_lifetime(app, world, client, login_ago, seen_ago, alive):
    assert app.config["SESSION_IDLE_SECONDS"] == 30 * 60 and app.config["SESSION_MAX_SECONDS"] == 12 * 3600
    login(client, "vendor_a")
    age(client, login_ago=login_ago, seen_ago=seen_ago)
    assert client.get("/account/clients").status_code == (200 if alive else 401)


def test_use_keeps_a_session_alive(world, client):
    login(client, "vendor_a")
    age(client, login_ago=3600, seen_ago=60 * 29)
    assert client.get("/account/clients").status_code == 200
    with client.session_transaction() as session:
        login_at, seen_at = session["login_at"], session["seen_at"]
    assert seen_at - login_at >= 3600, "the request counted as use"
    age(client, login_ago=3600, seen_ago=60 * 29)
    assert client.get("/account/clients").status_code == 200


def test_a_session_from_before_the_lifetimes_or_forged_ids_are_anonymous(app, world, client):
    login(client, "vendor_a")
    with client.session_transaction() as session:
        user_id = session["_user_id"]
        del session["login_at"]
    assert client.get("/account/clients").status_code == 401
    login(client, "vendor_a")
    for forged in (user_id.split(":")[0], user_id + "9", "9999999999999999999:0", "x:y"):
        with client.session_transaction() as session:
            session["_user_id"] = forged
        assert client.get("/account/clients").status_code == 401
