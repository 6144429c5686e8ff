"""Requirement orders: contract, price schedule, acceptance suites, clarification questions."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from marketplace.orders import api as orders_api
from marketplace.orders import models, views  # noqa: F401  (models: the tables)


def init_app(app: Flask, api: Api) -> None:
    api.register_blueprint(orders_api.blp)
    app.register_blueprint(views.bp)
