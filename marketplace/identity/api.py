from __future__ import annotations

from flask_smorest import Blueprint

from marketplace.apidoc import secured
from marketplace.identity import services
from marketplace.identity.schemas import AccessLogOut, AccessLogQuery
from marketplace.schemas import page_headers

blp = Blueprint("identity_api", __name__, url_prefix="/api/identity", description="Citizen data-access log")


@blp.get("/access-log")
@blp.arguments(AccessLogQuery, location="query")
@blp.response(200, AccessLogOut(many=True))
@secured(blp, "audit:read")
def access_log_list(actor, args):
    """Every read of citizen data through the platform, newest first (admins and auditors)."""
    page = services.access_log_list(actor, **args)
    return page.items, page_headers(page)
