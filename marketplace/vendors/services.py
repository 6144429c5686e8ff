"""Vendor and app use cases: vendors, apps entered for orders, uploaded versions."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import BinaryIO

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, selectinload

from core import audit
from core.errors import Conflict, NotFound, ValidationError
from core.extensions import db
from core.ids import uscc_problem
from core.roles import Role
from core.storage import BlobStore
from core.time import utcnow
from marketplace.orders.models import Order
from marketplace.orders.services import order_get
from marketplace.pagination import Page, like, paginate
from marketplace.vendors import authz
from marketplace.vendors.models import App, AppVersion, Vendor
from sandbox.intake import IntakeLimits, intake_upload
from sandbox.models import CertificationRun
from sandbox.services import certification_report, certification_request

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,39}$")


def vendor_create(actor, *, name: str, credit_code: str, contact_email: str = "") -> Vendor:
    """Register a vendor. Admins only. Raises ValidationError for a bad unified social credit code
    (GB 32100-2015 check character), Conflict if the code is registered already."""
    authz.vendor_create(actor)
    credit_code = (credit_code or "").strip().upper()
    problem = uscc_problem(credit_code)
    if problem:
        raise ValidationError(f"credit code {credit_code!r} is invalid: {problem}", errors={"credit_code": problem})
    if not (name or "").strip():
        raise ValidationError("give the vendor's registered name", errors={"name": "empty"})
    if db.session.scalar(sa.select(Vendor.id).where(Vendor.credit_code == credit_code)):
        raise Conflict(f"a vendor with credit code {credit_code} is registered already")
    vendor = Vendor(name=name.strip(), credit_code=credit_code, contact_email=(contact_email or "").strip())
    db.session.add(vendor)
    db.session.flush()
    audit.record(actor, "vendor.create", "vendor", vendor.id, {"name": name, "credit_code": credit_code},
                 vendor_id=vendor.id)
    db.session.commit()
    return vendor


def vendor_get(actor, vendor_id: int) -> Vendor:
    vendor = db.session.get(Vendor, vendor_id)
    if vendor is None:
        raise NotFound(f"vendor {vendor_id} does not exist")
    authz.vendor_view(actor, vendor)
    return vendor


def vendor_list(actor, *, q: str = "", page: int = 1, page_size: int = 20) -> Page:
    query = sa.select(Vendor).order_by(Vendor.name)
    if actor is None or actor.role not in {Role.ADMIN, Role.AUDITOR, Role.FINANCE, Role.DEPARTMENT_STAFF}:
        query = query.where(Vendor.id == (actor.vendor_id if actor is not None else None))
    if q:
        query = query.where(sa.or_(Vendor.name.like(like(q), escape="\\"),
                                   Vendor.credit_code.like(like(q.upper()), escape="\\")))
    return paginate(query, page, page_size)


def app_create(actor, *, order_id: int, name: str, slug: str, summary: str = "") -> App:
    """A vendor member enters an app for an open order. Raises Forbidden when the order is not open,
    ValidationError for a bad slug, Conflict when the slug is taken."""
    order = order_get(actor, order_id)
    authz.app_create(actor, order)
    slug = (slug or "").strip()
    if not SLUG_RE.match(slug):
        raise ValidationError(f"slug {slug!r} must be a DNS label: lowercase letters, digits, inner hyphens, "
                              "at most 63 characters (the app is served at <slug>.apps.<host>)",
                              errors={"slug": "invalid"})
    if not (name or "").strip():
        raise ValidationError("give the app a name citizens will recognise", errors={"name": "empty"})
    if db.session.scalar(sa.select(App.id).where(App.slug == slug)):
        raise Conflict(f"the slug {slug!r} is taken; choose another")
    app = App(vendor_id=actor.vendor_id, order_id=order.id, name=name.strip(), slug=slug, summary=summary or "",
              created_by_id=actor.id)
    db.session.add(app)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(f"your vendor already has an app named {name!r} for this order") from exc
    audit.record(actor, "app.create", "app", app.id, {"order_id": order.id, "slug": slug, "name": name},
                 department_id=order.department_id, vendor_id=actor.vendor_id)
    db.session.commit()
    return app


def app_get(actor, app_id: int) -> App:
    app = db.session.get(App, app_id)
    if app is None:
        raise NotFound(f"app {app_id} does not exist")
    authz.app_view(actor, app)
    return app


def published_apps_query():
    """Apps with a live version, of orders that are published and not archived; each app's vendor and order
    (with its service item) come in the same round trips, not one lazy load per app."""
    live = sa.select(AppVersion.id).where(AppVersion.app_id == App.id, AppVersion.live()).exists()
    return (sa.select(App).join(Order, App.order_id == Order.id)
            .where(live, Order.published_at.is_not(None), Order.archived_at.is_(None))
            .options(selectinload(App.vendor), contains_eager(App.order).joinedload(Order.service_item)))


def competing_apps(order_id: int) -> list[App]:
    """The published apps of an order (public), by name: what competes for its citizens."""
    return list(db.session.scalars(published_apps_query().where(App.order_id == order_id).order_by(App.name, App.id)))


def app_get_published(app_id: int) -> App:
    """A published app (public): it has a live version, and its order is published and not archived. Raises
    NotFound for any other app."""
    app = db.session.scalar(published_apps_query().where(App.id == app_id))
    if app is None:
        raise NotFound(f"app {app_id} is not published")
    return app


def app_get_published_by_slug(slug: str) -> App:
    """A published app by its address name (public). Raises NotFound for any other app."""
    app = db.session.scalar(published_apps_query().where(App.slug == slug))
    if app is None:
        raise NotFound(f"no published app has the address name {slug!r}")
    return app


def app_list(actor, *, order_id: int | None = None, q: str = "", page: int = 1, page_size: int = 20) -> Page:
    """Apps ``actor`` may see: a vendor's own, the apps for a department's orders, or all for oversight."""
    query = sa.select(App).order_by(App.id.desc())
    if actor is None:
        query = query.where(sa.false())
    elif actor.role == Role.VENDOR_MEMBER:
        query = query.where(App.vendor_id == actor.vendor_id)
    elif actor.role == Role.DEPARTMENT_STAFF:
        query = query.join(Order, App.order_id == Order.id).where(Order.department_id == actor.department_id)
    elif actor.role not in {Role.ADMIN, Role.AUDITOR, Role.FINANCE}:
        query = query.where(sa.false())
    if order_id:
        query = query.where(App.order_id == order_id)
    if q:
        query = query.where(sa.or_(App.name.like(like(q), escape="\\"), App.slug.like(like(q), escape="\\")))
    return paginate(query, page, page_size)


def version_upload(actor, app_id: int, *, version: str, stream: BinaryIO, store: BlobStore,
                   max_bytes: int) -> AppVersion:
    """Stream a bundle through the sandbox intake (size-capped, sha256 computed while streaming, contents checked:
    manifest, paths, links, bombs; stored by hash), record a new version of the app and queue its certification
    against the order's current suite. Vendor members of the app's vendor only; the order must be open or closed.

    Raises TooLarge past ``max_bytes`` and ValidationError for a bundle the intake refuses (naming the entry), a
    manifest whose version, order or scopes disagree with the upload; Conflict if the version label exists.
    Nothing is recorded when any of these is raised.
    """
    app = app_get(actor, app_id)
    authz.version_upload(actor, app)
    version = (version or "").strip()
    if not VERSION_RE.match(version):
        raise ValidationError(f"version {version!r} must be like 1.0.0 (letters, digits, '.', '+', '-'; ≤ 40)",
                              errors={"version": "invalid"})
    if db.session.scalar(sa.select(AppVersion.id).where(AppVersion.app_id == app.id, AppVersion.version == version)):
        raise Conflict(f"version {version} of app {app.slug} was uploaded already; bump the version number")
    order = app.order
    suite = order.current_suite
    info = intake_upload(store, stream, IntakeLimits(max_bundle_bytes=max_bytes))
    manifest = info.manifest
    problems = {}
    if manifest.version != version:
        problems["version"] = f"govapp.toml says version {manifest.version!r} but the upload is labelled {version!r}"
    if str(manifest.order) not in {str(order.id), order.slug}:
        problems["order"] = (f"govapp.toml names order {manifest.order!r}, but app {app.slug} competes for order "
                             f"{order.slug!r} (id {order.id})")
    extra = sorted(set(manifest.scopes) - set(order.dept_scopes))
    if extra:
        problems["scopes"] = (f"govapp.toml asks for {', '.join(extra)}, which order {order.slug} does not grant "
                              f"(granted: {', '.join(order.dept_scopes) or 'none'})")
    unreachable = manifest.field_problems(order.dept_scopes)
    if unreachable:
        problems["fields"] = (f"govapp.toml declares fields the order's scopes do not reach: "
                              f"{'; '.join(unreachable.values())}")
    if problems:
        _discard_unreferenced(store, info.sha256)
        raise ValidationError("the bundle does not match this upload: " + "; ".join(problems.values()),
                              errors=problems)
    row = AppVersion(app_id=app.id, version=version, bundle_sha256=info.sha256, bundle_size=info.size,
                     uploaded_by_id=actor.id)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError as exc:  # a concurrent upload of the same label won the race
        db.session.rollback()
        raise Conflict(f"version {version} of app {app.slug} was uploaded already; bump the version number") from exc
    audit.record(actor, "version.upload", "app_version", row.id,
                 {"app_id": app.id, "version": version, "sha256": info.sha256, "size": info.size,
                  "files": info.files, "wheels": list(info.wheels)},
                 department_id=order.department_id, vendor_id=app.vendor_id)
    db.session.commit()
    if suite is not None:
        _request_certification(row, suite)
    return row


def _discard_unreferenced(store: BlobStore, sha256: str) -> None:
    """Remove a bundle the intake stored for an upload refused after all, unless a version already holds it."""
    if not db.session.scalar(sa.select(AppVersion.id).where(AppVersion.bundle_sha256 == sha256).limit(1)):
        store.path(sha256).unlink(missing_ok=True)


def _request_certification(row: AppVersion, suite) -> None:
    """Queue (idempotently) the certification of ``row`` against ``suite``; the platform acts, not a person."""
    order = row.app.order
    certification_request(None, row.id, row.bundle_sha256, suite.document, order.contract, list(order.dept_scopes),
                          vendor_id=row.app.vendor_id, department_id=order.department_id)


def versions_retest(order_id: int, suite) -> list[int]:
    """Re-test every published version of an order's apps against a new suite version. Called by the platform
    after a suite is added; a version that now fails shows as a regression to its vendor and department."""
    rows = db.session.scalars(sa.select(AppVersion).join(App).where(
        App.order_id == order_id, AppVersion.published_at.is_not(None), AppVersion.superseded_at.is_(None),
        AppVersion.withdrawn_at.is_(None))).all()
    for row in rows:
        _request_certification(row, suite)
    return [row.id for row in rows]


def version_recertify(actor, version_id: int) -> AppVersion:
    """Ask again for the certification of a version whose run ended in an infrastructure ``error`` (its sandbox
    worker was killed mid-run, the sandbox host was down): the run is queued again against the order's current
    suite under its deterministic job id, so asking twice runs it once. A run still queued or testing is left
    alone (nothing to do); a version never tested against the current suite is queued for it.

    Who: the app's vendor, the order's department, an admin. Raises Conflict for a withdrawn version, an order
    without a suite, or a run that finished (certified or failed is a result: upload a new version instead).
    """
    row = version_get(actor, version_id)
    authz.version_recertify(actor, row.app)
    if row.withdrawn_at is not None:
        raise Conflict(f"version {row.version} of app {row.app.slug} was withdrawn; upload a new version instead")
    suite = row.app.order.current_suite
    if suite is None:
        raise Conflict(f"order {row.app.order.slug} has no acceptance suite to certify against")
    run = latest_certification(row)
    current = run is not None and str(run.suite_version) == str(suite.version)
    if current and run.state in {"queued", "testing"}:
        return row
    if current and run.state in {"certified", "failed"}:
        raise Conflict(f"the certification of version {row.version} against suite version {suite.version} finished "
                       f"({run.state}); a finished run is a result, not an error — upload a new version to be "
                       "tested again")
    audit.record(actor, "version.recertify", "app_version", row.id,
                 {"suite_version": str(suite.version), "previous_run": run.id if run else None,
                  "previous_state": run.state if run else None, "previous_error": run.error if run else None},
                 department_id=row.app.order.department_id, vendor_id=row.app.vendor_id)
    _request_certification(row, suite)  # commits the audit record with the re-queued run
    return row


def version_get(actor, version_id: int) -> AppVersion:
    row = db.session.get(AppVersion, version_id)
    if row is None:
        raise NotFound(f"app version {version_id} does not exist")
    authz.app_view(actor, row.app)
    return row


def latest_certification(row: AppVersion):
    """The newest certification run of a version, or None (read without an actor: callers have authorised)."""
    return db.session.scalar(sa.select(CertificationRun).where(CertificationRun.app_version_id == row.id)
                             .order_by(CertificationRun.id.desc()).limit(1))


def certified_at_by_app(app_ids: Collection[int]) -> dict[int, object]:
    """When each app was first certified: the earliest certified sandbox run of any of its versions; for a
    version approved without a recorded run (data from before certification runs were kept), its approval,
    since a department approves only certified versions."""
    if not app_ids:
        return {}
    ids = list(app_ids)
    result: dict[int, object] = {}
    runs = db.session.execute(sa.select(AppVersion.app_id, sa.func.min(CertificationRun.finished_at))
                              .join(CertificationRun, CertificationRun.app_version_id == AppVersion.id)
                              .where(AppVersion.app_id.in_(ids), CertificationRun.state == "certified",
                                     CertificationRun.finished_at.is_not(None))
                              .group_by(AppVersion.app_id))
    result.update({app_id: moment for app_id, moment in runs})
    approvals = db.session.execute(sa.select(AppVersion.app_id, sa.func.min(AppVersion.approved_at))
                                   .where(AppVersion.app_id.in_(ids), AppVersion.approved_at.is_not(None))
                                   .group_by(AppVersion.app_id))
    for app_id, moment in approvals:
        result.setdefault(app_id, moment)
    return result


# The decisions that set a version's status, latest in the lifecycle first (version_status reads them in order).
_DECISIONS = (("withdrawn_at", "withdrawn"), ("suspended_at", "suspended"), ("superseded_at", "superseded"),
              ("published_at", "published"), ("rejected_at", "rejected"), ("approved_at", "approved"))


def version_list(actor, *, status: str | None = None, order_id: int | None = None, app_id: int | None = None,
                 page: int = 1, page_size: int = 20) -> Page:
    """Versions ``actor`` may see (a vendor's own, those for a department's orders, all for oversight), oldest
    upload first, filtered by status as version_status derives it: one call for a queue, e.g. the versions of
    the department's orders awaiting approval (``status="certified"``)."""
    query = sa.select(AppVersion).join(App, AppVersion.app_id == App.id).order_by(AppVersion.id)
    if actor is None:
        query = query.where(sa.false())
    elif actor.role == Role.VENDOR_MEMBER:
        query = query.where(App.vendor_id == actor.vendor_id)
    elif actor.role == Role.DEPARTMENT_STAFF:
        query = query.join(Order, App.order_id == Order.id).where(Order.department_id == actor.department_id)
    elif actor.role not in {Role.ADMIN, Role.AUDITOR, Role.FINANCE}:
        query = query.where(sa.false())
    if order_id:
        query = query.where(App.order_id == order_id)
    if app_id:
        query = query.where(AppVersion.app_id == app_id)
    if status:
        stamps = [getattr(AppVersion, stamp) for stamp, _ in _DECISIONS]
        decided = [name for _, name in _DECISIONS]
        if status in decided:
            index = decided.index(status)
            query = query.where(stamps[index].is_not(None), *(stamp.is_(None) for stamp in stamps[:index]))
        else:
            latest = (sa.select(CertificationRun.app_version_id, sa.func.max(CertificationRun.id).label("run_id"))
                      .group_by(CertificationRun.app_version_id).subquery())
            query = (query.where(*(stamp.is_(None) for stamp in stamps))
                     .outerjoin(latest, latest.c.app_version_id == AppVersion.id)
                     .outerjoin(CertificationRun, CertificationRun.id == latest.c.run_id))
            query = query.where(latest.c.run_id.is_(None) if status == "uploaded" else CertificationRun.state == status)
    return paginate(query, page, page_size)


