"""Authorization rules for vendor, app and version use cases: one rule per service function, under the same
name, called first; the list use cases have scopes (``vendor_list_scope``, ``app_list_scope``,
``version_list_scope``). Other tenants' objects answer NotFound, so their ids do not leak."""

from __future__ import annotations

import sqlalchemy as sa

from core.auth import require_role
from core.errors import Forbidden, NotFound
from core.roles import Role
from marketplace.orders.models import Order
from marketplace.vendors.models import App, AppVersion, Vendor

OVERSIGHT = {Role.ADMIN, Role.AUDITOR, Role.FINANCE}


def vendor_create(actor) -> None:
    """Admins register vendors."""
    require_role(actor, Role.ADMIN, action="register vendors")


def vendor_get(actor, vendor) -> None:
    """A vendor's members, department staff and oversight."""
    if actor is not None and (actor.role in OVERSIGHT or actor.role == Role.DEPARTMENT_STAFF
                              or actor.vendor_id == vendor.id):
        return
    raise NotFound(f"vendor {vendor.id} does not exist")


def vendor_list_scope(actor):
    """The vendors ``actor`` may list: all for oversight and department staff, else only its own."""
    if actor is not None and actor.role in OVERSIGHT | {Role.DEPARTMENT_STAFF}:
        return sa.true()
    return Vendor.id == (actor.vendor_id if actor is not None else None)


def app_get(actor, app) -> None:
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


def app_list_scope(actor):
    """The apps ``actor`` may list (what ``app_get`` admits)."""
    if actor is None:
        return sa.false()
    if actor.role == Role.VENDOR_MEMBER:
        return App.vendor_id == actor.vendor_id
    if actor.role == Role.DEPARTMENT_STAFF:
        return App.order_id.in_(sa.select(Order.id).where(Order.department_id == actor.department_id))
    if actor.role in OVERSIGHT:
        return sa.true()
    return sa.false()


def app_create(actor, order) -> None:
    """Vendor members, for an open order."""
    require_role(actor, Role.VENDOR_MEMBER, action="create apps")
    if order.status != "open":
        raise Forbidden(f"order {order.id} is {order.status}; apps can be entered only while it is open")


def version_get(actor, version) -> None:
    """Whoever sees the version's app."""
    app_get(actor, version.app)


def version_list_scope(actor):
    """The versions ``actor`` may list: those of the apps ``app_list_scope`` admits (a vendor's own, those for
    a department's orders, all for oversight)."""
    return AppVersion.app_id.in_(sa.select(App.id).where(app_list_scope(actor)))


def version_view(actor, version) -> None:
    """A version with its certification progress: whoever sees the version."""
    version_get(actor, version)


def version_report(actor, version) -> None:
    """A version's certification report: whoever sees the version (what of it they see, hidden cases or
    counts, is decided by the sandbox's report view for the actor)."""
    version_get(actor, version)


def version_upload(actor, app) -> None:
    """The app's vendor, while its order is open or closed."""
    app_get(actor, app)
    require_role(actor, Role.VENDOR_MEMBER, action="upload app versions")
    if app.order.status not in {"open", "closed"}:
        raise Forbidden(f"order {app.order.id} is {app.order.status}; it no longer takes versions")


def _review(actor, version) -> None:
    app_get(actor, version.app)
    require_role(actor, Role.DEPARTMENT_STAFF, Role.ADMIN, action="approve or reject versions")


def version_approve(actor, version) -> None:
    """The department of the app's order (or an admin)."""
    _review(actor, version)


def version_reject(actor, version) -> None:
    """The department of the app's order (or an admin)."""
    _review(actor, version)


def version_suspend(actor, version) -> None:
    """The department of the app's order (or an admin)."""
    _review(actor, version)


def _publish(actor, version) -> None:
    app_get(actor, version.app)
    require_role(actor, Role.VENDOR_MEMBER, Role.DEPARTMENT_STAFF, Role.ADMIN, action="publish or withdraw versions")


def version_publish(actor, version) -> None:
    """The app's vendor, or the order's department (or an admin)."""
    _publish(actor, version)


def version_withdraw(actor, version) -> None:
    """As ``version_publish``: whoever may put a version live may take it off."""
    _publish(actor, version)


def version_recertify(actor, version) -> None:
    """Asking for a certification again: the app's vendor, the order's department, or an admin."""
    app_get(actor, version.app)
    require_role(actor, Role.VENDOR_MEMBER, Role.DEPARTMENT_STAFF, Role.ADMIN, action="re-request certifications")
