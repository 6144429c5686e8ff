"""How the REST API describes itself: bearer-token protection declared once for both enforcement and the
OpenAPI document, and the error responses every endpoint may give, as the problem details they really are.

Each operation's access is declared once, with ``core.auth.require_api`` (``secured`` below). ``AccessPlugin``
reads that declaration from the view function while the document is built and derives the operation's
``operationId`` (the use case's name), its security requirement (``security: []`` when public) and its 401/403
answers; it also refuses, at app creation, a write that a read-only token could call."""

from __future__ import annotations

import http
from collections.abc import Callable

from apispec import BasePlugin
from flask import Blueprint as FlaskBlueprint
from flask import render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_smorest import Api, Blueprint
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields

from core.auth import check_write_scopes, require_api, required_scopes
from core.conventions import IDEMPOTENCY_KEY, LOCATION, created, location_of

__all__ = ["LOCATION", "AccessPlugin", "ProblemApi", "ProblemSchema", "created", "location_of", "secured"]

PROBLEM_CONTENT_TYPE = "application/problem+json"


# Every problem type the API answers with: code → (HTTP status, what it means and what to do). Each problem's
# ``type`` is the URL of its entry on the /problems page (problem_type), so it resolves to this explanation.
PROBLEM_TYPES: dict[str, tuple[int, object]] = {
    "bad_request": (400, _l("The request is malformed. Read the detail, fix the request and send it again.")),
    "unauthenticated": (401, _l("No valid bearer token. Get a token from POST /oauth/token with your API client's "
                                "id and secret and send it as 'Authorization: Bearer <token>'.")),
    "forbidden": (403, _l("Your token or role may not do this: the WWW-Authenticate header names the missing scope. "
                          "Create an API client with that scope, or ask someone whose role may.")),
    "not_found": (404, _l("The object does not exist, or your account may not see it.")),
    "method_not_allowed": (405, _l("This path does not accept that method; the Allow header lists those it does.")),
    "conflict": (409, _l("The object's state does not allow this now (e.g. publishing a version not yet approved). "
                         "Read it again, then act on its current state.")),
    "precondition_failed": (412, _l("The object changed since you read it: its ETag no longer matches your "
                                    "If-Match. Read it again and reapply your change.")),
    "too_large": (413, _l("The upload is larger than the platform accepts; make it smaller.")),
    "unsupported_media_type": (415, _l("The body has the wrong content type; send the one the operation documents.")),
    "invalid": (422, _l("Some input is invalid: 'errors' names each field with its messages. Correct them and "
                        "send again.")),
    "too_many_requests": (429, _l("Too many requests: wait the seconds Retry-After says, then try again.")),
    "internal_error": (500, _l("Something went wrong on the platform's side; it has been logged. Try again later.")),
    "unavailable": (503, _l("A service the platform depends on is unavailable; try again later.")),
}

problems_bp = FlaskBlueprint("problems", __name__)

_LOCATIONS = {"json", "query", "form", "files", "headers", "cookies", "path"}


def flat_errors(errors, prefix: str = "") -> dict[str, list[str]]:
    """One shape of ``errors`` for every problem: {field: [message, ...]}. webargs nests messages under the request
    location ({"json": {"name": [...]}}) and marshmallow under nested fields; services give a message or a list of
    values. Nested fields are joined with dots; the location is left out (the operation documents it)."""
    flat: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = prefix if (not prefix and str(key) in _LOCATIONS) else f"{prefix}.{key}" if prefix else str(key)
            for field, messages in flat_errors(value, name).items():
                flat.setdefault(field, []).extend(messages)
    elif isinstance(errors, list | tuple):
        for value in errors:
            if isinstance(value, dict | list | tuple):
                for field, messages in flat_errors(value, prefix).items():
                    flat.setdefault(field, []).extend(messages)
            else:
                flat.setdefault(prefix or "body", []).append(str(value))
    else:
        flat.setdefault(prefix or "body", []).append(str(errors))
    return flat


@problems_bp.get("/problems")
def problem_types():
    """The page every problem ``type`` URI points into: one entry per code, anchored by the code."""
    return render_template("problems.html", problem_types=PROBLEM_TYPES)


def problem_type(code: str) -> str:
    """The URI of a problem type: its entry on the /problems page of the platform answering."""
    return url_for("problems.problem_types", _external=True, _anchor=code)


