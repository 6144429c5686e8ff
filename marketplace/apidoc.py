"""How the REST API describes itself: bearer-token protection declared once for both enforcement and the
OpenAPI document, and the error responses every endpoint may give, as the problem details they really are."""

from __future__ import annotations

import http
from collections.abc import Callable

from flask_smorest import Api, Blueprint
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields

from core.auth import require_api

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ProblemSchema(Schema):
    """RFC 9457 problem details, as marketplace.app's error handlers write them for every error on /api."""

    type = fields.String(required=True, metadata={"example": "about:blank#not_found"})
    title = fields.String(required=True, metadata={"example": "Not found"})
    status = fields.Integer(required=True, metadata={"example": 404})
    detail = fields.String(required=True, metadata={"description": "What was wrong, with which value, what to do"})
    code = fields.String(required=True, metadata={"description": "Machine-readable reason, e.g. not_found"})
    errors = fields.Dict(metadata={"description": "Messages per invalid field, when input was invalid"})


class ProblemApi(Api):
    """flask-smorest's Api, documenting error responses (per status and the default) as problem+json.

    flask-smorest's own error schema ({code: int, status: str, message}) and content type application/json do
    not match what the error handlers send, so clients generated from the document would reject every error."""

    ERROR_SCHEMA = ProblemSchema

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
    """Require a bearer token holding ``scopes``; document that, and the 401 and 403 it answers otherwise."""

    def decorate(fn: Callable) -> Callable:
        fn = blp.doc(security=[{"oauth2": list(scopes)}])(require_api(*scopes)(fn))
        fn = blp.alt_response(401, response="UNAUTHORIZED")(fn)
        return blp.alt_response(403, response="FORBIDDEN")(fn)

    return decorate
