"""OAuth 2 and OpenID Connect as an integrator meets them: a live instance (provider mode on) driven only by
libraries nobody here wrote — oauthlib/requests-oauthlib for the flows and error codes, PyJWT for ID tokens and
the JWKS — never by Authlib, which the server is built on.

Covers issue #22.4: invalid_scope, repeated and missing parameters, bounded lifetimes with rotating refresh
tokens, revocation (RFC 7009), a replayed code revoking what it issued, S256-only PKCE, every advertised client
authentication method, RS256 beside ES256, discovery and RFC 8414 metadata, and the address claim's format.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass

import jwt
import pytest
import requests
from oauthlib.oauth2 import BackendApplicationClient
from oauthlib.oauth2.rfc6749 import errors as oauth_errors
from oauthlib.oauth2.rfc6749.parameters import parse_token_response
from requests_oauthlib import OAuth2Session

from core.auth import SYSTEM
from tests.marketplace.test_identity_oidc import served

REDIRECT = "http://rp.example.cn/identity/federated/callback"
OIDC_SCOPE = "openid profile phone address resident_id"
API_SCOPES = ["apps:read", "feedback:read", "orders:read"]


@dataclass(frozen=True)
class Client:
    id: str
    secret: str


@dataclass(frozen=True)
class Provider:
    base: str
    meta: dict
    api: Client  # a vendor's CI: client credentials with API_SCOPES
    es256: Client  # relying parties, ID tokens signed ES256 (the default) / RS256
    rs256: Client
    citizen: requests.Session  # logged in on the provider as a mock persona
    persona: object
    app: object  # the served Flask app, to move a token's clock in its database

    def age(self, model, access_token: str, seconds: int) -> None:
        """Make a token ``seconds`` older, as if the clock had moved on."""
        from core.extensions import db

        with self.app.app_context():
            db.session.execute(db.update(model).where(model.access_token == access_token)
                               .values(issued_at=model.issued_at - seconds))
            db.session.commit()


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    import os

    from marketplace.accounts import services as accounts
    from marketplace.identity.oidc_provider import oidc_client_create
    from marketplace.identity.personas import persona_list
    from marketplace.vendors import services as vendors

    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # loopback HTTP: oauthlib insists on TLS otherwise
    with served(tmp_path_factory, "op", OIDC_PROVIDER=True) as (app, base):
        with app.app_context():
            vendor = vendors.vendor_create(SYSTEM, name="食安科技", credit_code="91310000MA1FL0001R")
            member = accounts.user_create(SYSTEM, email="ci@shian.example.cn", display_name="CI",
                                          role="vendor_member", vendor_id=vendor.id)
            api, api_secret = accounts.client_create(member, name="CI upload", scopes=API_SCOPES)
            es, es_secret = oidc_client_create(SYSTEM, name="RP ES256", redirect_uris=[REDIRECT])
            rs, rs_secret = oidc_client_create(SYSTEM, name="RP RS256", redirect_uris=[REDIRECT], id_token_alg="RS256")
            clients = (Client(api.client_id, api_secret), Client(es.client_id, es_secret),
                       Client(rs.client_id, rs_secret))
        persona = next(p for p in persona_list() if p.key == "food_ok")
        citizen = requests.Session()
        page = citizen.get(f"{base}/identity/personas", timeout=10)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        assert citizen.post(page.url, data={"csrf_token": csrf, "resident_id": persona.resident_id},
                            timeout=10).status_code == 200
        meta = requests.get(f"{base}/.well-known/openid-configuration", timeout=10).json()
        yield Provider(base, meta, *clients, citizen=citizen, persona=persona, app=app)
    os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)


# --- helpers: what an integrator's code does ---------------------------------------------------------------


def client_credentials(op: Provider, scope=None, *, post: bool = False) -> dict:
    session = OAuth2Session(client=BackendApplicationClient(client_id=op.api.id, scope=scope))
    return session.fetch_token(op.meta["token_endpoint"], client_id=op.api.id, client_secret=op.api.secret,
                               include_client_id=post)


def authorize(op: Provider, rp: Client, *, pkce: str | None = "S256", nonce: str = "") -> tuple[OAuth2Session, str]:
    """The citizen's browser at the authorization endpoint; returns the session and where it was sent back."""
    session = OAuth2Session(rp.id, redirect_uri=REDIRECT, scope=OIDC_SCOPE, pkce=pkce)
    url, _state = session.authorization_url(op.meta["authorization_endpoint"], nonce=nonce or secrets.token_urlsafe())
    answer = op.citizen.get(url, allow_redirects=False, timeout=10)
    return session, answer.headers.get("Location") or answer.text


