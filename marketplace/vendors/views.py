"""Vendor pages: "my apps", entering an app for an open order, an app with its versions, uploading a version.
Department staff see the apps competing for their orders; oversight roles see all."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.auth import require_role, web_actor
from core.errors import Conflict, TooLarge, ValidationError
from core.roles import Role
from core.storage import FileBlobStore
from marketplace.home.forms import show_service_errors
from marketplace.orders import services as orders
from marketplace.vendors import services
from marketplace.vendors.forms import AppForm, AppSearchForm, VersionUploadForm

bp = Blueprint("vendors", __name__)

# Room for the multipart envelope around the bundle itself.
MULTIPART_OVERHEAD = 64 * 1024


@bp.get("/apps")
def app_list():
    actor = web_actor()
    form = AppSearchForm(request.args)
    form.validate()
    page_number = 1 if form.page.errors else (form.page.data or 1)
    q = (form.q.data or "").strip() if not form.q.errors else ""
    page = services.app_list(actor, q=q, page=page_number, page_size=current_app.config["PAGE_SIZE"])
    return render_template("vendors/app_list.html", form=form, page=page, q=q,
                           statuses={a.id: _latest_status(a) for a in page.items})


def _latest_status(app) -> str | None:
    return services.version_status(app.versions[-1]) if app.versions else None


def _order_choices(actor) -> dict[int, str]:
    page = orders.order_list(actor, status="open", page_size=100)
    return {o.id: f"{o.title} ({o.department.name})" for o in page.items}


@bp.route("/apps/new", methods=["GET", "POST"])
def app_new():
    actor = web_actor()
    require_role(actor, Role.VENDOR_MEMBER, action="enter apps for orders")
    form = AppForm()
    form.order_id.choices = _order_choices(actor)
    if request.method == "GET" and request.args.get("order_id", type=int):
        form.order_id.data = request.args.get("order_id", type=int)
    if form.validate_on_submit():
        try:
            app = services.app_create(actor, order_id=form.order_id.data, name=form.name.data,
                                      slug=form.slug.data.strip(), summary=form.summary.data or "")
        except (ValidationError, Conflict) as exc:
            show_service_errors(form, exc.errors or {"slug" if "slug" in exc.message else "name": exc.message},
                                exc.message)
            return render_template("vendors/app_form.html", form=form), exc.status
        flash(_("App created. Upload its first version when the bundle is ready."), "success")
        return redirect(url_for("vendors.app_show", app_id=app.id))
    status = 422 if request.method == "POST" else 200
    return render_template("vendors/app_form.html", form=form), status


def _render_app(actor, app_id: int, form=None, status: int = 200):
    app = services.app_get(actor, app_id)
    may_upload = actor.role == Role.VENDOR_MEMBER and app.order.status in {"open", "closed"}
    return render_template(
        "vendors/app_show.html", app=app,
        versions=[(v, services.version_status(v)) for v in reversed(app.versions)],
        form=form or (VersionUploadForm() if may_upload else None),
        max_mib=current_app.config["MAX_BUNDLE_BYTES"] // (1024 * 1024)), status


@bp.get("/apps/<int:app_id>")
def app_show(app_id: int):
    return _render_app(web_actor(), app_id)


@bp.post("/apps/<int:app_id>/versions")
def version_upload(app_id: int):
    actor = web_actor()
    max_bytes = current_app.config["MAX_BUNDLE_BYTES"]
    # Refuse an oversize body while it arrives, before Werkzeug spools it to disk.
    request.max_content_length = max_bytes + MULTIPART_OVERHEAD
    form = VersionUploadForm()
    if form.validate_on_submit():
        try:
            row = services.version_upload(actor, app_id, version=form.version.data.strip(),
                                          stream=form.bundle.data.stream,
                                          store=FileBlobStore(current_app.config["BUNDLE_STORE"]),
                                          max_bytes=max_bytes)
        except (ValidationError, Conflict, TooLarge) as exc:
            field = "version" if "version" in (exc.errors or {}) or isinstance(exc, Conflict) else "bundle"
            show_service_errors(form, {field: exc.message}, exc.message)
            return _render_app(actor, app_id, form, exc.status)
        flash(_("Version %(v)s uploaded (%(size)s bytes).", v=row.version, size=row.bundle_size), "success")
        return redirect(url_for("vendors.app_show", app_id=app_id))
    return _render_app(actor, app_id, form, 422)
