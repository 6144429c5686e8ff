from __future__ import annotations

from flask import current_app, request, url_for
from flask_smorest import Blueprint

from core.errors import UnsupportedMediaType
from core.storage import FileBlobStore
from marketplace.apidoc import created, location_of, secured
from marketplace.schemas import PageQuery, page_headers
from marketplace.vendors import services
from marketplace.vendors.schemas import (
    AppCreate,
    AppOut,
    AppQuery,
    ReasonIn,
    ReportOut,
    VendorCreate,
    VendorOut,
    VersionOut,
    VersionQuery,
    VersionUploadQuery,
)

blp = Blueprint("vendors_api", __name__, url_prefix="/api", description="Vendors, apps and app versions")
# What a bundle upload may say it is (the SDK sends application/gzip); no Content-Type at all is taken as the bundle.
BUNDLE_TYPES = {"application/gzip", "application/x-gzip", "application/x-tar", "application/octet-stream"}


_COMPUTED = {"status", "regression", "certification", "progress"}


def _version_out(view: dict) -> dict:
    row, cert = view["row"], view["certification"]
    out = {c: getattr(row, c) for c in VersionOut().fields if c not in _COMPUTED}
    out.update(status=view["status"], regression=view["regression"], certification=cert,
               progress={"done": cert["cases_done"], "total": cert["cases_total"]} if cert else None)
    return out


@blp.get("/vendors")
@blp.arguments(PageQuery, location="query")
@blp.response(200, VendorOut(many=True))
@secured(blp, "apps:read")
def vendor_list(actor, args):
    """Vendors, by name; filter with q."""
    page = services.vendor_list(actor, **args)
    return page.items, page_headers(page)


@blp.post("/vendors")
@blp.arguments(VendorCreate)
@blp.response(201, VendorOut)
@blp.doc(**location_of("vendor_get", {"vendor_id": "id"}))
@secured(blp, "vendors:write")
def vendor_create(actor, args):
    """Register a vendor (admins); the unified social credit code is checked."""
    vendor = services.vendor_create(actor, **args)
    return created(vendor, url_for("vendors_api.vendor_get", vendor_id=vendor.id))


@blp.get("/vendors/<int:vendor_id>")
@blp.response(200, VendorOut)
@secured(blp, "apps:read")
def vendor_get(actor, vendor_id):
    """One vendor."""
    return services.vendor_get(actor, vendor_id)


@blp.get("/apps")
@blp.arguments(AppQuery, location="query")
@blp.response(200, AppOut(many=True))
@secured(blp, "apps:read")
def app_list(actor, args):
    """Your vendor's apps; for department staff the apps competing for your orders."""
    page = services.app_list(actor, **args)
    return page.items, page_headers(page)


@blp.post("/apps")
@blp.arguments(AppCreate)
@blp.response(201, AppOut)
@blp.doc(**location_of("app_get", {"app_id": "id"}, "version_list", "version_upload"))
@secured(blp, "apps:write")
def app_create(actor, args):
    """Enter a new app for an open order."""
    new = services.app_create(actor, **args)
    return created(new, url_for("vendors_api.app_get", app_id=new.id))


@blp.get("/apps/<int:app_id>")
@blp.response(200, AppOut)
@secured(blp, "apps:read")
def app_get(actor, app_id):
    """One app."""
    return services.app_get(actor, app_id)


@blp.get("/apps/<int:app_id>/versions")
@blp.response(200, VersionOut(many=True))
@secured(blp, "apps:read")
def version_list(actor, app_id):
    """The app's versions, oldest first, with their status and certification."""
    return [_version_out(services.version_view(actor, v.id)) for v in services.app_get(actor, app_id).versions]


@blp.post("/apps/<int:app_id>/versions")
@blp.arguments(VersionUploadQuery, location="query")
@blp.response(201, VersionOut)
@blp.doc(**location_of("version_get", {"version_id": "id"}, "version_report", "version_approve", "version_reject",
                        "version_publish", "version_recertify", "version_withdraw"))
@blp.doc(requestBody={"required": True, "content": {"application/gzip": {"schema": {"type": "string",
                                                                                   "format": "binary"}}}})
