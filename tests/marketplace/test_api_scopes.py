"""#14 items 1 and 2: what a bearer token may do is decided by the scopes declared once per operation.

Every operation of the URL map is called with a token holding every read scope there is (an admin's, so no
role rule stands in the way): each write must refuse it with 403 and an RFC 6750 insufficient_scope challenge
before anything is parsed or changed. API clients made through the API never hold more than the token asking."""

from __future__ import annotations

import re

import pytest

from core.auth import SAFE_METHODS, check_write_scopes, is_read_scope, required_scopes
from marketplace.accounts.scopes import ROLE_SCOPES, SCOPES
from tests.marketplace.conftest import issue_token

READ_SCOPES = sorted(s for s in SCOPES if is_read_scope(s))


def _api_operations(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule, required_scopes(view)


def _concrete(rule, world) -> str:
    values = {"code": "dept-a", "client_id": "no-such-client"}
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values.get(m.group(1), world.ids["version_a"])), rule.rule)


@pytest.fixture
def read_only_token(app, world):
    from core.extensions import db
    from marketplace.accounts.models import User

    return issue_token(world.client, db.session.get(User, world.ids["admin"]), READ_SCOPES)


def test_every_write_refuses_a_token_with_every_read_scope(app, world, read_only_token):
    writes = 0
    for method, rule, scopes in _api_operations(app):
        if method in SAFE_METHODS:
            continue
        writes += 1
        assert scopes and not any(is_read_scope(s) for s in scopes), f"{method} {rule.rule} requires {scopes}"
        response = world.client.open(_concrete(rule, world), method=method, json={},
                                     headers={"Authorization": f"Bearer {read_only_token}"})
        assert response.status_code == 403, (method, rule.rule, response.status_code, response.get_data(as_text=True))
        challenge = response.headers["WWW-Authenticate"]
        assert 'error="insufficient_scope"' in challenge, (method, rule.rule, challenge)
        assert response.mimetype == "application/problem+json"
    assert writes >= 30, f"only {writes} writes found in the URL map"


def test_the_same_token_still_reads(world, read_only_token):
    response = world.client.get("/api/orders", headers={"Authorization": f"Bearer {read_only_token}"})
    assert response.status_code == 200, response.json


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_write_declared_with_a_read_scope_stops_the_app_from_being_built(method):
    with pytest.raises(RuntimeError, match="changes state"):
        check_write_scopes(method, "/api/versions/<id>/publish", ("apps:read",))
    with pytest.raises(RuntimeError, match="changes state"):
        check_write_scopes(method, "/api/versions/<id>/publish", ("apps:write", "apps:read"))
    with pytest.raises(RuntimeError, match="changes state"):
        check_write_scopes(method, "/api/clients", ())
    check_write_scopes(method, "/api/versions/<id>/publish", ("apps:write", "versions:review"))
    check_write_scopes("GET", "/api/me", ())


def test_publish_and_recertify_need_a_write_scope(world, read_only_token):
    from core.extensions import db
    from marketplace.accounts.models import User

    vendor_read = issue_token(world.client, db.session.get(User, world.ids["vendor_a"]), ["apps:read"])
    for action in ("publish", "recertify"):
        response = world.client.post(f"/api/versions/{world.ids['version_a']}/{action}",
                                     headers={"Authorization": f"Bearer {vendor_read}"})
        assert response.status_code == 403, response.json
        assert 'scope="apps:write versions:review"' in response.headers["WWW-Authenticate"]
    # the vendor's full token gets past the scope check to the lifecycle rule (a fresh upload is not approved)
    response = world.call("vendor_a", "POST", f"/api/versions/{world.ids['version_a']}/publish")
    assert response.status_code == 409, response.json


def test_anonymous_callers_get_401_with_a_bearer_challenge_before_their_body_is_read(world):
    response = world.client.post("/api/orders", json={"nonsense": True})
    assert response.status_code == 401, response.json
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    response = world.client.get("/api/orders", headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_narrow_token_cannot_mint_a_broader_client(world):
    from core.extensions import db
    from marketplace.accounts.models import User

    narrow = issue_token(world.client, db.session.get(User, world.ids["vendor_a"]), ["orders:read", "clients:write"])
    headers = {"Authorization": f"Bearer {narrow}"}
    response = world.client.post("/api/clients", headers=headers,
                                 json={"name": "escalate", "scopes": ["apps:read", "apps:write", "feedback:write"]})
    assert response.status_code == 422, response.json
    assert set(response.json["errors"]["scopes"]) == {"apps:read", "apps:write", "feedback:write"}

    response = world.client.post("/api/clients", headers=headers, json={"name": "narrower", "scopes": ["orders:read"]})
    assert response.status_code == 201, response.json
    assert response.json["scopes"] == ["orders:read"]
    assert response.headers["Location"].endswith(f"/api/clients/{response.json['client_id']}")

    # a token holding only orders:read may not create clients at all
    reader = issue_token(world.client, db.session.get(User, world.ids["vendor_a"]), ["orders:read"])
    response = world.client.post("/api/clients", headers={"Authorization": f"Bearer {reader}"},
                                 json={"name": "x", "scopes": ["orders:read"]})
    assert response.status_code == 403


def test_clients_never_exceed_the_role_even_with_an_admin_sized_request(world):
    response = world.call("vendor_a", "POST", "/api/clients", json={"name": "ci", "scopes": ["billing:write"]})
    assert response.status_code == 422
    assert response.json["errors"]["scopes"] == ["billing:write"]
    assert "billing:write" not in ROLE_SCOPES["vendor_member"]


def test_clients_are_rotated_and_revoked_through_the_api(world):
    import base64

    made = world.call("vendor_a", "POST", "/api/clients", json={"name": "ci", "scopes": ["apps:read"]}).json
    old = made["client_secret"]

    def token_with(secret):
        basic = base64.b64encode(f"{made['client_id']}:{secret}".encode()).decode()
        return world.client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 headers={"Authorization": f"Basic {basic}"})

    assert token_with(old).status_code == 200
    rotated = world.call("vendor_a", "POST", f"/api/clients/{made['client_id']}/secret")
    assert rotated.status_code == 200, rotated.json
    assert rotated.json["client_secret"] != old
    assert token_with(old).status_code == 401
    token = token_with(rotated.json["client_secret"]).json["access_token"]
    assert world.client.get("/api/apps", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    # another vendor's member cannot see, rotate or revoke it
    for method, suffix in (("GET", ""), ("POST", "/secret"), ("DELETE", "")):
        assert world.call("vendor_b", method, f"/api/clients/{made['client_id']}{suffix}").status_code == 404

    assert world.call("vendor_a", "DELETE", f"/api/clients/{made['client_id']}").status_code == 204
    assert world.client.get("/api/apps", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert world.call("vendor_a", "GET", f"/api/clients/{made['client_id']}").json["revoked_at"] is not None
    assert world.call("vendor_a", "POST", f"/api/clients/{made['client_id']}/secret").status_code == 409


def test_the_token_endpoint_refuses_undecodable_basic_credentials(client):
    for credentials in ("jA==", "not base64!"):
        response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                               headers={"Authorization": f"Basic {credentials}"})
        assert response.status_code == 401, response.get_data(as_text=True)
        assert response.json["error"] == "invalid_client"
