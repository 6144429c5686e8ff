"""Department analytics: usage, ratings, quality dimensions and complaints per service item and app."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from marketplace.analytics import api as analytics_api
from marketplace.analytics import views


def init_app(app: Flask, api: Api) -> None:
    api.register_blueprint(analytics_api.blp)
    app.register_blueprint(views.bp)
