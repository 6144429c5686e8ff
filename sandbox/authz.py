"""Who may do what with certification runs. One rule per service function, same name."""

from __future__ import annotations

from typing import Any

from core.errors import Forbidden
from core.roles import Role


def certification_request(actor: Any, vendor_id: int | None) -> None:
    """The platform itself (actor None, e.g. the upload handler or a suite re-test), an admin, or a member of the
    vendor whose version it is."""
    if actor is None or str(actor.role) == Role.ADMIN:
        return
    if str(actor.role) == Role.VENDOR_MEMBER and vendor_id is not None and actor.vendor_id == vendor_id:
        return
    raise Forbidden(f"only the vendor that uploaded the version (or the platform) may request its certification; "
                    f"you are signed in as {actor.role}")


def certification_report(actor: Any, vendor_id: int | None, department_id: int | None) -> str:
    """Which view of a run the actor gets: 'department' (everything) or 'vendor' (no hidden-case detail)."""
    if actor is None or str(actor.role) in (Role.ADMIN, Role.AUDITOR):
        return "department"
    role = str(actor.role)
    if role == Role.DEPARTMENT_STAFF and department_id is not None and actor.department_id == department_id:
        return "department"
    if role == Role.VENDOR_MEMBER and vendor_id is not None and actor.vendor_id == vendor_id:
        return "vendor"
    raise Forbidden("this certification run belongs to another vendor or department")