def version_status(row: AppVersion, run=None) -> str:
    """The version's place in its lifecycle: uploaded → queued → testing → certified | failed | error →
    approved | rejected → published → superseded | suspended | withdrawn. Derived from the version's
    timestamps (latest state wins) and, before approval, from its newest certification run."""
    for stamp, status in _DECISIONS:
        if getattr(row, stamp):
            return status
    run = run if run is not None else latest_certification(row)
    return run.state if run is not None else "uploaded"


def version_view(actor, version_id: int) -> dict:
    """A version with its status, certification progress and regression flag, as ``actor`` may see it."""
    row = version_get(actor, version_id)
    run = latest_certification(row)
    status = version_status(row, run)
    current = row.app.order.current_suite
    regression = bool(status == "published" and run is not None and run.state == "failed")
    return {"row": row, "status": status, "regression": regression,
            "certification": None if run is None else {
                "run_id": run.id, "state": run.state, "suite_version": run.suite_version,
                "cases_done": run.cases_done, "cases_total": run.cases_total,
                "started_at": run.started_at, "finished_at": run.finished_at,
                "current_suite": current is not None and str(run.suite_version) == str(current.version),
            }}


def version_report(actor, version_id: int) -> dict:
    """The certification report of a version's newest run: everything for its department, admins and auditors;
    for its vendor public-case diffs only and hidden cases as counts per category."""
    row = version_get(actor, version_id)
    run = latest_certification(row)
    if run is None:
        raise NotFound(f"version {row.version} of app {row.app.slug} has not been queued for certification yet")
    return certification_report(actor, run.id)


