"""The platform's OAuth 2 authorization server (client credentials), its token and revocation endpoints, its
RFC 8414 metadata, and bearer-token checks.

The token endpoint (``/oauth/token``) and the revocation endpoint (``/oauth/revoke``) are the only ones of the
instance: in provider mode the OpenID Connect provider (``marketplace.identity.oidc_provider``) registers its
Authlib server here and requests authenticated by one of its relying parties go to it.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Iterable

import sqlalchemy as sa
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError, InvalidScopeError, MissingAuthorizationError
from authlib.oauth2.rfc6749.util import extract_basic_authorization, scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc6750.errors import InsufficientScopeError, InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from flask import Blueprint, Flask, current_app, g, jsonify, request
from flask_login import current_user

from core import auth
from core.errors import Forbidden, Unauthenticated
from core.extensions import csrf, db
from marketplace.accounts.models import CLIENT_AUTH_METHODS, OAuth2Client, OAuth2Token, User
from marketplace.accounts.scopes import ROLE_SCOPES, SCOPES

TOKEN_PATH = "/oauth/token"  # noqa: S105 (a URL path)
REVOCATION_PATH = "/oauth/revoke"


class TokenServer(AuthorizationServer):
    """Authlib's Flask authorization server, strict where RFC 6749 asks for it at the token endpoint."""

    def create_token_response(self, request=None):
        problem = malformed_request(require=("grant_type",))
        if problem:
            return self.handle_error_response(request, InvalidRequestError(problem))
        return super().create_token_response(request)

    def create_endpoint_response(self, name, request=None):
        problem = malformed_request(require=("token",)) if name == TokenRevocation.ENDPOINT_NAME else None
        if problem:
            return self.handle_error_response(request, InvalidRequestError(problem))
        return super().create_endpoint_response(name, request)


def malformed_request(*, require: tuple[str, ...]) -> str | None:
    """What is wrong with the form of this token-endpoint request, or None: every parameter at most once
    (RFC 6749 §3.2), the required ones present (§5.2 ``invalid_request``)."""
    repeated = sorted(k for k in request.values if len(request.values.getlist(k)) > 1)
    if repeated:
        return f"send each parameter once; repeated: {', '.join(repeated)}"
    missing = [k for k in require if not request.form.get(k)]
    if missing:
        return f"the request has no {', '.join(missing)}; send it in the form body (application/x-www-form-urlencoded)"
    return None


# Scopes that read people's data (the audit and access logs; citizens' ratings, complaints and cases): their tokens
# live minutes whatever OAUTH2_TOKEN_EXPIRES_IN says. A client asks again with its credentials; no refresh tokens.
PERSONAL_DATA_SCOPES = frozenset({"audit:read", "feedback:read"})
PERSONAL_DATA_TOKEN_TTL = 900


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(CLIENT_AUTH_METHODS)

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None, include_refresh_token=True):
        granted = set(scope_to_list(scope) or self.request.client.scopes)
        if granted & PERSONAL_DATA_SCOPES:
            configured = current_app.config["OAUTH2_TOKEN_EXPIRES_IN"].get(self.GRANT_TYPE, PERSONAL_DATA_TOKEN_TTL)
            expires_in = min(int(configured), PERSONAL_DATA_TOKEN_TTL)
        return super().generate_token(user=user, scope=scope, grant_type=grant_type, expires_in=expires_in,
                                      include_refresh_token=include_refresh_token)

    def validate_token_request(self):
        """RFC 6749 §5.2: a scope that is unknown, or outside the client's registration, is ``invalid_scope``
        — never a narrower token that the client would take for the one it asked for."""
        super().validate_token_request()
        requested = scope_to_list(self.request.payload.scope) or []
        unknown = [s for s in requested if s not in SCOPES]
        if unknown:
            raise InvalidScopeError(f"unknown scope {' '.join(unknown)}; see scopes_supported in "
                                    "/.well-known/oauth-authorization-server")
        outside = [s for s in requested if s not in self.request.client.scopes]
        if outside:
            raise InvalidScopeError(f"this API client is not registered for {' '.join(outside)}; it may ask for "
                                    f"{' '.join(self.request.client.scopes)}, or create a client that has it")


def _query_client(client_id: str):
    # Looked up through db.session at call time (not bound at import), so tests' sessions are honoured.
    return db.session.scalar(sa.select(OAuth2Client).where(OAuth2Client.client_id == client_id,
                                                            OAuth2Client.revoked_at.is_(None)))


def _save_token(token: dict, request) -> None:
    client = request.client
    db.session.add(OAuth2Token(client_id=client.client_id, user_id=client.user_id, issued_at=int(time.time()),
                               **{k: token[k] for k in ("token_type", "access_token", "scope", "expires_in")
                                  if k in token}))
    db.session.commit()


class _TokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str):
        return db.session.scalar(sa.select(OAuth2Token).where(OAuth2Token.access_token == token_string))

    def validate_token(self, token, scopes, request):
        super().validate_token(token, scopes, request)
        client = _query_client(token.client_id)
        if client is None:  # the client was revoked: its tokens die with it
            raise InvalidTokenError()


class TokenRevocation(RevocationEndpoint):
    """RFC 7009 for API clients' tokens (client credentials have no refresh tokens)."""

    CLIENT_AUTH_METHODS = list(CLIENT_AUTH_METHODS)
    SUPPORTED_TOKEN_TYPES = ("access_token",)

    def query_token(self, token_string, token_type_hint):
        return db.session.scalar(sa.select(OAuth2Token).where(OAuth2Token.access_token == token_string))

    def revoke_token(self, token, request):
        token.access_token_revoked_at = int(time.time())
        db.session.commit()