@secured(blp, "apps:write")
def version_upload(actor, args, app_id):
    """Upload a bundle (.tar.gz from `govapp package`) as the raw request body. It is streamed to storage
    with a size cap and its sha256 computed on the way."""
    if request.mimetype and request.mimetype not in BUNDLE_TYPES:
        raise UnsupportedMediaType(f"the bundle is sent as the raw request body with Content-Type: application/gzip, "
                                   f"not as {request.mimetype} (e.g. curl --data-binary @bundle.tar.gz "
                                   "-H 'Content-Type: application/gzip', or `govapp upload`)")
    store = FileBlobStore(current_app.config["BUNDLE_STORE"])
    row = services.version_upload(actor, app_id, version=args["version"], stream=request.stream, store=store,
                                  max_bytes=current_app.config["MAX_BUNDLE_BYTES"])
    return created(_version_out(services.version_view(actor, row.id)),
                   url_for("vendors_api.version_get", version_id=row.id))


@blp.get("/versions")
@blp.arguments(VersionQuery, location="query")
@blp.response(200, VersionOut(many=True))
@secured(blp, "apps:read")
def version_queue(actor, args):
    """Versions you may see, filtered by status, order or app: a queue in one call (e.g. status=certified)."""
    page = services.version_list(actor, **args)
    return [_version_out(services.version_view(actor, row.id)) for row in page.items], page_headers(page)


@blp.get("/versions/<int:version_id>")
@blp.response(200, VersionOut)
@secured(blp, "apps:read")
def version_get(actor, version_id):
    """A version's lifecycle status and live certification progress."""
    return _version_out(services.version_view(actor, version_id))


@blp.get("/versions/<int:version_id>/report")
@blp.response(200, ReportOut)
@secured(blp, "apps:read")
def version_report(actor, version_id):
    """The certification report: the department sees everything; the vendor public-case diffs and hidden-case
    counts per category only."""
    return services.version_report(actor, version_id)


@blp.post("/versions/<int:version_id>/recertify")
@blp.response(200, VersionOut)
@secured(blp, "apps:write", "versions:review")
def version_recertify(actor, version_id):
    """Certify a version again after its run ended in an infrastructure error (its vendor, the order's department
    or an admin); asking while it is queued or testing changes nothing."""
    services.version_recertify(actor, version_id)
    return _version_out(services.version_view(actor, version_id))


@blp.post("/versions/<int:version_id>/approve")
@blp.response(200, VersionOut)
@secured(blp, "versions:review")
def version_approve(actor, version_id):
    """The order's department approves a certified version."""
    services.version_approve(actor, version_id)
    return _version_out(services.version_view(actor, version_id))


@blp.post("/versions/<int:version_id>/reject")
@blp.arguments(ReasonIn)
@blp.response(200, VersionOut)
@secured(blp, "versions:review")
def version_reject(actor, args, version_id):
    """Reject a certified version with the reason (the order's department)."""
    services.version_reject(actor, version_id, args["reason"])
    return _version_out(services.version_view(actor, version_id))


@blp.post("/versions/<int:version_id>/suspend")
@blp.arguments(ReasonIn)
@blp.response(200, VersionOut)
@secured(blp, "versions:review")
def version_suspend(actor, args, version_id):
    """Suspend a published version with the reason (the order's department); it stops serving."""
    services.version_suspend(actor, version_id, args["reason"])
    return _version_out(services.version_view(actor, version_id))


@blp.post("/versions/<int:version_id>/publish")
@blp.response(200, VersionOut)
@secured(blp, "apps:write", "versions:review")
def version_publish(actor, version_id):
    """Put an approved version live (its vendor or the order's department); the previous live one is superseded."""
    services.version_publish(actor, version_id)
    return _version_out(services.version_view(actor, version_id))


@blp.post("/versions/<int:version_id>/withdraw")
@blp.response(200, VersionOut)
@secured(blp, "apps:write")
def version_withdraw(actor, version_id):
    """Withdraw a version (its vendor); a published one stops serving."""
    services.version_withdraw(actor, version_id)
    return _version_out(services.version_view(actor, version_id))
