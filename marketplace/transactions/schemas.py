from __future__ import annotations

from marshmallow import Schema, fields


class TransactionEventOut(Schema):
    kind = fields.String()
    occurred_at = fields.DateTime()
    detail = fields.Dict()


class TransactionOut(Schema):
    id = fields.Integer()
    case_number = fields.String()
    app_id = fields.Integer()
    order_id = fields.Integer()
    service_item_id = fields.Integer()
    status = fields.String()
    department_case_number = fields.String(allow_none=True)
    started_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    rejected_at = fields.DateTime(allow_none=True)
    failed_at = fields.DateTime(allow_none=True)
    decision_reasons = fields.List(fields.String())
    events = fields.List(fields.Nested(TransactionEventOut))
