"""Vendors, their members, their apps and the uploaded app versions."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from marketplace.orders import services as orders
from marketplace.vendors import api as vendors_api
from marketplace.vendors import cli, models, services, views  # noqa: F401  (models: the tables)


def init_app(app: Flask, api: Api) -> None:
    """The vendors API and pages, `govmarket vendors`; a new suite of an open order re-tests its published apps;
    the order page's list of competing apps."""
    api.register_blueprint(vendors_api.blp)
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.vendors_cli)
    orders.suite_added.connect(services.versions_retest)
    # The order page (a lower package) lists the order's competing apps through this template global.
    app.jinja_env.globals["competing_apps"] = services.competing_apps
