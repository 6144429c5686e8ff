from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.schemas import PageQuery


class VendorCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=160))
    credit_code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    contact_email = fields.Email(load_default="")


class VendorOut(Schema):
    id = fields.Integer()
    name = fields.String()
    credit_code = fields.String()
    contact_email = fields.String()


class AppCreate(Schema):
    order_id = fields.Integer(required=True, strict=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    slug = fields.String(required=True, validate=validate.Length(min=1, max=63))
    summary = fields.String(load_default="", validate=validate.Length(max=4000))


class AppOut(Schema):
    id = fields.Integer()
    vendor_id = fields.Integer()
    order_id = fields.Integer()
    slug = fields.String()
    name = fields.String()
    summary = fields.String()
    created_at = fields.DateTime()


class AppQuery(PageQuery):
    order_id = fields.Integer(load_default=None)


class VersionUploadQuery(Schema):
    version = fields.String(required=True, validate=validate.Length(min=1, max=40),
                            metadata={"description": "Version label, e.g. 1.0.0; must match govapp.toml"})


class VersionOut(Schema):
    id = fields.Integer()
    app_id = fields.Integer()
    version = fields.String()
    bundle_sha256 = fields.String()
    bundle_size = fields.Integer()
    status = fields.String()
    uploaded_at = fields.DateTime()
    approved_at = fields.DateTime(allow_none=True)
    rejected_at = fields.DateTime(allow_none=True)
    rejection_reason = fields.String(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
