from __future__ import annotations

from flask_smorest import Blueprint

from marketplace.apidoc import secured
from marketplace.audit import services
from marketplace.audit.schemas import AuditOut, AuditQuery
from marketplace.schemas import page_headers

blp = Blueprint("audit_api", __name__, url_prefix="/api/audit", description="The audit log")


@blp.get("")
@blp.arguments(AuditQuery, location="query")
@blp.response(200, AuditOut(many=True))
@secured(blp, "audit:read")
def audit_list(actor, args):
    """Audit events, newest first (admins and auditors)."""
    page = services.audit_list(actor, **args)
    return page.items, page_headers(page)
