"""The composition root: ``create_app`` wires every package together, and nothing else does."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, current_app, jsonify, make_response, render_template, request
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

import billing
import core.audit  # noqa: F401  (the audit table belongs to every deployment)
import mockdata
import sandbox
from core import logs, queue
from core.auth import authenticate_api_request, required_scopes
from core.config import load_config
from core.errors import DomainError, ValidationError
from core.extensions import csrf, db, init_cache, limiter, login_manager, migrate
from marketplace import (
    accounts,
    analytics,
    audit,
    backup,
    billing_source,
    catalogue,
    citizen,
    complaints,
    demo,
    gateway,
    health,
    home,
    i18n,
    identity,
    observability,
    orders,
    ratings,
    security_headers,
    transactions,
    vendors,
    worker,
)
from marketplace.accounts import idempotency, passwords
from marketplace.accounts.scopes import SCOPES
from marketplace.apidoc import ProblemApi, flat_errors, problem_type, problems_bp
from marketplace.request_guards import BodyReadGuard, DuplicateCookieGuard

ROOT = Path(__file__).resolve().parent.parent
API_PREFIX = "/api"

log = logging.getLogger(__name__)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(ROOT / "instance"), instance_relative_config=False)
    app.config.update(load_config(app.instance_path, config))
    if not app.testing and not app.config.get("TESTING"):
        logs.configure(app.config["LOG_LEVEL"], json_output=app.config["LOG_FORMAT"] == "json")
    Path(app.config["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    Path(app.config["BUNDLE_STORE"]).mkdir(parents=True, exist_ok=True)

    app.config.update(
        API_TITLE="Open Government App Market",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Served from the platform's own static folder: the UI must work without outside networks.
        OPENAPI_SWAGGER_UI_URL="/static/swagger-ui/",
    )
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)  # X-RateLimit-* and Retry-After where limits apply

    # A restarted or failed-over database leaves dead connections in the pool: test each one before use, so the
    # first request after a restart is served instead of answered 500 (tests/faults/test_database_faults.py).
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    csrf.init_app(app)
    limiter.init_app(app)
    init_cache(app)
    i18n.init_app(app)
    queue.init_app(app)
    passwords.configure(app.config.get("PASSWORD_HASH_PROFILE", "RFC_9106_LOW_MEMORY"))

    issuer = app.config["ISSUER"].rstrip("/")
    api = ProblemApi(app, spec_kwargs={
        "info": {"description": "The REST API of the platform for departments' and vendors' automation: orders, "
                                "apps and their certification, feedback, billing. Guide: docs/api.md.",
                 "contact": {"name": "Platform operators", "url": f"{issuer}/"}},
        "servers": [{"url": issuer, "description": "This platform"}],
        "components": {"securitySchemes": {"oauth2": {
            "type": "oauth2", "description": "Bearer tokens of API clients (client credentials); see docs/api.md",
            "flows": {"clientCredentials": {"tokenUrl": f"{issuer}/oauth/token",
                                            "scopes": {name: str(text) for name, text in SCOPES.items()}}}},
            "clientSecretBasic": {"type": "http", "scheme": "basic",
                                  "description": "An API client's id and secret, at the token endpoint only"}}},
    })
    app.extensions["govmarket_api"] = api

    app.url_map.converters["int"] = RowIdConverter
    _init_packages(app, api)
    api.document_token_endpoint(next(app.url_map.iter_rules("oauth.issue_token")))
    app.register_blueprint(problems_bp)
    for name, blueprint in app.blueprints.items():
        # The REST API authenticates with bearer tokens, never cookies, so CSRF does not apply to it.
        if name.endswith("_api") or name == "api-docs":
            csrf.exempt(blueprint)
    app.before_request(authenticate_api_request)  # who calls, before any argument of theirs is parsed
    idempotency.init_app(app)  # then a retried POST with its Idempotency-Key gets the first answer again
    _register_error_handlers(app)
    # Outermost but for the proxy fix: a request with a tossed cookie or a body that breaks while read is a 400 on the
    # platform and on the apps' origins alike (marketplace/request_guards.py).
    app.wsgi_app = DuplicateCookieGuard(BodyReadGuard(app.wsgi_app))  # type: ignore[method-assign]
    _trust_proxies(app)
    return app


def _trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXY_HOPS reverse proxies, the client's address, scheme and host are what the nearest of
    them recorded (werkzeug's ProxyFix, outermost: the platform and the apps' origins both see them). Only that
    many entries are trusted, counted from the right, so a client's own X-Forwarded-For cannot pose as another
    address."""
    hops = int(app.config["TRUSTED_PROXY_HOPS"])
    if hops < 0:
        raise RuntimeError(f"GOVMARKET_TRUSTED_PROXY_HOPS must be 0 or more, not {hops}")
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]


