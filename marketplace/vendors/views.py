"""Vendor pages: "my apps", entering an app for an open order, an app with its versions, uploading a version.
Department staff see the apps competing for their orders; oversight roles see all."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.auth import require_role, web_actor
from core.errors import Conflict, Forbidden, NotFound, TooLarge, ValidationError
from core.roles import Role
from core.storage import FileBlobStore
from marketplace.forms import select_choices, show_service_errors
from marketplace.orders import services as orders
from marketplace.vendors import services
from marketplace.vendors.forms import AppForm, AppSearchForm, ReasonForm, VersionUploadForm

bp = Blueprint("vendors", __name__, template_folder="templates")

# Room for the multipart envelope around the bundle itself.
MULTIPART_OVERHEAD = 64 * 1024


@bp.get("/apps")
def app_list():
    actor = web_actor()
    form = AppSearchForm(request.args)
    form.validate()
    page_number = 1 if form.page.errors else (form.page.data or 1)
    q = (form.q.data or "").strip() if not form.q.errors else ""
    page = services.app_list(actor, q=q, order_id=request.args.get("order_id", type=int), page=page_number,
                             page_size=current_app.config["PAGE_SIZE"])
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
    form.order_id.choices = select_choices(_order_choices(actor))
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


# --- one version: live certification progress, the report, the department's decisions ----------------------

DECISIONS = {  # action -> (service, needs a reason, roles that see the button, statuses it applies to)
    "approve": (services.version_approve, False, {Role.DEPARTMENT_STAFF, Role.ADMIN}, {"certified"}),
    "reject": (services.version_reject, True, {Role.DEPARTMENT_STAFF, Role.ADMIN}, {"certified", "approved", "failed"}),
    "publish": (services.version_publish, False, {Role.VENDOR_MEMBER, Role.DEPARTMENT_STAFF, Role.ADMIN},
                {"approved"}),
    "suspend": (services.version_suspend, True, {Role.DEPARTMENT_STAFF, Role.ADMIN}, {"published"}),
    "withdraw": (services.version_withdraw, False, {Role.VENDOR_MEMBER}, {"published", "approved", "certified"}),
    "recertify": (services.version_recertify, False, {Role.VENDOR_MEMBER, Role.DEPARTMENT_STAFF, Role.ADMIN},
                  {"error"}),
}


ACTION_LABELS = {"approve": _l("Approve"), "reject": _l("Reject"), "publish": _l("Publish"),
                 "suspend": _l("Suspend"), "withdraw": _l("Withdraw"), "recertify": _l("Certify again")}


def _render_version(actor, version_id: int, reason_form=None, status: int = 200):
    view = services.version_view(actor, version_id)
    try:
        report = services.version_report(actor, version_id)
    except (NotFound, Forbidden):  # not queued yet, or a role that may not read certification reports
        report = None
    actions = [name for name, (_fn, _r, roles, statuses) in DECISIONS.items()
               if actor.role in roles and view["status"] in statuses]
    return render_template("vendors/version_show.html", view=view, row=view["row"], app=view["row"].app,
                           report=report, actions=actions, reason_form=reason_form or ReasonForm(),
                           needs_reason={n for n, d in DECISIONS.items() if d[1]}, action_labels=ACTION_LABELS), status


@bp.get("/versions/<int:version_id>")
def version_show(version_id: int):
    """A version's certification: live progress while it runs, then the report as the viewer may see it."""
    return _render_version(web_actor(), version_id)


@bp.get("/versions/<int:version_id>/progress.json")
def version_progress(version_id: int):
    """Polled by the version page while certification runs (session-authenticated, same rules as the page)."""
    view = services.version_view(web_actor(), version_id)
    cert = view["certification"] or {}
    return jsonify(status=view["status"], cases_done=cert.get("cases_done", 0), cases_total=cert.get("cases_total", 0),
                   running=view["status"] in {"uploaded", "queued", "testing"})


@bp.post("/versions/<int:version_id>/<action>")
def version_decide(version_id: int, action: str):
    actor = web_actor()
    if action not in DECISIONS:
        raise NotFound(f"there is no action {action!r} on versions")
    decide, needs_reason, _roles, _statuses = DECISIONS[action]
    # The app-wide CSRF check has already refused a POST without a valid token.
    if needs_reason:
        form = ReasonForm()
        if not form.validate_on_submit():
            return _render_version(actor, version_id, form, 422)
        decide(actor, version_id, form.reason.data.strip())
    else:
        decide(actor, version_id)
    flash(_("Done: %(action)s.", action=ACTION_LABELS[action]), "success")
    return redirect(url_for("vendors.version_show", version_id=version_id))
