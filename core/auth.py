"""Who is calling: one entry point for every package's API and views.

The marketplace plugs in the real resolver (OAuth 2 bearer tokens for the REST API, the
Flask-Login session for web pages) at app creation; packages below it only call these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Protocol

from flask import current_app, g, request

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
        """The actor behind the request's bearer token, which must carry one of ``scopes`` (any valid token
        when there are none); raises Unauthenticated / Forbidden."""

    def web_actor(self) -> Any | None:
        """The logged-in user of the web session, or None."""


def set_resolver(app, resolver: ActorResolver) -> None:
    app.extensions["actor_resolver"] = resolver


def _resolver() -> ActorResolver:
    return current_app.extensions["actor_resolver"]


def api_actor(*scopes: str):
    """Return the API caller (authenticated by bearer token) holding one of ``scopes``."""
    actor = _resolver().api_actor(scopes)
    g.actor = actor
    return actor


def web_actor(required: bool = True):
    """Return the logged-in web user; with ``required`` raise Unauthenticated when there is none."""
    actor = _resolver().web_actor()
    if actor is None and required:
        raise Unauthenticated("please log in to see this page")
    g.actor = actor
    return actor


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_read_scope(scope: str) -> bool:
    """Scopes named ``<area>:read`` only read; every other scope lets its holder change something."""
    return scope.endswith(":read")


def require_api(*scopes: str) -> Callable:
    """Decorator for API handlers: authenticates, checks scopes, passes the actor as first argument.

    The token must hold one of ``scopes`` (alternatives, e.g. ``"apps:write", "versions:review"`` when a vendor
    or a department may call); with none, any valid token will do.

    The scopes declared here are the only declaration of what an operation needs: ``authenticate_api_request``
    enforces them before the request body is parsed, and the OpenAPI document's security requirements are read
    from the same attribute (marketplace.apidoc)."""

    def decorate(fn: Callable) -> Callable:
        @wraps(fn)
        def wrapper(*args, **kwargs):
            actor = g.get("api_caller")
            if actor is None or g.get("api_caller_scopes") != scopes:
                actor = api_actor(*scopes)
            return fn(actor, *args, **kwargs)

        wrapper._required_scopes = scopes
        return wrapper

    return decorate


def required_scopes(view: Callable | None) -> tuple[str, ...] | None:
    """The scopes an API view requires (``require_api``), or None for a public one. functools.wraps copies the
    attribute to every decorator above require_api, so the outermost view function carries it."""
    return getattr(view, "_required_scopes", None)


def check_write_scopes(method: str, path: str, scopes: tuple[str, ...] | None) -> None:
    """A write (any method but GET/HEAD/OPTIONS) must require a scope that is not a read scope, so that a token
    holding read scopes only can never change anything. Raised while the app is built, never at request time."""
    if method.upper() in SAFE_METHODS:
        return
    if not scopes or any(is_read_scope(s) for s in scopes):
        raise RuntimeError(f"{method.upper()} {path} changes state but may be called with {list(scopes or ())}; "
                           "declare its write scope(s) with require_api")


def authenticate_api_request() -> None:
    """before_request: authenticate and check the scopes of a protected API operation before its arguments are
    parsed, so a caller without the right token learns that first (401/403), never that its body was invalid."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    scopes = required_scopes(view)
    if scopes is None or request.method == "OPTIONS":
        return
    g.api_caller = api_actor(*scopes)
    g.api_caller_scopes = scopes


def require_role(actor: Any, *roles: str, action: str) -> None:
    """Raise Forbidden unless ``actor`` has one of ``roles``."""
    if actor is None:
        raise Unauthenticated(f"log in to {action}")
    if str(actor.role) not in {str(r) for r in roles}:
        allowed = ", ".join(str(r) for r in roles)
        raise Forbidden(f"only {allowed} may {action}; you are signed in as {actor.role}",
                        allowed_roles=[str(r) for r in roles], role=str(actor.role))
