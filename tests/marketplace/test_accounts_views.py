"""The login page and the API clients page (vendors need a client for `govapp login`)."""

from __future__ import annotations

import base64
import re

from tests.marketplace.webpages import PASSWORD, csrf_token, login, submit, text


def _token(client, client_id, secret):
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return client.post("/oauth/token", data={"grant_type": "client_credentials"},
                       headers={"Authorization": f"Basic {basic}"})


def test_wrong_password_shows_an_error_and_english_login_page(world, client):
    response = submit(client, "/login", {"email": "vendor_a@test.example.cn", "password": "wrong password!"})
    assert response.status_code == 401 and "邮箱或密码错误" in text(response)
    english = text(client.get("/login?lang=en"))
    assert "Log in" in english and 'autocomplete="current-password"' in english and '<label for="email">Email' in english


def test_login_returns_to_the_page_asked_for_but_never_to_another_site(world, client):
    token = csrf_token(client, "/login")
    ok = client.post("/login?next=/apps", data={"csrf_token": token, "email": "vendor_a@test.example.cn",
                                                "password": PASSWORD})
    assert ok.headers["Location"] == "/apps"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    token = csrf_token(client, "/login")
    evil = client.post("/login?next=//evil.example", data={"csrf_token": token, "email": "vendor_a@test.example.cn",
                                                           "password": PASSWORD})
    assert evil.headers["Location"] == "/work", "never another site: the vendor lands on their work queue"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    token = csrf_token(client, "/login")
    # The probe's payload (issue 14): a tab between the slashes, which browsers drop, made "//attacker…".
    tab = client.post("/login?next=%2F%09%2Fattacker.localhost%3A5055%2F", data={
        "csrf_token": token, "email": "vendor_a@test.example.cn", "password": PASSWORD})
    assert tab.headers["Location"] == "/work"


def test_vendor_creates_a_client_sees_the_secret_once_and_can_get_a_token(world, client):
    login(client, "vendor_a")
    page = text(client.get("/account/clients"))
    assert 'value="apps:write"' in page and 'value="billing:write"' not in page, "only the role's scopes"
    response = submit(client, "/account/clients", {"name": "CI upload", "scopes": ["apps:read", "apps:write"]})
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    created = text(response)
    client_id = re.search(r"--client-id ([\w-]+)", created).group(1)
    secret = re.search(r'<dt>客户端密钥</dt><dd><pre class="secret">([^<]+)</pre>', created).group(1)
    assert _token(client, client_id, secret).status_code == 200
    listing = text(client.get("/account/clients"))
    assert client_id in listing and secret not in listing, "the secret is shown only once"

    revoked = submit(client, "/account/clients", {}, action=f"/account/clients/{client_id}/revoke")
    assert revoked.status_code == 302
    assert "已吊销" in text(client.get("/account/clients"))
    assert _token(client, client_id, secret).status_code in {400, 401}


def test_bad_client_input_shows_errors_and_creates_nothing(world, client):
    login(client, "vendor_a")
    before = text(client.get("/account/clients")).count("<code>")
    no_scope = submit(client, "/account/clients", {"name": "CI"})
    assert no_scope.status_code == 422 and "请至少选择一个权限范围" in text(no_scope)
    forged = submit(client, "/account/clients", {"name": "CI", "scopes": ["billing:write"]})
    assert forged.status_code == 422 and 'id="scopes-error"' in text(forged)
    assert text(client.get("/account/clients")).count("<code>") == before


def test_citizens_and_strangers_have_no_clients_page(world, client):
    assert client.get("/account/clients").status_code == 401
    login(client, "citizen")
    assert client.get("/account/clients").status_code == 403


def test_nobody_revokes_someone_elses_client(world, client):
    from core.extensions import db
    from marketplace.accounts import services
    from marketplace.accounts.models import User

    other, _secret = services.client_create(db.session.get(User, world.ids["vendor_b"]), name="B's CI",
                                            scopes=["apps:read"])
    login(client, "vendor_a")
    response = submit(client, "/account/clients", {}, action=f"/account/clients/{other.client_id}/revoke")
    assert response.status_code == 404
    db.session.refresh(other)
    assert other.revoked_at is None
