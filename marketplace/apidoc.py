"""Bearer-token protection of an API handler, declared once for both enforcement and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable

from flask_smorest import Blueprint

from core.auth import require_api


def secured(blp: Blueprint, *scopes: str) -> Callable:
    def decorate(fn: Callable) -> Callable:
        return blp.doc(security=[{"oauth2": list(scopes)}])(require_api(*scopes)(fn))

    return decorate
