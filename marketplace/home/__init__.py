"""The start page and the site shell every page shares: navigation by role, display filters."""

from __future__ import annotations

from flask import Flask

from marketplace.home import views


def init_app(app: Flask) -> None:
    app.register_blueprint(views.bp)
