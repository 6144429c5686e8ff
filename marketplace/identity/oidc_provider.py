"""The optional OpenID Connect provider (GOVMARKET_OIDC_PROVIDER=1): this instance's citizens can log in to
relying parties — e.g. another instance of the platform — with the authorization-code flow (PKCE S256
supported, ``plain`` refused), ID tokens signed with the platform's key (ES256, or RS256 for relying parties
registered for it), access tokens of minutes with rotating refresh tokens, revocation (RFC 7009) through the
instance's one token and revocation endpoints (``/oauth/token``, ``/oauth/revoke``), discovery and JWKS.

Relying parties are registered by an operator (``govmarket identity oidc-client-add``) and trusted, so the
citizen is not asked a second time what to share: the claims are those of the scopes the client may use.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import sqlalchemy as sa
from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode, UserInfo, UserInfoEndpoint
from flask import Blueprint, Flask, abort, current_app, g, jsonify, redirect, request, url_for

from core import audit
from core.auth import web_actor
from core.errors import Forbidden, ValidationError
from core.extensions import csrf, db
from core.roles import Role
from core.time import utcnow
from marketplace.accounts import oauth
from marketplace.accounts.models import CLIENT_AUTH_METHODS, User
from marketplace.accounts.passwords import hash_secret
from marketplace.identity import authz, keys
from marketplace.identity.models import OIDCAuthorizationCode, OIDCClient, OIDCToken
from marketplace.identity.services import citizen_claims, pairwise_subject

SCOPES = ("openid", "profile", "phone", "address", "resident_id")
CLAIMS = ("sub", "name", "birthdate", "gender", "phone_number", "address", "resident_id")
ID_TOKEN_TTL = 300
# Access tokens open userinfo (resident ID, phone, address): minutes, renewed with the refresh token, which
# rotates at each use and ends with the working day.
ACCESS_TOKEN_TTL = 300
REFRESH_TOKEN_TTL = 8 * 3600
PREFIX = "/identity/provider"

bp = Blueprint("identity_provider", __name__, url_prefix=PREFIX)


# --- Use cases ---------------------------------------------------------------------------------------------


def oidc_client_create(actor, *, name: str, redirect_uris: list[str],
                       id_token_alg: str = keys.ALGORITHM) -> tuple[OIDCClient, str]:
    """Register a relying party, its ID tokens signed with ``id_token_alg`` (ES256 or RS256). Admins only.
    Returns the client and its secret (shown once, stored hashed)."""
    authz.oidc_client_create(actor)
    if id_token_alg not in keys.ALGORITHMS:
        raise ValidationError(f"ID tokens can be signed with {' or '.join(keys.ALGORITHMS)}, not {id_token_alg!r}",
                              errors={"id_token_alg": id_token_alg})

    uris = [u.strip() for u in redirect_uris if u and u.strip()]
    bad = [u for u in uris if not u.startswith(("https://", "http://"))]
    if not (name or "").strip() or not uris or bad:
        raise ValidationError("give the relying party a name and at least one absolute http(s) redirect URI"
                              + (f"; not absolute: {', '.join(bad)}" if bad else ""),
                              errors={"redirect_uris": bad or "missing"})
    secret = secrets.token_urlsafe(32)
    client = OIDCClient(client_id=secrets.token_urlsafe(16), client_secret=hash_secret(secret),
                        client_id_issued_at=int(time.time()))
    client.set_client_metadata({"client_name": name.strip(), "redirect_uris": uris, "scope": " ".join(SCOPES),
                                "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                                "token_endpoint_auth_method": "client_secret_basic",
                                "id_token_signed_response_alg": id_token_alg})
    db.session.add(client)
    db.session.flush()
    audit.record(actor, "oidc_client.create", "oidc_client", client.client_id,
                 {"name": name, "redirect_uris": uris, "id_token_alg": id_token_alg})
    db.session.commit()
    return client, secret


def user_info(user: User, client_id: str, scope: str) -> UserInfo:
    """The standard claims of ``user`` that ``scope`` allows, with ``sub`` pairwise per client."""
    values = citizen_claims(user)
    info = UserInfo(sub=pairwise_subject(user.id, f"oidc:{client_id}"), name=values.get("name"),
                    birthdate=values.get("birth_date"), gender=values.get("gender"),
                    phone_number=values.get("phone"),
                    address={"formatted": values["address"]} if values.get("address") else None)
    shared = info.filter(scope)
    if "resident_id" in scope.split():
        shared["resident_id"] = values.get("resident_id")
    return UserInfo({k: v for k, v in shared.items() if v is not None})


# --- Authlib plumbing --------------------------------------------------------------------------------------


def _query_client(client_id: str):
    return db.session.scalar(sa.select(OIDCClient).where(OIDCClient.client_id == client_id,
                                                         OIDCClient.revoked_at.is_(None)))


def _save_token(token: dict, request) -> None:
    code = getattr(request, "authorization_code", None)
    parent = getattr(request, "refresh_token", None)
    if code is not None:
        code.used_at = utcnow()  # in the token's transaction: a concurrent second exchange sees it used
    db.session.add(OIDCToken(client_id=request.client.client_id, user_id=request.user.id, issued_at=int(time.time()),
                             code_id=code.id if code is not None else parent.code_id if parent is not None else None,
                             **{k: token[k] for k in ("token_type", "access_token", "refresh_token", "scope",
                                                      "expires_in") if k in token}))
    db.session.commit()


def _revoke_family(code_id: int, client_id: str, user_id: int, event: str) -> None:
    """A used code or a spent refresh token came back: someone else holds it. Every token of that grant is
    revoked (RFC 6749 §4.1.2, RFC 9700 §4.14.2) and the event audited."""
    now = int(time.time())
    tokens = db.session.scalars(sa.select(OIDCToken).where(OIDCToken.code_id == code_id)).all()
    for item in tokens:
        item.access_token_revoked_at = item.access_token_revoked_at or now
        item.refresh_token_revoked_at = item.refresh_token_revoked_at or now
    audit.record(db.session.get(User, user_id), event, "oidc_client", client_id, {"tokens_revoked": len(tokens)})
    db.session.commit()


def _token_generator() -> BearerTokenGenerator:
    return BearerTokenGenerator(access_token_generator=lambda **_: generate_token(42),
                                refresh_token_generator=lambda **_: generate_token(48),
                                expires_generator=lambda client, grant_type: ACCESS_TOKEN_TTL)


class _AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(CLIENT_AUTH_METHODS)

    def save_authorization_code(self, code, request):
        data = request.payload.data
        db.session.add(OIDCAuthorizationCode(
            code=code, client_id=request.client.client_id, redirect_uri=request.payload.redirect_uri,
            response_type=request.payload.response_type, scope=request.scope, user_id=request.user.id,
            nonce=data.get("nonce"), auth_time=int(time.time()), code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method")))
        pairwise_subject(request.user.id, f"oidc:{request.client.client_id}")  # stable from the first login
        audit.record(request.user, "citizen.oidc_authorize", "oidc_client", request.client.client_id)
        # Used codes are kept to recognise a replay while their tokens can live; after that they go.
        db.session.execute(sa.delete(OIDCAuthorizationCode).where(
            OIDCAuthorizationCode.auth_time < int(time.time()) - REFRESH_TOKEN_TTL - 3600))
        db.session.commit()

    def query_authorization_code(self, code, client):
        # Locked until this exchange commits its token, so two concurrent exchanges cannot both succeed.
        item = db.session.scalar(sa.select(OIDCAuthorizationCode).where(
            OIDCAuthorizationCode.code == code, OIDCAuthorizationCode.client_id == client.client_id).with_for_update())
        if item is None:
            return None
        if item.used_at is not None:
            _revoke_family(item.id, item.client_id, item.user_id, "oidc_code.replayed")
            return None
        return None if item.is_expired() else item

    def delete_authorization_code(self, authorization_code):
        # Kept, marked used by _save_token: deleting it would make a replay look like an unknown code.
        pass

    def authenticate_user(self, authorization_code):
        return db.session.get(User, authorization_code.user_id)


class _RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(CLIENT_AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        item = db.session.scalar(sa.select(OIDCToken).where(OIDCToken.refresh_token == refresh_token)
                                 .with_for_update())
        if item is not None and item.refresh_token_revoked_at and item.code_id is not None:
            # A spent (rotated or revoked) refresh token came back: it leaked, so the whole grant ends
            # (RFC 9700 §4.14.2).
            _revoke_family(item.code_id, item.client_id, item.user_id, "oidc_refresh_token.replayed")
            return None
        return item if item is not None and item.is_refresh_token_valid(REFRESH_TOKEN_TTL) else None

    def authenticate_user(self, refresh_token):
        return db.session.get(User, refresh_token.user_id)

    def revoke_old_credential(self, refresh_token):
        now = int(time.time())
        refresh_token.access_token_revoked_at = now
        refresh_token.refresh_token_revoked_at = now
        db.session.commit()


class _S256Only(CodeChallenge):
    """PKCE with the one method the discovery document advertises; ``plain`` (the RFC 7636 default when no
    method is named) is refused."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("send code_challenge_method=S256 with the code_challenge; 'plain' is not "
                                      "supported")


