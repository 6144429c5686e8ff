"""Vendor and app use cases: vendors, apps entered for orders, uploaded versions."""

from __future__ import annotations

import re
from typing import BinaryIO

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core import audit
from core.errors import Conflict, NotFound, ValidationError
from core.extensions import db
from core.ids import uscc_problem
from core.roles import Role
from core.storage import BlobStore
from marketplace.orders.services import order_get
from marketplace.pagination import Page, like, paginate
from marketplace.vendors import authz
from marketplace.vendors.models import App, AppVersion, Vendor

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


def app_list(actor, *, order_id: int | None = None, q: str = "", page: int = 1, page_size: int = 20) -> Page:
    """Apps ``actor`` may see: a vendor's own, the apps for a department's orders, or all for oversight."""
    from marketplace.orders.models import Order

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
    """Stream a bundle into storage (size-capped, sha256 computed while streaming, stored by hash) and record
    a new version of the app. Vendor members of the app's vendor only; the order must be open or closed.

    Raises TooLarge past ``max_bytes`` (nothing is recorded), ValidationError for a bad version label,
    Conflict if the version label was uploaded already.
    """
    app = app_get(actor, app_id)
    authz.version_upload(actor, app)
    version = (version or "").strip()
    if not VERSION_RE.match(version):
        raise ValidationError(f"version {version!r} must be like 1.0.0 (letters, digits, '.', '+', '-'; ≤ 40)",
                              errors={"version": "invalid"})
    if db.session.scalar(sa.select(AppVersion.id).where(AppVersion.app_id == app.id, AppVersion.version == version)):
        raise Conflict(f"version {version} of app {app.slug} was uploaded already; bump the version number")
    blob = store.put_stream(stream, max_bytes)
    row = AppVersion(app_id=app.id, version=version, bundle_sha256=blob.sha256, bundle_size=blob.size,
                     uploaded_by_id=actor.id)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError as exc:  # a concurrent upload of the same label won the race
        db.session.rollback()
        raise Conflict(f"version {version} of app {app.slug} was uploaded already; bump the version number") from exc
    audit.record(actor, "version.upload", "app_version", row.id,
                 {"app_id": app.id, "version": version, "sha256": blob.sha256, "size": blob.size},
                 department_id=app.order.department_id, vendor_id=app.vendor_id)
    db.session.commit()
    return row


def version_get(actor, version_id: int) -> AppVersion:
    row = db.session.get(AppVersion, version_id)
    if row is None:
        raise NotFound(f"app version {version_id} does not exist")
    authz.app_view(actor, row.app)
    return row


def version_status(row: AppVersion) -> str:
    """The version's place in its lifecycle, derived from its timestamps (latest state wins)."""
    for stamp, status in (("withdrawn_at", "withdrawn"), ("suspended_at", "suspended"),
                          ("superseded_at", "superseded"), ("published_at", "published"),
                          ("rejected_at", "rejected"), ("approved_at", "approved")):
        if getattr(row, stamp):
            return status
    return "uploaded"
