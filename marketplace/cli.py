"""The ``govmarket`` console script: Flask's CLI bound to our app factory."""

from __future__ import annotations

from flask.cli import FlaskGroup


def _create():
    from marketplace.app import create_app

    return create_app()


cli = FlaskGroup(create_app=_create, help="Open Government App Market platform commands.")


def main() -> None:
    cli()


def _commands():
    from marketplace.accounts.cli import users_cli
    from marketplace.catalogue.cli import departments_cli
    from marketplace.vendors.cli import vendors_cli

    return [users_cli, departments_cli, vendors_cli]


marketplace_commands = _commands()