def login(op: Provider, rp: Client, *, post: bool = False, nonce: str = "") -> dict:
    session, back = authorize(op, rp, nonce=nonce)
    return session.fetch_token(op.meta["token_endpoint"], authorization_response=back, client_secret=rp.secret,
                               include_client_id=post)


def userinfo(op: Provider, access_token: str) -> requests.Response:
    return requests.get(op.meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"},
                        timeout=10)


def revoke(op: Provider, client: Client, token: str, hint: str | None = None) -> requests.Response:
    return requests.post(op.meta["revocation_endpoint"], auth=(client.id, client.secret), timeout=10,
                         data={"token": token, **({"token_type_hint": hint} if hint else {})})


def verify_id_token(op: Provider, rp: Client, token: dict) -> tuple[dict, dict]:
    id_token = token["id_token"]
    key = jwt.PyJWKClient(op.meta["jwks_uri"]).get_signing_key_from_jwt(id_token)
    claims = jwt.decode(id_token, key, algorithms=op.meta["id_token_signing_alg_values_supported"],
                        audience=rp.id, issuer=op.meta["issuer"])
    header = jwt.get_unverified_header(id_token)
    digest = jwt.get_algorithm_by_name(header["alg"]).compute_hash_digest(token["access_token"].encode())
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()
    return header, claims


def token_error(response: requests.Response) -> str:
    """The error code oauthlib reads from this token-endpoint answer (it raises for every error response)."""
    with pytest.raises(oauth_errors.OAuth2Error) as caught:
        parse_token_response(response.text)
    return caught.value.error


# --- metadata ----------------------------------------------------------------------------------------------