def _decide(actor, version_id: int, action: str, *, reason: str | None = None) -> AppVersion:
    row = db.session.scalar(sa.select(AppVersion).where(AppVersion.id == version_id).with_for_update())
    if row is None:
        raise NotFound(f"app version {version_id} does not exist")
    app = row.app
    if action in {"approve", "reject", "suspend"}:
        authz.version_review(actor, app)
    else:
        authz.version_publish(actor, app)
    status = version_status(row)
    allowed = {"approve": {"certified"}, "reject": {"certified", "approved", "failed"},
               "publish": {"approved"}, "suspend": {"published"}, "withdraw": {"published", "approved", "certified"}}
    if status not in allowed[action]:
        raise Conflict(f"cannot {action} version {row.version} of {app.slug}: it is {status}; "
                       f"{action} applies to {' or '.join(sorted(allowed[action]))} versions",
                       errors={"status": status})
    if action in {"reject", "suspend"} and not (reason or "").strip():
        raise ValidationError(f"give the vendor a reason to {action}", errors={"reason": "empty"})
    now = utcnow()
    if action == "approve":
        row.approved_at, row.approved_by_id = now, actor.id
    elif action == "reject":
        row.rejected_at, row.rejection_reason = now, reason.strip()
    elif action == "suspend":
        row.suspended_at, row.suspension_reason = now, reason.strip()
    elif action == "withdraw":
        row.withdrawn_at = now
    elif action == "publish":
        # One live version per app: lock the app's versions, supersede the one that was live.
        live = db.session.scalars(sa.select(AppVersion).where(
            AppVersion.app_id == app.id, AppVersion.id != row.id, AppVersion.published_at.is_not(None),
            AppVersion.superseded_at.is_(None), AppVersion.withdrawn_at.is_(None),
            AppVersion.suspended_at.is_(None)).with_for_update()).all()
        for previous in live:
            previous.superseded_at = now
        row.published_at = now
    audit.record(actor, f"version.{action}", "app_version", row.id,
                 {"app_id": app.id, "version": row.version, "from": status, "reason": reason},
                 department_id=app.order.department_id, vendor_id=app.vendor_id)
    db.session.commit()
    return row


def version_approve(actor, version_id: int) -> AppVersion:
    """The order's department approves a certified version. Raises Conflict unless it is certified."""
    return _decide(actor, version_id, "approve")


def version_reject(actor, version_id: int, reason: str) -> AppVersion:
    """The order's department rejects a version with a reason the vendor sees."""
    return _decide(actor, version_id, "reject", reason=reason)


def version_publish(actor, version_id: int) -> AppVersion:
    """Put an approved version live (the vendor or the department); the app's previous live version is superseded."""
    return _decide(actor, version_id, "publish")


def version_suspend(actor, version_id: int, reason: str) -> AppVersion:
    """The department takes a published version off the market, with a reason."""
    return _decide(actor, version_id, "suspend", reason=reason)


def version_withdraw(actor, version_id: int) -> AppVersion:
    """The vendor withdraws a version."""
    return _decide(actor, version_id, "withdraw")
