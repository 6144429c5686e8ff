"""The platform's published keys (always) and its OpenID Connect discovery document (provider mode only)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify

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


@bp.get("/openid-configuration")
def openid_configuration():
    if "identity_oidc_server" not in current_app.extensions:
        abort(404, description="this instance is not an OpenID Connect provider (GOVMARKET_OIDC_PROVIDER is off)")

    response = jsonify(discovery_document())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