def _init_packages(app: Flask, api: ProblemApi) -> None:
    """Every package plugs in the same way, its ``init_app``; the order below is the order they build on."""
    billing.init_app(app, api)  # tables, API, finance pages, CLI
    accounts.init_app(app, api)  # OAuth 2 server and actor resolver first: every API below authenticates with it
    identity.init_app(app, api)  # citizen login, consent, identity JWT and JWKS, access log
    observability.init_app(app)
    security_headers.init_app(app)  # CSP, nosniff, referrer policy, no framing on every platform response
    catalogue.init_app(app, api)
    orders.init_app(app, api)
    vendors.init_app(app, api)  # also: a new suite of an open order re-tests its published apps
    audit.init_app(app, api)
    health.init_app(app)
    home.init_app(app)
    transactions.init_app(app, api)
    ratings.init_app(app, api)
    complaints.init_app(app, api)
    citizen.init_app(app, api)  # also: every completed case and rating write counts in the kept statistics
    analytics.init_app(app, api)
    billing_source.init_app(app)  # what billing settles on, read from the marketplace
    gateway.init_app(app)  # app origins: host dispatch in front of everything above
    sandbox.init_app(app)
    mockdata.init_app(app)
    worker.init_app(app)
    backup.init_app(app)
    demo.init_app(app)


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in every route: ids beyond a 32-bit INTEGER column match no row (404) rather than overflowing the
    database (SQLite raises OverflowError, PostgreSQL "integer out of range"; both were a 500)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


# werkzeug's names for the statuses the domain errors (core.errors) also answer with: one code per problem type.
HTTP_PROBLEM_CODES = {"unprocessable_entity": "invalid", "unauthorized": "unauthenticated",
                      "request_entity_too_large": "too_large", "content_too_large": "too_large",
                      "service_unavailable": "unavailable", "internal_server_error": "internal_error"}


def _wants_json() -> bool:
    return request.path.startswith(API_PREFIX) or request.path.startswith("/oauth/") or (
        request.accept_mimetypes.best == "application/json"
    )


def _problem(status: int, title: str, detail: str, code: str, errors: dict | None = None):
    # Titles (and details the catalogue knows) in the client's language: English unless it asks for Chinese.
    with i18n.api_language():
        title, detail = i18n.status_title(status, title), i18n.translated(detail) or detail
    body: dict[str, Any] = {"type": problem_type(code), "title": title, "status": status, "detail": detail,
                            "code": code}
    if errors:
        body["errors"] = flat_errors(errors)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _refuse_nul_characters() -> None:
    """No text we store or search may hold NUL (PostgreSQL cannot): refuse it at the door, once, for every
    form, query string and JSON body, instead of failing deep inside a query."""
    values = list(request.args.values()) + (list(request.form.values()) if request.mimetype in {
        "application/x-www-form-urlencoded", "multipart/form-data"} else [])
    if any("\x00" in value for value in values) or (
            request.is_json and "\\u0000" in (request.get_data(cache=True, as_text=True) or "")):
        raise ValidationError("the request contains a NUL character (\\x00 or \\u0000); remove it and send again")


