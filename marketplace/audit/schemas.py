from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.schemas import PageQuery


class AuditQuery(PageQuery):
    action = fields.String(load_default=None, validate=validate.Length(max=80))
    object_type = fields.String(load_default=None, validate=validate.Length(max=60))
    object_id = fields.String(load_default=None, validate=validate.Length(max=64))


class AuditOut(Schema):
    id = fields.Integer()
    occurred_at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    actor_label = fields.String()
    actor_role = fields.String()
    action = fields.String()
    object_type = fields.String()
    object_id = fields.String()
    department_id = fields.Integer(allow_none=True)
    vendor_id = fields.Integer(allow_none=True)
    payload = fields.Dict()
