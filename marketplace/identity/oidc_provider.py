"""The optional OpenID Connect provider (GOVMARKET_OIDC_PROVIDER=1): this instance's citizens can log in to
relying parties — e.g. another instance of the platform — with the authorization-code flow (PKCE S256
supported), ID tokens signed with the platform's key, discovery and JWKS.

Relying parties are registered by an operator (``govmarket identity oidc-client-add``) and trusted, so the
citizen is not asked a second time what to share: the claims are those of the scopes the client may use.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import sqlalchemy as sa
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode, UserInfo, UserInfoEndpoint
from flask import Blueprint, Flask, abort, current_app, g, jsonify, redirect, request, url_for

from core import audit
from core.auth import web_actor
from core.errors import Forbidden, ValidationError
from core.extensions import csrf, db
from core.roles import Role
from marketplace.accounts.models import User
from marketplace.accounts.passwords import hash_secret
from marketplace.identity import authz, keys
from marketplace.identity.models import OIDCAuthorizationCode, OIDCClient, OIDCToken
from marketplace.identity.services import citizen_claims, pairwise_subject

SCOPES = ("openid", "profile", "phone", "address", "resident_id")
CLAIMS = ("sub", "name", "birthdate", "gender", "phone_number", "address", "resident_id")
ID_TOKEN_TTL = 300
PREFIX = "/identity/provider"

bp = Blueprint("identity_provider", __name__, url_prefix=PREFIX)


# --- Use cases ---------------------------------------------------------------------------------------------


def oidc_client_create(actor, *, name: str, redirect_uris: list[str]) -> tuple[OIDCClient, str]:
    """Register a relying party. Admins only. Returns the client and its secret (shown once, stored hashed)."""
    authz.oidc_client_create(actor)

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
                                "grant_types": ["authorization_code"], "response_types": ["code"],
                                "token_endpoint_auth_method": "client_secret_basic"})
    db.session.add(client)
    db.session.flush()
    audit.record(actor, "oidc_client.create", "oidc_client", client.client_id, {"name": name, "redirect_uris": uris})
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
    db.session.add(OIDCToken(client_id=request.client.client_id, user_id=request.user.id, issued_at=int(time.time()),
                             **{k: token[k] for k in ("token_type", "access_token", "scope", "expires_in")
                                if k in token}))
    db.session.commit()


class _AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def save_authorization_code(self, code, request):
        data = request.payload.data
        db.session.add(OIDCAuthorizationCode(
            code=code, client_id=request.client.client_id, redirect_uri=request.payload.redirect_uri,
            response_type=request.payload.response_type, scope=request.scope, user_id=request.user.id,
            nonce=data.get("nonce"), auth_time=int(time.time()), code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method")))
        pairwise_subject(request.user.id, f"oidc:{request.client.client_id}")  # stable from the first login
        audit.record(request.user, "citizen.oidc_authorize", "oidc_client", request.client.client_id)
        db.session.commit()

    def query_authorization_code(self, code, client):
        item = db.session.scalar(sa.select(OIDCAuthorizationCode).where(
            OIDCAuthorizationCode.code == code, OIDCAuthorizationCode.client_id == client.client_id))
        if item is not None and not item.is_expired():
            return item
        return None

    def delete_authorization_code(self, authorization_code):
        db.session.delete(authorization_code)
        db.session.commit()

    def authenticate_user(self, authorization_code):
        return db.session.get(User, authorization_code.user_id)


class _OpenIDCode(OpenIDCode):
    def exists_nonce(self, nonce, request):
        return db.session.scalar(sa.select(OIDCAuthorizationCode.id).where(
            OIDCAuthorizationCode.client_id == request.payload.client_id,
            OIDCAuthorizationCode.nonce == nonce)) is not None

    def resolve_client_private_key(self, client):
        return keys.private_key(keys.signing_key_current())

    def get_client_algorithm(self, client):
        return keys.ALGORITHM

    def get_encode_header(self, client):
        return {"alg": keys.ALGORITHM, "kid": keys.signing_key_current().kid, "typ": "JWT"}

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


def _server() -> AuthorizationServer:
    server = current_app.extensions.get("identity_oidc_server")
    if server is None:
        abort(404)
    return server


def init_app(app: Flask) -> None:
    """Serve the provider's endpoints when OIDC_PROVIDER is on; one Authlib server per app instance."""
    if not app.config.get("OIDC_PROVIDER"):
        return
    server = AuthorizationServer(app, query_client=_query_client, save_token=_save_token)
    server.scopes_supported = list(SCOPES)
    server.register_grant(_AuthorizationCodeGrant, [_OpenIDCode(require_nonce=True), CodeChallenge(required=False)])
    protector = ResourceProtector()
    protector.register_token_validator(_TokenValidator())
    server.register_endpoint(_UserInfoEndpoint(resource_protector=protector))
    app.extensions["identity_oidc_server"] = server
    app.register_blueprint(bp)


def discovery_document() -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 metadata, with every URL under the configured issuer."""
    issuer = keys.platform_issuer()
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}{PREFIX}/authorize",
        "token_endpoint": f"{issuer}{PREFIX}/token",
        "userinfo_endpoint": f"{issuer}{PREFIX}/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": [keys.ALGORITHM],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": list(CLAIMS),
        "ui_locales_supported": ["zh-CN", "en"],
    }


# --- Endpoints ---------------------------------------------------------------------------------------------


@bp.get("/authorize")
def authorize():
    """The authorization endpoint: a logged-in citizen is sent straight back to the relying party with a code;
    anyone else logs in first."""
    server = _server()
    user = web_actor(required=False)
    if user is None:
        return redirect(url_for("identity.login", next=request.full_path))
    if str(user.role) != Role.CITIZEN:
        raise Forbidden("only citizens can log in to other services through this platform; log out and log in "
                        "as a citizen")
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        # Without a verified redirect URI the error must be shown here, never sent to an unchecked address.
        return jsonify(error=error.error, error_description=error.description), 400
    return server.create_authorization_response(grant_user=user, grant=grant)


@bp.post("/token")
@csrf.exempt
def token():
    keys.jwks()  # the key exists and is published before an ID token is signed with it
    return _server().create_token_response()


@bp.route("/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo():
    return _server().create_endpoint_response("userinfo")
