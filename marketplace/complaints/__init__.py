"""Complaints (投诉): against a case or an app, answered by its vendor or department within a deadline."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from marketplace.complaints import api as complaints_api
from marketplace.complaints import models, views  # noqa: F401  (models: the tables)


def init_app(app: Flask, api: Api) -> None:
    api.register_blueprint(complaints_api.blp)
    app.register_blueprint(views.bp)