class ProblemSchema(Schema):
    """RFC 9457 problem details, as marketplace.app's error handlers write them for every error on /api."""

    type = fields.String(required=True, metadata={
        "example": "https://market.example.cn/problems#not_found",
        "description": "URI of the problem type; it resolves to the page explaining it and what to do"})
    title = fields.String(required=True, metadata={"example": "Not found"})
    status = fields.Integer(required=True, metadata={"example": 404})
    detail = fields.String(required=True, metadata={"description": "What was wrong, with which value, what to do"})
    code = fields.String(required=True, metadata={"description": "Machine-readable reason, e.g. not_found"})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), metadata={
        "description": "Messages per invalid field, when input was invalid: {field: [message, ...]}, nested fields "
                       "named with dots (e.g. json.contract.paths)"})


PAGE_HEADERS = {
    "Link": {"description": 'RFC 8288 links to the first, prev, next and last pages, e.g. '
                            '`<https://host/api/orders?page=2&page_size=20>; rel="next"`',
             "schema": {"type": "string"}},
    "X-Total-Count": {"description": "Items on all pages together", "schema": {"type": "integer"}},
    "X-Pagination": {"description": "The same facts as JSON: total, total_pages, page, page_size",
                     "schema": {"type": "string"}},
}


def _not_null(parameter: dict) -> None:
    """A query parameter is absent or has a value: the load_default=None of its schema field means "not given",
    not a null a client could send (generators turned those into three classes per enum)."""
    schema = parameter.get("schema")
    if parameter.get("in") != "query" or not isinstance(schema, dict):
        return
    schema.pop("nullable", None)
    if "default" in schema and schema["default"] is None:
        del schema["default"]
    if "enum" in schema:
        schema["enum"] = [value for value in schema["enum"] if value is not None]


def nullable_reference(self, field, ret, **kwargs) -> dict:
    """apispec attribute function: a nullable nested object as ``allOf: [$ref] + nullable`` (OpenAPI 3.0), instead of
    apispec's ``anyOf`` whose bare nullable-object branch matches first, so generated clients never parsed the
    referenced type."""
    branches = ret.get("anyOf")
    bare = {"type": "object", "nullable": True}
    if not branches or bare not in branches:
        return {}
    del ret["anyOf"]
    return {"allOf": [branch for branch in branches if branch != bare], "nullable": True}


def _access_text(scopes: tuple[str, ...] | None) -> str:
    if scopes is None:
        return "Public: no bearer token needed."
    if not scopes:
        return "Any valid bearer token."
    return "Bearer token with the scope " + " or ".join(f"`{s}`" for s in scopes) + "."


class AccessPlugin(BasePlugin):
    """apispec plugin: every operation's operationId, security and 401/403 answers, from its view function."""

    def __init__(self) -> None:
        self.app = None
        self.operation_ids: dict[str, str] = {}

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        rule = kwargs.get("rule")
        if rule is None or self.app is None or not operations:
            return
        view = self.app.view_functions[rule.endpoint]
        scopes = required_scopes(view)
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                _not_null(parameter)
            if rule.rule.startswith("/api/"):  # bearer-token operations; /oauth/token authenticates the client
                check_write_scopes(method, rule.rule, scopes)
            operation_id = operation.setdefault("operationId", view.__name__)
            where = f"{method.upper()} {rule.rule}"
            if self.operation_ids.setdefault(operation_id, where) != where:
                raise RuntimeError(f"operationId {operation_id} of {where} is already {self.operation_ids[operation_id]}")
            if "<" in rule.rule:  # an id or code in the path may name nothing the caller can see
                operation.setdefault("responses", {}).setdefault(404, "NOT_FOUND")
            if any(p.get("in") == "query" and p.get("name") == "page" for p in operation.get("parameters", [])):
                ok = operation.get("responses", {}).get(200) or operation.get("responses", {}).get("200")
                if isinstance(ok, dict):
                    ok.setdefault("headers", {}).update(PAGE_HEADERS)
            operation["description"] = "\n\n".join(filter(None, [operation.get("description"), _access_text(scopes)]))
            if scopes is None:
                operation.setdefault("security", [])
                continue
            operation["security"] = [{"oauth2": [scope]} for scope in scopes] or [{"oauth2": []}]
            responses = operation.setdefault("responses", {})
            responses.setdefault(401, "UNAUTHORIZED")
            responses.setdefault(403, "FORBIDDEN")
            if method == "post":  # marketplace.accounts.idempotency serves it on every bearer-token POST
                operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY))
                responses.setdefault(409, "CONFLICT")  # a lifecycle rule, a taken name, or the key's first request
                responses.setdefault(422, "UNPROCESSABLE_ENTITY")  # invalid input, or the key used for another
            elif method in {"put", "patch", "delete"}:
                responses.setdefault(409, "CONFLICT")


