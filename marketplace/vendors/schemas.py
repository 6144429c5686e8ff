from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.schemas import ROW_ID, PageQuery
from sandbox.models import STATES as CERTIFICATION_STATES

# A version's place in its lifecycle (vendors.services.version_status): uploaded, then its certification run's
# state, then the department's and the vendor's decisions.
VERSION_STATUSES = ("uploaded", *CERTIFICATION_STATES, "approved", "rejected", "published", "superseded",
                    "suspended", "withdrawn")


class VendorCreate(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=160))
    credit_code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    contact_email = fields.Email(metadata={"description": "Where the platform writes to the vendor (optional)"})


class VendorOut(Schema):
    id = fields.Integer()
    name = fields.String()
    credit_code = fields.String()
    contact_email = fields.String()


class AppCreate(Schema):
    order_id = fields.Integer(required=True, strict=True, validate=ROW_ID)
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
    order_id = fields.Integer(load_default=None, validate=ROW_ID)


class VersionQuery(PageQuery):
    class Meta:
        exclude = ("q",)

    status = fields.String(load_default=None, validate=validate.OneOf(VERSION_STATUSES),
                           metadata={"description": "e.g. certified: the versions awaiting the department's approval"})
    order_id = fields.Integer(load_default=None, validate=ROW_ID)
    app_id = fields.Integer(load_default=None, validate=ROW_ID)


class VersionUploadQuery(Schema):
    version = fields.String(required=True, validate=validate.Length(min=1, max=40),
                            metadata={"description": "Version label, e.g. 1.0.0; must match govapp.toml"})


_INTEGER, _NUMBER, _STRING = {"type": "integer"}, {"type": "number"}, {"type": "string"}
# The certification report's shape (sandbox.harness.certify; the vendor's view as sandbox.services.vendor_view
# cuts it), documented so generated clients read it typed; further keys may appear in later report versions.
REPORT_DOCUMENT = {
    "type": "object", "additionalProperties": True,
    "description": "The sandbox's report: the department's view holds every case; the vendor's the public cases "
                   "and, in 'hidden', passed/total per category of the hidden ones",
    "properties": {
        "report_version": _INTEGER, "backend": _STRING, "image_hash": _STRING, "bundle_sha256": _STRING,
        "certified": {"type": "boolean"}, "duration_s": _NUMBER,
        "summary": {"type": "object", "properties": {
            "total": _INTEGER, "passed": _INTEGER, "ratio": _NUMBER, "latency_p95_ms": _NUMBER,
            "violations": _INTEGER,
            "outside_delegation": {"type": "integer", "description": "Department calls refused outside the case "
                                                                    "citizen's delegation (any fails the run)"}}},
        "verdicts": {"type": "object", "additionalProperties": _STRING,
                     "description": "Resource verdicts (timeout, memory, pids, output, start, scope_violation, "
                                    "delegation)"},
        "cases": {"type": "array", "items": {"type": "object", "properties": {
            "case_id": _STRING, "category": _STRING, "visibility": {"type": "string", "enum": ["public", "hidden"]},
            "passed": {"type": "boolean"}, "status": {"type": "integer", "nullable": True}, "latency_ms": _NUMBER,
            "violations": _INTEGER, "verdict": {"type": "string", "nullable": True},
            "failures": {"type": "array", "items": {"type": "object", "properties": {
                "kind": _STRING, "message": _STRING,
                "finding": {"type": "string", "description": "For kind delegation: the kind of read, without data"}}}}}}},
        "hidden": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "passed": _INTEGER, "total": _INTEGER}}},
    },
}


class ProgressOut(Schema):
    done = fields.Integer(required=True, metadata={"description": "Cases run so far"})
    total = fields.Integer(required=True, metadata={"description": "Cases in the run"})


class CertificationOut(Schema):
    run_id = fields.Integer()
    state = fields.String(validate=validate.OneOf(CERTIFICATION_STATES))
    suite_version = fields.String()
    cases_done = fields.Integer()
    cases_total = fields.Integer()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    current_suite = fields.Boolean(metadata={"description": "Whether the run used the order's current suite"})


class VersionOut(Schema):
    id = fields.Integer()
    app_id = fields.Integer()
    version = fields.String()
    bundle_sha256 = fields.String()
    bundle_size = fields.Integer()
    status = fields.String(validate=validate.OneOf(VERSION_STATUSES))
    uploaded_at = fields.DateTime()
    approved_at = fields.DateTime(allow_none=True)
    rejected_at = fields.DateTime(allow_none=True)
    rejection_reason = fields.String(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    superseded_at = fields.DateTime(allow_none=True)
    suspended_at = fields.DateTime(allow_none=True)
    suspension_reason = fields.String(allow_none=True)
    withdrawn_at = fields.DateTime(allow_none=True)
    regression = fields.Boolean(metadata={"description": "Published, but failing the order's newest suite"})
    certification = fields.Nested(CertificationOut, allow_none=True)
    progress = fields.Nested(ProgressOut, allow_none=True, metadata={"description": "While certification runs"})


class ReasonIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class ReportOut(Schema):
    id = fields.Integer()
    app_version_id = fields.Integer()
    state = fields.String(validate=validate.OneOf(CERTIFICATION_STATES))
    suite_version = fields.String()
    progress = fields.Dict()
    error = fields.String(allow_none=True)
    view = fields.String(metadata={"description": "'department' (everything) or 'vendor' (no hidden-case detail)"})
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    report = fields.Dict(allow_none=True, metadata=REPORT_DOCUMENT)
