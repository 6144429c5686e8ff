"""Registers every part of the platform on the app: blueprints, CLI groups, plugged-in Protocols.

Each package adds itself here with one line; ``create_app`` calls ``register`` once.
"""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def register(app: Flask, api: Api) -> None:
    import core.audit  # noqa: F401  (the audit table belongs to every deployment)