class TokenSchema(Schema):
    """RFC 6749 §5.1 access token response."""

    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"enum": ["Bearer"]})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds the token stays valid"})
    scope = fields.String(metadata={"description": "The scopes granted, space-separated"})


class TokenErrorSchema(Schema):
    """RFC 6749 §5.2 error response (the token endpoint answers in OAuth's format, not as problem details)."""

    error = fields.String(required=True, metadata={"enum": [
        "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
        "invalid_scope"]})
    error_description = fields.String()


class TokenRequestSchema(Schema):
    grant_type = fields.String(required=True, metadata={"enum": ["client_credentials"]})
    scope = fields.String(metadata={"description": "Space-separated scopes; default: all of the client's"})
    client_id = fields.String(metadata={"description": "With client_secret_post instead of HTTP Basic"})
    client_secret = fields.String(metadata={"description": "With client_secret_post instead of HTTP Basic"})


class ProblemApi(Api):
    """flask-smorest's Api, documenting error responses (per status and the default) as problem+json.

    flask-smorest's own error schema ({code: int, status: str, message}) and content type application/json do
    not match what the error handlers send, so clients generated from the document would reject every error."""

    ERROR_SCHEMA = ProblemSchema

    def __init__(self, app=None, *, spec_kwargs=None, **kwargs):
        self.access = AccessPlugin()
        spec_kwargs = dict(spec_kwargs or {})
        spec_kwargs["extra_plugins"] = [*spec_kwargs.get("extra_plugins", ()), self.access]
        super().__init__(app, spec_kwargs=spec_kwargs, **kwargs)

    def init_app(self, app, *, spec_kwargs=None):
        self.access.app = app
        self.access.operation_ids.clear()
        super().init_app(app, spec_kwargs=spec_kwargs)
        self.ma_plugin.converter.add_attribute_function(nullable_reference)
        # flask-smorest's X-Pagination schema: our lists page with Link headers (core.conventions), never with it.
        self.spec.components.schemas.pop("PaginationMetadata", None)

    def document_token_endpoint(self, rule) -> None:
        """Describe the OAuth 2 token endpoint (client credentials) as an operation too, so that a client generated
        from the document can get its own token; the oauth2 scheme's tokenUrl names the same endpoint."""
        for name, schema in (("TokenRequest", TokenRequestSchema), ("Token", TokenSchema),
                             ("TokenError", TokenErrorSchema)):
            self.spec.components.schema(name, schema=schema)
        error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenError"}}}}
        self.spec.path(rule=rule, operations={"post": {
            "operationId": "token_create", "tags": ["oauth"],
            "summary": "Exchange an API client's id and secret for a bearer token (client credentials).",
            "description": "HTTP Basic with the client id and secret (or client_secret_post).",
            "security": [{"clientSecretBasic": []}],
            "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
                "schema": {"$ref": "#/components/schemas/TokenRequest"}}}},
            "responses": {
                "200": {"description": "A bearer token", "headers": {"Cache-Control": {
                    "description": "no-store", "schema": {"type": "string"}}},
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Token"}}}},
                "400": {"description": "Invalid request, grant type or scope", **error},
                "401": {"description": "Unknown client or wrong secret", **error},
            }}})
        self.spec.tag({"name": "oauth", "description": "OAuth 2 token endpoint"})

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Any other error, as problem details", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


def secured(blp: Blueprint, *scopes: str) -> Callable:
    """Require a bearer token holding one of ``scopes`` (none: any valid token). The document's security requirement and
    401/403 answers are derived from this declaration by AccessPlugin; ``blp`` names the blueprint for readers."""
    return require_api(*scopes)
