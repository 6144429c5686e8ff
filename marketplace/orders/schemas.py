from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.schemas import FEN, INT32_MAX, ROW_ID, PageQuery

STATUSES = ["draft", "open", "closed", "archived"]


class _Editable(Schema):
    title = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(validate=validate.Length(max=20000))
    contract = fields.Dict(metadata={"description": "OpenAPI 3 document of what the app must serve"})
    dept_scopes = fields.List(fields.String(), metadata={"description": "Department APIs the app may call"})
    citizen_scopes = fields.List(fields.String(), metadata={"description": "Citizen data the app may ask for"})
    fee_per_transaction_fen = fields.Integer(strict=True, validate=FEN)
    quarterly_budget_fen = fields.Integer(strict=True, validate=FEN)
    rating_multipliers = fields.List(fields.List(fields.Integer(strict=True, validate=validate.Range(min=0, max=INT32_MAX)),
                                                 validate=validate.Length(equal=2)),
                                     metadata={"description": "[stars×10, multiplier in basis points] points"})
    award_eligible = fields.Boolean()


class OrderCreate(_Editable):
    service_item_id = fields.Integer(required=True, strict=True, validate=ROW_ID)
    slug = fields.String(required=True, validate=validate.Length(min=1, max=63))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    contract = fields.Dict(required=True)
    fee_per_transaction_fen = fields.Integer(required=True, strict=True, validate=FEN)
    quarterly_budget_fen = fields.Integer(required=True, strict=True, validate=FEN)


class OrderUpdate(_Editable):
    expected_revision = fields.Integer(strict=True, load_default=None, validate=validate.Range(min=1, max=INT32_MAX),
                                       metadata={"description": "The revision you edited; a stale one gives 409"})


class OrderOut(Schema):
    id = fields.Integer()
    slug = fields.String()
    department_id = fields.Integer()
    service_item_id = fields.Integer()
    title = fields.String()
    description = fields.String()
    status = fields.String()
    contract = fields.Dict()
    dept_scopes = fields.List(fields.String())
    citizen_scopes = fields.List(fields.String())
    currency = fields.String()
    fee_per_transaction_fen = fields.Integer()
    quarterly_budget_fen = fields.Integer()
    rating_multipliers = fields.List(fields.List(fields.Integer()))
    award_eligible = fields.Boolean()
    current_suite_version = fields.Function(lambda o: o.current_suite.version if o.current_suite else None,
                                            metadata={"type": "integer", "nullable": True})
    revision = fields.Integer()
    created_at = fields.DateTime()
    published_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    archived_at = fields.DateTime(allow_none=True)


class OrderQuery(PageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    department_id = fields.Integer(load_default=None, validate=ROW_ID)


class SuiteQuery(Schema):
    version = fields.Integer(load_default=None, validate=validate.Range(min=1, max=INT32_MAX))


class SuiteOut(Schema):
    order_id = fields.Integer()
    version = fields.Integer()
    sha256 = fields.String()
    created_at = fields.DateTime()
    complete = fields.Boolean(metadata={"description": "False when hidden cases were left out for you"})
    document = fields.Dict()


class QuestionCreate(Schema):
    text = fields.String(required=True, validate=validate.Length(min=5, max=4000))


class AnswerCreate(Schema):
    answer = fields.String(required=True, validate=validate.Length(min=1, max=8000))


class QuestionOut(Schema):
    """Never carries who asked."""

    id = fields.Integer()
    order_id = fields.Integer()
    text = fields.String()
    asked_at = fields.DateTime()
    answer = fields.String(allow_none=True)
    answered_at = fields.DateTime(allow_none=True)
