"""The platform's OAuth 2 authorization server (client credentials) and bearer-token checks."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Iterable

import sqlalchemy as sa
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import MissingAuthorizationError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc6750.errors import InsufficientScopeError, InvalidTokenError
from flask import Blueprint, Flask, g, jsonify, request
from flask_login import current_user

from core import auth
from core.errors import Forbidden, Unauthenticated
from core.extensions import csrf, db
from marketplace.accounts.models import OAuth2Client, OAuth2Token, User
from marketplace.accounts.scopes import ROLE_SCOPES


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


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


server = AuthorizationServer()
require_oauth = ResourceProtector()
bp = Blueprint("oauth", __name__, url_prefix="/oauth")


@bp.post("/token")
@csrf.exempt
def issue_token():
    """OAuth 2 token endpoint (RFC 6749 §4.4, client credentials)."""
    if _malformed_basic_credentials():  # Authlib would raise UnicodeDecodeError: a 500 (found by the fuzzer)
        return jsonify(error="invalid_client", error_description="the Basic credentials are not base64 of UTF-8 "
                       "'client_id:client_secret'"), 401, {"WWW-Authenticate": 'Basic realm="oauth"',
                                                         "Cache-Control": "no-store", "Pragma": "no-cache"}
    return server.create_token_response()


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
    require_oauth.register_token_validator(_TokenValidator())
    app.register_blueprint(bp)
    auth.set_resolver(app, MarketplaceActors())
