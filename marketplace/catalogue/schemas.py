from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.schemas import FEN, ROW_ID, PageQuery


class DepartmentCreate(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    name_en = fields.String(load_default="", validate=validate.Length(max=160))
    description = fields.String(load_default="", validate=validate.Length(max=4000))


class DepartmentOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    name_en = fields.String()
    description = fields.String()


class Material(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    required = fields.Boolean(load_default=True)
    note = fields.String(load_default="", validate=validate.Length(max=500))


class ServiceItemCreate(Schema):
    department_id = fields.Integer(required=True, strict=True, validate=ROW_ID)
    code = fields.String(required=True, validate=validate.Length(min=1, max=60))
    name = fields.String(required=True, validate=validate.Length(min=1, max=160))
    name_en = fields.String(load_default="", validate=validate.Length(max=200))
    description = fields.String(load_default="", validate=validate.Length(max=4000))
    materials = fields.List(fields.Nested(Material), load_default=list)
    time_limit_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=3650))
    trips = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0, max=20))
    fee_fen = fields.Integer(load_default=0, strict=True, validate=FEN)
    channels = fields.List(fields.String(validate=validate.Length(max=100)), load_default=list)


class ServiceItemOut(Schema):
    id = fields.Integer()
    department_id = fields.Integer()
    code = fields.String()
    name = fields.String()
    name_en = fields.String()
    description = fields.String()
    materials = fields.List(fields.Nested(Material))
    time_limit_days = fields.Integer()
    trips = fields.Integer()
    fee_fen = fields.Integer()
    channels = fields.List(fields.String())
    synonyms = fields.List(fields.String(), metadata={"description": "search words the department keeps"})


class ServiceItemQuery(PageQuery):
    department_id = fields.Integer(load_default=None, validate=ROW_ID)
