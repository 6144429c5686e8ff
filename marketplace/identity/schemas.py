from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.pagination import MAX_PAGE, MAX_PAGE_SIZE
from marketplace.schemas import ROW_ID


class AccessLogQuery(Schema):
    citizen_id = fields.Integer(validate=ROW_ID, metadata={"description": "Only this citizen's reads"})
    app_id = fields.Integer(validate=ROW_ID, metadata={"description": "Only this app's reads"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class AccessLogOut(Schema):
    id = fields.Integer()
    citizen_id = fields.Integer(attribute="user_id")
    app_id = fields.Integer(allow_none=True)
    app_name = fields.String()
    fields_read = fields.List(fields.String(), attribute="fields", data_key="fields")
    purpose = fields.String()
    via = fields.String(metadata={"description": "identity_token, or the department API route the app called"})
    occurred_at = fields.DateTime()
    last_at = fields.DateTime(metadata={"description": "Last of `count` identical reads within a minute"})
    count = fields.Integer()
