"""Citizens' cases (办件): started through an app, decided by the department, followed on a timeline."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from marketplace.transactions import api as transactions_api
from marketplace.transactions import models  # noqa: F401  (models: the tables)


def init_app(app: Flask, api: Api) -> None:
    api.register_blueprint(transactions_api.blp)