def test_discovery_and_rfc8414_metadata_agree_and_advertise_what_works(provider):
    op = provider
    rfc8414 = requests.get(f"{op.base}/.well-known/oauth-authorization-server", timeout=10).json()
    assert rfc8414 == op.meta
    assert op.meta["issuer"] == op.base
    for required in ("authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
                     "subject_types_supported", "id_token_signing_alg_values_supported", "revocation_endpoint",
                     "userinfo_endpoint"):
        assert op.meta[required], required
    assert {"RS256", "ES256"} <= set(op.meta["id_token_signing_alg_values_supported"])
    assert op.meta["code_challenge_methods_supported"] == ["S256"]
    assert set(op.meta["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
    assert {"authorization_code", "refresh_token", "client_credentials"} <= set(op.meta["grant_types_supported"])
    assert set(API_SCOPES) | set(OIDC_SCOPE.split()) <= set(op.meta["scopes_supported"])
    algs = {key["alg"] for key in requests.get(op.meta["jwks_uri"], timeout=10).json()["keys"]}
    assert algs == {"ES256", "RS256"}


def test_default_instance_serves_rfc8414_metadata_without_openid_discovery(client):
    meta = client.get("/.well-known/oauth-authorization-server").json
    assert meta["token_endpoint"].endswith("/oauth/token") and meta["revocation_endpoint"].endswith("/oauth/revoke")
    assert meta["grant_types_supported"] == ["client_credentials"]
    assert "authorization_endpoint" not in meta and "client_secret_post" in meta["token_endpoint_auth_methods_supported"]
    assert client.get("/.well-known/openid-configuration").status_code == 404


# --- client credentials ------------------------------------------------------------------------------------


def test_client_credentials_grant_the_scope_asked_for_and_say_so(provider):
    for method in provider.meta["token_endpoint_auth_methods_supported"]:
        token = client_credentials(provider, ["orders:read"], post=method == "client_secret_post")
        assert token["scope"] == ["orders:read"] and 0 < token["expires_in"] <= 3600
    whole = client_credentials(provider)  # no scope: the whole registration, named in the response
    assert sorted(whole["scope"]) == API_SCOPES
    assert 0 < whole["expires_in"] <= 900  # feedback:read reads citizens' ratings and cases: minutes
    orders = requests.get(f"{provider.base}/api/orders", timeout=10,
                          headers={"Authorization": f"Bearer {whole['access_token']}"})
    assert orders.status_code == 200


@pytest.mark.parametrize("scope", [["apps:write"], ["orders:read", "billing:write"], ["no-such:scope"]])
def test_scope_outside_the_registration_or_unknown_is_invalid_scope(provider, scope):
    with pytest.raises(oauth_errors.InvalidScopeError):
        client_credentials(provider, scope)


@pytest.mark.parametrize("form", [
    [("grant_type", "client_credentials"), ("grant_type", "client_credentials")],
    [("grant_type", "client_credentials"), ("scope", "orders:read"), ("scope", "apps:read")],
    [("scope", "orders:read")],  # no grant_type
])
def test_repeated_or_missing_parameters_are_invalid_request(provider, form):
    answer = requests.post(provider.meta["token_endpoint"], data=form, auth=(provider.api.id, provider.api.secret),
                           timeout=10)
    assert answer.status_code == 400 and answer.headers["Cache-Control"] == "no-store"
    assert token_error(answer) == "invalid_request"


def test_client_authentication_is_only_what_is_advertised(provider):
    no_secret = requests.post(provider.meta["token_endpoint"], timeout=10,
                              data={"grant_type": "client_credentials", "client_id": provider.api.id})  # "none"
    assert no_secret.status_code == 401 and token_error(no_secret) == "invalid_client"
    wrong = requests.post(provider.meta["token_endpoint"], data={"grant_type": "client_credentials"}, timeout=10,
                          auth=(provider.api.id, "not-the-secret"))
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic")


def test_client_credentials_tokens_expire(provider):
    from marketplace.accounts.models import OAuth2Token

    token = client_credentials(provider, ["orders:read"])
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(f"{provider.base}/api/orders", headers=bearer, timeout=10).status_code == 200
    provider.age(OAuth2Token, token["access_token"], token["expires_in"] + 1)
    assert requests.get(f"{provider.base}/api/orders", headers=bearer, timeout=10).status_code == 401


def test_api_client_revokes_its_token(provider):
    token = client_credentials(provider)["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{provider.base}/api/orders", headers=bearer, timeout=10).status_code == 200
    assert revoke(provider, provider.api, token).status_code == 200
    assert requests.get(f"{provider.base}/api/orders", headers=bearer, timeout=10).status_code == 401
    # Another client cannot revoke it (nor learn whether it exists): RFC 7009 §2.1.
    other = client_credentials(provider)["access_token"]
    assert revoke(provider, provider.es256, other).status_code == 200  # a relying party's revocation: not found
    assert requests.get(f"{provider.base}/api/orders", headers={"Authorization": f"Bearer {other}"},
                        timeout=10).status_code == 200


# --- provider mode: authorization code ---------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_id_token_verifies_with_pyjwt_in_both_algorithms(provider, alg):
    rp = provider.es256 if alg == "ES256" else provider.rs256
    token = login(provider, rp, nonce=f"n-{alg}")
    header, claims = verify_id_token(provider, rp, token)
    assert header["alg"] == alg and claims["nonce"] == f"n-{alg}"
    assert claims["address"] == {"formatted": provider.persona.person["address"]}


def test_every_advertised_client_authentication_works_at_the_token_endpoint(provider):
    for method in provider.meta["token_endpoint_auth_methods_supported"]:
        token = login(provider, provider.es256, post=method == "client_secret_post")
        assert userinfo(provider, token["access_token"]).status_code == 200, method


def test_access_tokens_that_open_personal_data_live_minutes_and_refresh_rotates(provider):
    op, rp = provider, provider.es256
    token = login(op, rp)
    assert 0 < token["expires_in"] <= 300 and token["refresh_token"]
    info = userinfo(op, token["access_token"]).json()
    assert info["resident_id"] == op.persona.resident_id
    assert info["address"] == {"formatted": op.persona.person["address"]}

    session = OAuth2Session(rp.id, token=token)
    fresh = session.refresh_token(op.meta["token_endpoint"], auth=(rp.id, rp.secret))
    assert fresh["access_token"] != token["access_token"] and fresh["refresh_token"] != token["refresh_token"]
    assert 0 < fresh["expires_in"] <= 300
    assert userinfo(op, fresh["access_token"]).status_code == 200
    assert userinfo(op, token["access_token"]).status_code == 401  # the one it replaced
    with pytest.raises(oauth_errors.InvalidGrantError):  # a rotated refresh token is spent...
        session.refresh_token(op.meta["token_endpoint"], refresh_token=token["refresh_token"], auth=(rp.id, rp.secret))
    assert userinfo(op, fresh["access_token"]).status_code == 401  # ...and coming back, it ends the whole grant


def test_access_and_refresh_tokens_expire(provider):
    from marketplace.identity.models import OIDCToken
    from marketplace.identity.oidc_provider import REFRESH_TOKEN_TTL

    op, rp = provider, provider.es256
    token = login(op, rp)
    op.age(OIDCToken, token["access_token"], 301)
    assert userinfo(op, token["access_token"]).status_code == 401
    session = OAuth2Session(rp.id, token=token)
    assert session.refresh_token(op.meta["token_endpoint"], auth=(rp.id, rp.secret))["access_token"]
    token = login(op, rp)
    op.age(OIDCToken, token["access_token"], REFRESH_TOKEN_TTL + 1)
    with pytest.raises(oauth_errors.InvalidGrantError):
        OAuth2Session(rp.id, token=token).refresh_token(op.meta["token_endpoint"], auth=(rp.id, rp.secret))


def test_revocation_ends_the_access_and_the_refresh_token(provider):
    op, rp = provider, provider.rs256
    token = login(op, rp)
    assert revoke(op, rp, token["refresh_token"], hint="refresh_token").status_code == 200
    assert userinfo(op, token["access_token"]).status_code == 401
    with pytest.raises(oauth_errors.InvalidGrantError):
        OAuth2Session(rp.id, token=token).refresh_token(op.meta["token_endpoint"], auth=(rp.id, rp.secret))
    assert revoke(op, rp, "never-issued").status_code == 200  # RFC 7009 §2.2: unknown tokens too


def test_a_replayed_code_is_refused_and_revokes_the_tokens_it_issued(provider):
    op, rp = provider, provider.es256
    session, back = authorize(op, rp)
    token = session.fetch_token(op.meta["token_endpoint"], authorization_response=back, client_secret=rp.secret)
    assert userinfo(op, token["access_token"]).status_code == 200
    with pytest.raises(oauth_errors.InvalidGrantError):
        session.fetch_token(op.meta["token_endpoint"], authorization_response=back, client_secret=rp.secret)
    assert userinfo(op, token["access_token"]).status_code == 401
    with pytest.raises(oauth_errors.InvalidGrantError):
        OAuth2Session(rp.id, token=token).refresh_token(op.meta["token_endpoint"], auth=(rp.id, rp.secret))


@pytest.mark.parametrize("method", ["plain", None])  # None: a challenge without a method is plain (RFC 7636 §4.3)
def test_pkce_plain_is_refused_as_it_is_not_advertised(provider, method):
    session = OAuth2Session(provider.es256.id, redirect_uri=REDIRECT, scope=OIDC_SCOPE)
    url, _state = session.authorization_url(provider.meta["authorization_endpoint"], nonce=secrets.token_urlsafe(),
                                            code_challenge=secrets.token_urlsafe(43), code_challenge_method="plain")
    if method is None:  # oauthlib always names the method; drop it as a bare-challenge client would
        url = url.replace("&code_challenge_method=plain", "")
    assert ("code_challenge_method" in url) == (method == "plain") and "code_challenge=" in url
    answer = provider.citizen.get(url, allow_redirects=False, timeout=10)
    # The client and its redirect URI are known, so the error goes back to it (RFC 6749 §4.1.2.1), with its state.
    assert answer.status_code == 302 and answer.headers["Location"].startswith(REDIRECT)
    with pytest.raises(oauth_errors.OAuth2Error) as refused:
        session.fetch_token(provider.meta["token_endpoint"], authorization_response=answer.headers["Location"],
                            client_secret=provider.es256.secret)
    assert refused.value.error == "invalid_request" and "code=" not in answer.headers["Location"]


def test_authorization_errors_never_go_to_an_unregistered_address(provider):
    session = OAuth2Session(provider.es256.id, redirect_uri="https://attacker.example/cb", scope=OIDC_SCOPE)
    url, _state = session.authorization_url(provider.meta["authorization_endpoint"], nonce=secrets.token_urlsafe())
    answer = provider.citizen.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_used_codes_are_kept_while_their_tokens_can_live_then_removed(provider):
    from core.extensions import db
    from marketplace.identity.models import OIDCAuthorizationCode as Code
    from marketplace.identity.oidc_provider import REFRESH_TOKEN_TTL

    login(provider, provider.es256)
    with provider.app.app_context():
        kept = set(db.session.scalars(db.select(Code.id).where(Code.used_at.is_not(None))))
        assert kept  # recognised if replayed
        db.session.execute(db.update(Code).values(auth_time=Code.auth_time - REFRESH_TOKEN_TTL - 3601))
        db.session.commit()
    login(provider, provider.es256)
    with provider.app.app_context():
        assert not kept & set(db.session.scalars(db.select(Code.id)))
        db.session.remove()
