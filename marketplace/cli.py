"""The ``govmarket`` console script: Flask's CLI bound to our app factory."""

from __future__ import annotations

from flask.cli import FlaskGroup

from marketplace.app import create_app

cli = FlaskGroup(create_app=create_app, help="Open Government App Market platform commands.")


def main() -> None:
    cli()
