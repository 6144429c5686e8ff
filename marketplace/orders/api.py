from __future__ import annotations

import re

from flask import request, url_for
from flask_smorest import Blueprint

from core.errors import ValidationError
from marketplace.apidoc import LOCATION, created, location_of, secured
from marketplace.orders import services
from marketplace.orders.schemas import (
    AnswerCreate,
    OrderCreate,
    OrderOut,
    OrderQuery,
    OrderUpdate,
    QuestionCreate,
    QuestionOut,
    SuiteOut,
    SuiteQuery,
)
from marketplace.schemas import page_headers

blp = Blueprint("orders_api", __name__, url_prefix="/api/orders", description="Requirement orders")


@blp.get("")
@blp.arguments(OrderQuery, location="query")
@blp.response(200, OrderOut(many=True))
@secured(blp, "orders:read")
def order_list(actor, args):
    """Orders you may see, newest first; filter by status, department and search text."""
    page = services.order_list(actor, **args)
    return page.items, page_headers(page)


@blp.post("")
@blp.arguments(OrderCreate)
@blp.response(201, OrderOut)
@blp.doc(**location_of("order_get", {"order_id": "id"}, "order_update", "order_publish", "suite_get",
                        "question_list", "question_ask"))
@secured(blp, "orders:write")
def order_create(actor, args):
    """Create a draft order for one of your department's service items."""
    order = services.order_create(actor, **args)
    return created(order, url_for("orders_api.order_get", order_id=order.id))


ETAG = {"ETag": {"description": "The order's revision: send it back in If-Match to update only that revision",
                 "schema": {"type": "string"}}}
IF_MATCH = {"in": "header", "name": "If-Match", "required": False, "schema": {"type": "string"},
            "description": "The ETag of the order as you read it; 412 if someone changed it since"}


def _tagged(order):
    return order, {"ETag": f'"{order.revision}"'}


def _if_match() -> int | None:
    """The revision named by If-Match (a strong ETag), None without one; any other value matches no revision."""
    value = request.headers.get("If-Match")
    if value is None or value.strip() == "*":
        return None
    tag = value.split(",")[0].strip()
    return int(tag[1:-1]) if re.fullmatch(r'"\d{1,9}"', tag) else 0


@blp.get("/<int:order_id>")
@blp.response(200, OrderOut, headers=ETAG)
@secured(blp, "orders:read")
def order_get(actor, order_id):
    """One order with its contract, scopes and price schedule."""
    return _tagged(services.order_get(actor, order_id))


@blp.patch("/<int:order_id>")
@blp.arguments(OrderUpdate)
@blp.response(200, OrderOut, headers=ETAG)
@blp.alt_response(412, response="PRECONDITION_FAILED")
@blp.doc(parameters=[IF_MATCH])
@secured(blp, "orders:write")
def order_update(actor, args, order_id):
    """Change the fields editable in the order's status; send If-Match with its ETag against lost updates."""
    expected = args.pop("expected_revision", None)
    return _tagged(services.order_update(actor, order_id, args, expected_revision=expected, if_match=_if_match()))


@blp.post("/<int:order_id>/publish")
@blp.response(200, OrderOut)
@secured(blp, "orders:write")
def order_publish(actor, order_id):
    """Open a draft order: vendors may now enter apps for it."""
    return services.order_publish(actor, order_id)


@blp.post("/<int:order_id>/close")
@blp.response(200, OrderOut)
@secured(blp, "orders:write")
def order_close(actor, order_id):
    """Close an open order: no new apps; published apps keep serving."""
    return services.order_close(actor, order_id)


@blp.post("/<int:order_id>/archive")
@blp.response(200, OrderOut)
@secured(blp, "orders:write")
def order_archive(actor, order_id):
    """Archive a closed order."""
    return services.order_archive(actor, order_id)


@blp.get("/<int:order_id>/suite")
@blp.arguments(SuiteQuery, location="query")
@blp.response(200, SuiteOut)
@secured(blp, "orders:read")
def suite_get(actor, args, order_id):
    """The acceptance suite; vendors get public cases and hidden-case counts only."""
    return services.suite_get(actor, order_id, args["version"])


@blp.post("/<int:order_id>/suite")
@blp.response(201, SuiteOut)
@blp.doc(**LOCATION)
@secured(blp, "orders:write")
def suite_add(actor, order_id):
    """Add a new suite version (body: the suite document as JSON)."""
    document = request.get_json(silent=True)
    if document is None:
        raise ValidationError("send the suite document as a JSON object (Content-Type: application/json)")
    suite = services.suite_add(actor, order_id, document)
    return created(services.suite_get(actor, order_id, suite.version),
                   url_for("orders_api.suite_get", order_id=order_id, version=suite.version))


@blp.get("/<int:order_id>/questions")
@blp.response(200, QuestionOut(many=True))
@secured(blp, "orders:read")
def question_list(actor, order_id):
    """Clarification questions and the department's answers (askers are anonymous)."""
    return services.question_list(actor, order_id)


@blp.post("/<int:order_id>/questions")
@blp.arguments(QuestionCreate)
@blp.response(201, QuestionOut)
@secured(blp, "questions:write")
def question_ask(actor, args, order_id):
    """Ask a public clarification question on an order (you stay anonymous)."""
    return services.question_ask(actor, order_id, args["text"])


@blp.put("/questions/<int:question_id>/answer")
@blp.arguments(AnswerCreate)
@blp.response(200, QuestionOut)
@secured(blp, "orders:write")
def question_answer(actor, args, question_id):
    """Answer a clarification question publicly (the order's department)."""
    return services.question_answer(actor, question_id, args["answer"])
