"""Accounts and roles: users, web login, API clients and the OAuth 2 authorization server."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from marketplace.accounts import api as accounts_api
from marketplace.accounts import cli, models, oauth, views  # noqa: F401  (models: the tables)


def init_app(app: Flask, api: Api) -> None:
    """The OAuth 2 server and the actor resolver, the accounts API and pages, `govmarket users`."""
    oauth.init_app(app)
    api.register_blueprint(accounts_api.blp)
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.users_cli)
