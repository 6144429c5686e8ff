"""The demo dataset `make run` seeds."""

from __future__ import annotations

from flask import Flask

from marketplace.demo import cli


def init_app(app: Flask) -> None:
    app.cli.add_command(cli.demo_cli)
