"""The platform's published keys and its authorization server's RFC 8414 metadata (always), and its OpenID Connect
discovery document (provider mode only; then the RFC 8414 metadata is the same document)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify

from marketplace.accounts import oauth
from marketplace.identity import keys
from marketplace.identity.oidc_provider import discovery_document

bp = Blueprint("identity_well_known", __name__, url_prefix="/.well-known")


@bp.get("/jwks.json")
def jwks():
    """The public keys apps and relying parties verify the platform's signatures with (RFC 7517)."""
    response = jsonify(keys.jwks())
    # Short enough that a rotation reaches verifiers well within the grace period.
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _provider_mode() -> bool:
    return "identity_oidc_server" in current_app.extensions


def _metadata(document: dict):
    response = jsonify(document)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/openid-configuration")
def openid_configuration():
    """OpenID Connect Discovery 1.0."""
    if not _provider_mode():
        abort(404, description="this instance is not an OpenID Connect provider (GOVMARKET_OIDC_PROVIDER is off); "
                               "its OAuth 2 metadata is at /.well-known/oauth-authorization-server")
    return _metadata(discovery_document())


@bp.get("/oauth-authorization-server")
def oauth_authorization_server():
    """RFC 8414 metadata of the instance's authorization server: the API's client credentials, and in provider
    mode everything the OpenID Connect provider offers too."""
    return _metadata(discovery_document() if _provider_mode() else oauth.authorization_server_metadata())
