"""The catalogue: departments as stores, service items as products with their guide, life events. Citizens browse
it through ``marketplace.citizen`` (the stores, search, an item's apps), which reads it with orders and apps."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from marketplace.catalogue import api as catalogue_api
from marketplace.catalogue import cli, models  # noqa: F401  (models: the tables)


def init_app(app: Flask, api: Api) -> None:
    api.register_blueprint(catalogue_api.blp)
    app.cli.add_command(cli.departments_cli)
