from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.roles import Role
from marketplace.schemas import ROW_ID


class MeOut(Schema):
    id = fields.Integer()
    email = fields.String()
    display_name = fields.String()
    role = fields.String()
    department_id = fields.Integer(allow_none=True)
    vendor_id = fields.Integer(allow_none=True)


class UserCreate(Schema):
    email = fields.Email(required=True)
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    password = fields.String(load_default=None, validate=validate.Length(min=10, max=1024), load_only=True)
    department_id = fields.Integer(load_default=None, strict=True, validate=ROW_ID)
    vendor_id = fields.Integer(load_default=None, strict=True, validate=ROW_ID)
    resident_id = fields.String(load_default=None, validate=validate.Length(equal=18))


class ClientCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    scopes = fields.List(fields.String(), required=True, validate=validate.Length(min=1))


class ClientOut(Schema):
    client_id = fields.String()
    name = fields.String()
    scopes = fields.List(fields.String())
    revoked_at = fields.DateTime(allow_none=True)


class ClientCreated(ClientOut):
    client_secret = fields.String(metadata={"description": "Shown once; store it now"})