server = TokenServer()
require_oauth = ResourceProtector()
bp = Blueprint("oauth", __name__, url_prefix="/oauth")
SERVERS = "oauth_token_servers"


def register_token_server(app: Flask, other: AuthorizationServer) -> None:
    """Let ``other`` (an authorization server with its own clients) answer this instance's token and revocation
    endpoints for requests its clients authenticate."""
    app.extensions.setdefault(SERVERS, []).append(other)


def _server_for_client() -> AuthorizationServer:
    client_id, _secret = extract_basic_authorization(request.headers)
    client_id = client_id or request.form.get("client_id")
    for other in current_app.extensions.get(SERVERS, []) if client_id else ():
        if other.query_client(client_id) is not None:
            return other
    return server  # API clients, and every client nobody knows (answered invalid_client)


@bp.post("/token")
@csrf.exempt
def issue_token():
    """The token endpoint (RFC 6749 §3.2): client credentials for API clients; in provider mode also the
    authorization-code and refresh-token grants of relying parties."""
    if _malformed_basic_credentials():  # Authlib would raise UnicodeDecodeError: a 500 (found by the fuzzer)
        return jsonify(error="invalid_client", error_description="the Basic credentials are not base64 of UTF-8 "
                       "'client_id:client_secret'"), 401, {"WWW-Authenticate": 'Basic realm="oauth"',
                                                         "Cache-Control": "no-store", "Pragma": "no-cache"}
    return _server_for_client().create_token_response()


@bp.post("/revoke")
@csrf.exempt
def revoke_token():
    """The revocation endpoint (RFC 7009): a client revokes one of its own tokens; 200 also for unknown ones."""
    return _server_for_client().create_endpoint_response(TokenRevocation.ENDPOINT_NAME)


def authorization_server_metadata() -> dict:
    """RFC 8414 metadata of the API's authorization server (identity adds its provider's part in provider mode)."""
    issuer = str(current_app.config["ISSUER"]).rstrip("/")
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}{TOKEN_PATH}",
        "revocation_endpoint": f"{issuer}{REVOCATION_PATH}",
        "grant_types_supported": ["client_credentials"],
        # No authorization endpoint without provider mode: the API's clients never redirect a person.
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
        "scopes_supported": sorted(SCOPES),
        "service_documentation": f"{issuer}/api/docs",
    }


def _malformed_basic_credentials() -> bool:
    header = request.headers.get("Authorization", "")
    if header[:6].lower() != "basic ":
        return False
    try:
        base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return True
    return False


def _challenge(error: str | None = None, **params: str) -> str:
    """The RFC 6750 §3 WWW-Authenticate challenge of an API refusal."""
    parts = ['realm="api"'] + ([f'error="{error}"'] if error else []) + [f'{k}="{v}"' for k, v in params.items()]
    return "Bearer " + ", ".join(parts)


def caller_scopes() -> frozenset[str]:
    """The scopes the calling bearer token really holds (its client's, within the user's role today)."""
    return g.get("api_token_scopes", frozenset())


class MarketplaceActors:
    """core.auth's resolver: bearer tokens on the API, the Flask-Login session on web pages."""

    def api_actor(self, scopes: Iterable[str]) -> User:
        scopes = list(scopes)
        wanted = " ".join(scopes)  # alternatives: one of them is enough
        try:
            token = require_oauth.acquire_token(scopes or None)
        except MissingAuthorizationError as exc:
            raise Unauthenticated("send 'Authorization: Bearer <token>'; get a token from POST /oauth/token "
                                  "with your API client's id and secret", challenge=_challenge()) from exc
        except InsufficientScopeError as exc:
            raise Forbidden(f"this token lacks the scope {' or '.join(scopes)}; create an API client that has it",
                            challenge=_challenge("insufficient_scope", scope=wanted)) from exc
        except InvalidTokenError as exc:
            raise Unauthenticated("the bearer token is invalid, expired or revoked; request a new one",
                                  challenge=_challenge("invalid_token")) from exc
        user = token.user
        if not user.active:
            raise Forbidden("this account is deactivated", challenge=_challenge("invalid_token"))
        # A token never grants more than the user's role allows today, even if the role changed.
        held = frozenset((token.get_scope() or "").split()) & ROLE_SCOPES[user.role]
        if scopes and not held & set(scopes):
            raise Forbidden(f"a {user.role} may not use {' or '.join(scopes)}",
                            challenge=_challenge("insufficient_scope", scope=wanted))
        g.api_token_scopes = held
        return user

    def web_actor(self) -> User | None:
        if current_user and current_user.is_authenticated:
            return current_user._get_current_object()
        return None


def init_app(app: Flask) -> None:
    app.config.setdefault("OAUTH2_TOKEN_EXPIRES_IN", {"client_credentials": app.config["OAUTH2_TOKEN_EXPIRES_IN"]})
    if isinstance(app.config["OAUTH2_TOKEN_EXPIRES_IN"], int):
        app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"client_credentials": app.config["OAUTH2_TOKEN_EXPIRES_IN"]}
    server.init_app(app, query_client=_query_client, save_token=_save_token)
    if not server._token_grants:
        server.register_grant(ClientCredentialsGrant)
        server.register_endpoint(TokenRevocation)
    require_oauth.register_token_validator(_TokenValidator())
    app.register_blueprint(bp)
    auth.set_resolver(app, MarketplaceActors())
