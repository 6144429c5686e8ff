"""Ratings (一事一评): one per completed case, with replies, flags, moderation and manipulation signals."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from marketplace.ratings import api as ratings_api
from marketplace.ratings import models, views  # noqa: F401  (models: the tables)
from marketplace.ratings.cli import ratings_cli


def init_app(app: Flask, api: Api) -> None:
    api.register_blueprint(ratings_api.blp)
    app.register_blueprint(views.bp)
    app.cli.add_command(ratings_cli)
