"""Who is calling: one entry point for every package's API and views.

The marketplace plugs in the real resolver (OAuth 2 bearer tokens for the REST API, the
Flask-Login session for web pages) at app creation; packages below it only call these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Protocol

from flask import current_app, g

from core.errors import Forbidden, Unauthenticated


@dataclass(frozen=True)
class SystemActor:
    """The platform itself acting: CLI commands run by operators, scheduled jobs, the demo seeder."""

    label: str = "system"
    id: None = None
    role: str = "admin"
    department_id: None = None
    vendor_id: None = None


SYSTEM = SystemActor()


class ActorResolver(Protocol):
    def api_actor(self, scopes: Iterable[str]) -> Any:
        """The actor behind the request's bearer token, which must carry every scope in ``scopes``;
        raises Unauthenticated / Forbidden."""

    def web_actor(self) -> Any | None:
        """The logged-in user of the web session, or None."""


def set_resolver(app, resolver: ActorResolver) -> None:
    app.extensions["actor_resolver"] = resolver


def _resolver() -> ActorResolver:
    return current_app.extensions["actor_resolver"]


def api_actor(*scopes: str):
    """Return the API caller (authenticated by bearer token) holding ``scopes``. Once per request: the platform
    authenticates before it parses the input (``authenticate_first``), the handler then gets the same actor."""
    checked = g.get("_api_actor")
    if checked is not None and checked[0] == scopes:
        return checked[1]
    actor = _resolver().api_actor(scopes)
    g.actor = actor
    g._api_actor = (scopes, actor)
    return actor


def required_scopes(view: Callable | None) -> tuple[str, ...] | None:
    """The scopes a view function's ``require_api`` asks for (None: not a bearer-token endpoint)."""
    return getattr(view, "_required_scopes", None)


def web_actor(required: bool = True):
    """Return the logged-in web user; with ``required`` raise Unauthenticated when there is none."""
    actor = _resolver().web_actor()
    if actor is None and required:
        raise Unauthenticated("please log in to see this page")
    g.actor = actor
    return actor


def require_api(*scopes: str) -> Callable:
    """Decorator for API handlers: authenticates, checks scopes, passes the actor as first argument."""

    def decorate(fn: Callable) -> Callable:
        @wraps(fn)
        def wrapper(*args, **kwargs):
            return fn(api_actor(*scopes), *args, **kwargs)

        wrapper._required_scopes = scopes  # read by the OpenAPI security annotations
        return wrapper

    return decorate


def require_role(actor: Any, *roles: str, action: str) -> None:
    """Raise Forbidden unless ``actor`` has one of ``roles``."""
    if actor is None:
        raise Unauthenticated(f"log in to {action}")
    if str(actor.role) not in {str(r) for r in roles}:
        allowed = ", ".join(str(r) for r in roles)
        raise Forbidden(f"only {allowed} may {action}; you are signed in as {actor.role}")