class _Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = list(CLIENT_AUTH_METHODS)

    def query_token(self, token_string, token_type_hint):
        by_access = sa.select(OIDCToken).where(OIDCToken.access_token == token_string)
        by_refresh = sa.select(OIDCToken).where(OIDCToken.refresh_token == token_string)
        hinted_refresh = token_type_hint == "refresh_token"  # noqa: S105 (a token type's name)
        first, second = (by_refresh, by_access) if hinted_refresh else (by_access, by_refresh)
        return db.session.scalar(first) or db.session.scalar(second)

    def revoke_token(self, token, request):
        # Revoking either half ends the grant: the access token and the refresh token it came with.
        now = int(time.time())
        token.access_token_revoked_at = token.access_token_revoked_at or now
        token.refresh_token_revoked_at = token.refresh_token_revoked_at or now
        db.session.commit()


class _OpenIDCode(OpenIDCode):
    def exists_nonce(self, nonce, request):
        return db.session.scalar(sa.select(OIDCAuthorizationCode.id).where(
            OIDCAuthorizationCode.client_id == request.payload.client_id,
            OIDCAuthorizationCode.nonce == nonce)) is not None

    def resolve_client_private_key(self, client):
        return keys.private_key(keys.signing_key_current(client.id_token_alg))

    def get_client_algorithm(self, client):
        return client.id_token_alg

    def get_encode_header(self, client):
        return {"alg": client.id_token_alg, "kid": keys.signing_key_current(client.id_token_alg).kid, "typ": "JWT"}

    def get_client_claims(self, client):
        return {"iss": keys.platform_issuer(), "aud": [client.get_client_id()], "exp": int(time.time()) + ID_TOKEN_TTL}

    def generate_user_info(self, user, scope):
        return user_info(user, g.identity_oidc_client_id, scope)

    def encode_id_token(self, token, request):
        # generate_user_info is not told the client, and ``sub`` is pairwise per client: keep it request-local.
        g.identity_oidc_client_id = request.client.client_id
        return super().encode_id_token(token, request)


