"""Authorization rules for vendor and app use cases. Other tenants' objects answer NotFound."""

from __future__ import annotations

from core.auth import require_role
from core.errors import Forbidden, NotFound
from core.roles import Role

OVERSIGHT = {Role.ADMIN, Role.AUDITOR, Role.FINANCE}


def vendor_create(actor) -> None:
    require_role(actor, Role.ADMIN, action="register vendors")


def vendor_view(actor, vendor) -> None:
    if actor is not None and (actor.role in OVERSIGHT or actor.role == Role.DEPARTMENT_STAFF
                              or actor.vendor_id == vendor.id):
        return
    raise NotFound(f"vendor {vendor.id} does not exist")


def app_view(actor, app) -> None:
    """A vendor sees its own apps; a department the apps competing for its orders; oversight all.
    (Citizens see published apps through the catalogue, not here.)"""
    if actor is not None:
        if actor.role in OVERSIGHT:
            return
        if actor.role == Role.VENDOR_MEMBER and actor.vendor_id == app.vendor_id:
            return
        if actor.role == Role.DEPARTMENT_STAFF and actor.department_id == app.order.department_id:
            return
    raise NotFound(f"app {app.id} does not exist")


def app_create(actor, order) -> None:
    require_role(actor, Role.VENDOR_MEMBER, action="create apps")
    if order.status != "open":
        raise Forbidden(f"order {order.id} is {order.status}; apps can be entered only while it is open")


def version_upload(actor, app) -> None:
    app_view(actor, app)
    require_role(actor, Role.VENDOR_MEMBER, action="upload app versions")
    if app.order.status not in {"open", "closed"}:
        raise Forbidden(f"order {app.order.id} is {app.order.status}; it no longer takes versions")


def version_review(actor, app) -> None:
    app_view(actor, app)
    require_role(actor, Role.DEPARTMENT_STAFF, Role.ADMIN, action="approve or reject versions")


def version_publish(actor, app) -> None:
    """Publishing and withdrawing: the app's vendor, or the order's department (or an admin)."""
    app_view(actor, app)
    require_role(actor, Role.VENDOR_MEMBER, Role.DEPARTMENT_STAFF, Role.ADMIN, action="publish or withdraw versions")


def version_recertify(actor, app) -> None:
    """Asking for a certification again: the app's vendor, the order's department, or an admin."""
    app_view(actor, app)
    require_role(actor, Role.VENDOR_MEMBER, Role.DEPARTMENT_STAFF, Role.ADMIN, action="re-request certifications")
