"""The platform as an OpenID Connect relying party: citizens log in with the upstream identity provider
(GOVMARKET_OIDC_ISSUER, _CLIENT_ID, _CLIENT_SECRET; endpoints and keys found by discovery). One identity,
every app: the account is the resident ID the provider vouches for."""

from __future__ import annotations

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app

# The standard scopes plus the resident ID, which real-name login cannot do without.
SCOPE = "openid profile phone address resident_id"


def init_app(app: Flask) -> None:
    issuer = (app.config.get("OIDC_ISSUER") or "").rstrip("/")
    if not issuer:
        return
    missing = [name for name in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET") if not app.config.get(name)]
    if missing:
        raise RuntimeError(f"GOVMARKET_OIDC_ISSUER is set but {' and '.join('GOVMARKET_' + m for m in missing)} "
                           "not; register the platform with the identity provider and set both")
    oauth = OAuth(app)  # one registry per app: two instances in one process must not share clients
    oauth.register("upstream", client_id=app.config["OIDC_CLIENT_ID"], client_secret=app.config["OIDC_CLIENT_SECRET"],
                   server_metadata_url=f"{issuer}/.well-known/openid-configuration",
                   client_kwargs={"scope": SCOPE, "code_challenge_method": "S256", "timeout": 10})
    app.extensions["identity_oidc_rp"] = oauth


def upstream():
    """The registered upstream provider's client, or None when federation is not configured."""
    oauth = current_app.extensions.get("identity_oidc_rp")
    return oauth.upstream if oauth is not None else None