class _TokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        return db.session.scalar(sa.select(OIDCToken).where(OIDCToken.access_token == token_string))


class _UserInfoEndpoint(UserInfoEndpoint):
    def get_issuer(self):
        return keys.platform_issuer()

    def generate_user_info(self, user, scope):
        token = self.resource_protector.acquire_token("openid")
        return user_info(user, token.client_id, scope)

    def resolve_private_key(self):
        return keys.private_key(keys.signing_key_current())


def _server() -> oauth.TokenServer:
    server = current_app.extensions.get("identity_oidc_server")
    if server is None:
        abort(404)
    return server


def init_app(app: Flask) -> None:
    """Serve the provider's endpoints when OIDC_PROVIDER is on; one Authlib server per app instance, answering
    the instance's token and revocation endpoints for its relying parties."""
    if not app.config.get("OIDC_PROVIDER"):
        return
    server = oauth.TokenServer(app, query_client=_query_client, save_token=_save_token)
    server.scopes_supported = list(SCOPES)
    server.register_token_generator("default", _token_generator())
    server.register_grant(_AuthorizationCodeGrant, [_OpenIDCode(require_nonce=True), _S256Only(required=False)])
    server.register_grant(_RefreshTokenGrant)
    server.register_endpoint(_Revocation)
    protector = ResourceProtector()
    protector.register_token_validator(_TokenValidator())
    server.register_endpoint(_UserInfoEndpoint(resource_protector=protector))
    app.extensions["identity_oidc_server"] = server
    oauth.register_token_server(app, server)
    app.register_blueprint(bp)


def discovery_document() -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 metadata (also the RFC 8414 metadata in provider mode), every URL under the
    configured issuer. The token and revocation endpoints are the instance's: they also serve API clients."""
    issuer = keys.platform_issuer()
    api = oauth.authorization_server_metadata()
    return {
        **api,
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}{PREFIX}/authorize",
        "userinfo_endpoint": f"{issuer}{PREFIX}/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "scopes_supported": [*SCOPES, *api["scopes_supported"]],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", *api["grant_types_supported"]],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": list(keys.ALGORITHMS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(CLAIMS),
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "ui_locales_supported": ["zh-CN", "en"],
    }


# --- Endpoints ---------------------------------------------------------------------------------------------


@bp.get("/authorize")
def authorize():
    """The authorization endpoint: a logged-in citizen is sent straight back to the relying party with a code;
    anyone else logs in first."""
    server = _server()
    keys.jwks()  # the signing keys exist and are published before an ID token is signed with them
    user = web_actor(required=False)
    if user is None:
        return redirect(url_for("identity.login", next=request.full_path))
    if str(user.role) != Role.CITIZEN:
        raise Forbidden("only citizens can log in to other services through this platform; log out and log in "
                        "as a citizen")
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        if error.redirect_uri:  # the client and its redirect URI are verified: it is told (RFC 6749 §4.1.2.1)
            return server.handle_error_response(None, error)
        # Without a verified redirect URI the error must be shown here, never sent to an unchecked address.
        return jsonify(error=error.error, error_description=error.description), 400
    return server.create_authorization_response(grant_user=user, grant=grant)


@bp.post("/token")
@csrf.exempt
def token():
    """The token endpoint under its former address (relying parties read ``token_endpoint`` from discovery)."""
    _server()
    return oauth.issue_token()


@bp.route("/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo():
    return _server().create_endpoint_response("userinfo")
