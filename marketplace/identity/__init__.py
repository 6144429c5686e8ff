"""Citizen identity and privacy (ARCHITECTURE.md §3, docs/identity.md).

- persona login in development and OpenID Connect federation in production (``views``, ``oidc_client``);
- the platform's signing keys and JWKS, and the short-lived identity JWT apps receive (``keys``, ``services``);
- consent per app, and the citizen-visible data-access log (``services``, ``views``, ``api``);
- an optional OpenID Connect provider for this instance's citizens (``oidc_provider``).
"""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from marketplace.identity import api as identity_api
from marketplace.identity import cli, oidc_client, oidc_provider, views, well_known
from marketplace.identity import models as _models  # noqa: F401  (the tables)


def init_app(app: Flask, api: Api) -> None:
    """Register the tables, pages, API, well-known endpoints, OIDC parts and CLI of identity."""
    views.check_config(app.config)
    app.register_blueprint(views.bp)
    app.register_blueprint(well_known.bp)
    api.register_blueprint(identity_api.blp)
    oidc_client.init_app(app)
    oidc_provider.init_app(app)
    app.cli.add_command(cli.identity_cli)
