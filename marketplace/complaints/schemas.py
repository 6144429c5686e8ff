from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.complaints.models import STATUSES
from marketplace.complaints.services import OUTCOMES
from marketplace.schemas import PageQuery


class ComplaintOut(Schema):
    """A complaint as the vendor and the department handling it see it."""

    id = fields.Integer()
    reference = fields.String()
    transaction_id = fields.Integer(allow_none=True)
    app_id = fields.Integer()
    theme = fields.String()
    description = fields.String()
    status = fields.String()
    filed_at = fields.DateTime()
    due_at = fields.DateTime()
    acknowledged_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    response = fields.String(allow_none=True)
    public_outcome = fields.String(allow_none=True)
    responder_side = fields.String(allow_none=True)


class ComplaintPublicOut(Schema):
    reference = fields.String()
    app_id = fields.Integer()
    theme = fields.String()
    status = fields.String()
    filed_at = fields.DateTime()
    due_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    answered_late = fields.Boolean(allow_none=True)
    overdue = fields.Boolean()
    public_outcome = fields.String(allow_none=True)


class ComplaintClose(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    response = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    public_outcome = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ComplaintQuery(PageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
