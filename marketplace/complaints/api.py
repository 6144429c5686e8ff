"""Complaints: routed to the app's vendor and the order's department, answered here; public outcomes per app."""

from __future__ import annotations

from flask_smorest import Blueprint

from marketplace.apidoc import secured
from marketplace.complaints import services
from marketplace.complaints.schemas import ComplaintClose, ComplaintOut, ComplaintPublicOut, ComplaintQuery
from marketplace.schemas import PageQuery, page_headers
from marketplace.vendors.services import app_get_published

blp = Blueprint("complaints_api", __name__, url_prefix="/api", description="Complaints (投诉)")


@blp.get("/complaints")
@blp.arguments(ComplaintQuery, location="query")
@blp.response(200, ComplaintOut(many=True))
@secured(blp, "feedback:read")
def complaint_list(actor, args):
    """Complaints routed to your vendor or department, open ones first by deadline."""
    page = services.complaint_list(actor, status=args["status"], page=args["page"], page_size=args["page_size"])
    return page.items, page_headers(page)


@blp.get("/complaints/<int:complaint_id>")
@blp.response(200, ComplaintOut)
@secured(blp, "feedback:read")
def complaint_get(actor, complaint_id):
    """One complaint routed to you."""
    return services.complaint_get(actor, complaint_id)


@blp.post("/complaints/<int:complaint_id>/acknowledge")
@blp.response(200, ComplaintOut)
@secured(blp, "feedback:write")
def complaint_acknowledge(actor, complaint_id):
    """Confirm you are handling the complaint."""
    return services.complaint_acknowledge(actor, complaint_id)


@blp.post("/complaints/<int:complaint_id>/close")
@blp.arguments(ComplaintClose)
@blp.response(200, ComplaintOut)
@secured(blp, "feedback:write")
def complaint_close(actor, args, complaint_id):
    """Answer the complaint: resolved or rejected, the answer to the citizen, the public outcome."""
    return services.complaint_close(actor, complaint_id, **args)


@blp.get("/apps/<int:app_id>/complaints")
@blp.arguments(PageQuery, location="query")
@blp.response(200, ComplaintPublicOut(many=True))
def complaint_list_public(args, app_id):
    """A published app's complaints, anonymised (public)."""
    app_get_published(app_id)
    page = services.complaint_list_public(app_id, page=args["page"], page_size=args["page_size"])
    return [services.public_view(c) for c in page.items], page_headers(page)
