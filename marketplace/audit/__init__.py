"""Browsing the audit log (the table itself lives in core.audit)."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from marketplace.audit import api as audit_api
from marketplace.audit import views


def init_app(app: Flask, api: Api) -> None:
    api.register_blueprint(audit_api.blp)
    app.register_blueprint(views.bp)