def _refuse_empty_updates() -> None:
    """A request without a body where an API operation changes something named by it (PATCH, PUT) is a 422 rather
    than a change of nothing answered 200. Runs after ``authenticate_api_request``: the caller is checked first."""
    view = current_app.view_functions.get(request.endpoint or "")
    if required_scopes(view) is None:
        return
    if request.method in {"PATCH", "PUT"} and not request.content_length and "chunked" not in (
            request.headers.get("Transfer-Encoding", "").lower()):
        parameters = (getattr(view, "_apidoc", {}).get("arguments") or {}).get("parameters", [])
        if any(p.get("in") == "json" for p in parameters):
            raise ValidationError("the request has no body: send a JSON object with the fields to change "
                                  "(Content-Type: application/json)")


def _register_error_handlers(app: Flask) -> None:
    app.before_request(_refuse_empty_updates)
    app.before_request(_refuse_nul_characters)

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        db.session.rollback()
        if _wants_json():
            problem = exc.to_problem()
            response = _problem(exc.status, problem["title"], exc.message, exc.code, exc.errors or None)
            if exc.context.get("challenge"):  # RFC 6750 §3: how to authenticate, or which scope was missing
                response.headers["WWW-Authenticate"] = exc.context["challenge"]
            return response
        return render_template("error.html", status=exc.status, title=exc.title, detail=exc.message,
                               errors=exc.errors, context=exc.context), exc.status

    @app.errorhandler(sa_exc.DataError)
    def data_error(exc: sa_exc.DataError):
        # A value the database refuses (too long for its column, out of range): the schemas and services check
        # the common cases with field names; this backstop keeps the rest a 4xx that says what to do.
        db.session.rollback()
        log.warning("database refused a value on %s %s: %s", request.method, request.path, exc.orig)
        return domain_error(ValidationError("a value is too long or out of range for its field; shorten it and try again"))

    @app.errorhandler(OverflowError)
    def overflow_error(exc: OverflowError):
        # SQLite's driver refuses an integer past 64 bits with OverflowError before the database sees it (PostgreSQL's
        # "out of range" is a DataError above). The schemas bound every integer they read; this catches the rest.
        db.session.rollback()
        log.warning("integer out of range on %s %s: %s", request.method, request.path, exc)
        return domain_error(ValidationError("a number is too large for its field; send a smaller one"))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        db.session.rollback()
        detail = exc.description or exc.name
        errors = None
        # flask-smorest / webargs put field messages in exc.data["messages"].
        data = getattr(exc, "data", None) or {}
        if isinstance(data, dict) and "messages" in data:
            errors = data["messages"]
            detail = "The request has invalid fields: " + _summarise(errors)
        if _wants_json():
            code = exc.name.lower().replace(" ", "_")
            response = _problem(exc.code or 500, exc.name, detail, HTTP_PROBLEM_CODES.get(code, code), errors)
        else:
            response = make_response(render_template("error.html", status=exc.code, title=exc.name, detail=detail,
                                                     errors=errors), exc.code)
        # What the exception says beyond its body: Allow of a 405, WWW-Authenticate of a 401, Retry-After of a 429.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return _problem(500, "Internal Server Error", "Something went wrong on our side; it has been logged.",
                            "internal_error")
        return render_template("error.html", status=500, title="Internal Server Error",
                               detail="Something went wrong on our side; it has been logged."), 500


def _summarise(errors: Any, prefix: str = "") -> str:
    parts: list[str] = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = f"{prefix}.{key}" if prefix and key not in {"json", "query", "form", "files"} else (
                prefix if key in {"json", "query", "form", "files"} else str(key))
            parts.append(_summarise(value, name))
    elif isinstance(errors, list):
        msgs = [m for m in errors if isinstance(m, str)]
        nested = [m for m in errors if not isinstance(m, str)]
        if msgs:
            parts.append(f"{prefix or 'body'}: {' '.join(msgs)}")
        parts.extend(_summarise(n, prefix) for n in nested)
    else:
        parts.append(f"{prefix or 'body'}: {errors}")
    return "; ".join(p for p in parts if p)
