"""Who may do what with complaints: citizens file about their own cases or any published app; the app's
vendor and the order's department handle them; oversight reads. One rule per service function, same name;
the list use case has a scope (``complaint_list_scope``). Complaints an actor may not see answer NotFound."""

from __future__ import annotations

import sqlalchemy as sa

from core.auth import require_role
from core.errors import NotFound
from core.roles import Role
from marketplace.complaints.models import Complaint

OVERSIGHT = {Role.ADMIN, Role.AUDITOR}


def complaint_file(actor, transaction=None) -> None:
    """Citizens, about their own case (someone else's answers NotFound) or about a published app."""
    require_role(actor, Role.CITIZEN, action="file a complaint")
    if transaction is not None and transaction.citizen_id != actor.id:
        raise NotFound(f"case {transaction.id} does not exist")


def complaint_side(actor, complaint) -> str | None:
    """Which side ``actor`` answers for: the app's vendor or the order's department; None otherwise."""
    if actor.role == Role.VENDOR_MEMBER and actor.vendor_id == complaint.vendor_id:
        return "vendor"
    if actor.role == Role.DEPARTMENT_STAFF and actor.department_id == complaint.department_id:
        return "department"
    return None


def complaint_get(actor, complaint) -> None:
    """Its citizen, the vendor and department it is routed to, and oversight."""
    if actor is not None:
        if actor.role in OVERSIGHT:
            return
        if actor.role == Role.CITIZEN and actor.id == complaint.citizen_id:
            return
        if complaint_side(actor, complaint):
            return
    raise NotFound(f"complaint {complaint.id} does not exist")


def _handle(actor, complaint, action: str) -> str:
    complaint_get(actor, complaint)
    if actor.role == Role.ADMIN:
        return "platform"
    side = complaint_side(actor, complaint)
    if side is None:
        require_role(actor, Role.VENDOR_MEMBER, Role.DEPARTMENT_STAFF, Role.ADMIN, action=action)
    return side


def complaint_acknowledge(actor, complaint) -> str:
    """The vendor or the department it is routed to, or an admin (as the platform); returns the side."""
    return _handle(actor, complaint, "acknowledge complaints")


def complaint_close(actor, complaint) -> str:
    """As ``complaint_acknowledge``: who may acknowledge a complaint may answer it; returns the side."""
    return _handle(actor, complaint, "answer complaints")


def complaint_list_scope(actor):
    """The complaints ``actor`` may list (what ``complaint_get`` admits): a citizen's own, those routed to
    the actor's vendor or department, all for oversight, none for anyone else. Raises Unauthenticated."""
    require_role(actor, *Role, action="see complaints")
    if actor.role == Role.CITIZEN:
        return Complaint.citizen_id == actor.id
    if actor.role == Role.VENDOR_MEMBER:
        return Complaint.vendor_id == actor.vendor_id
    if actor.role == Role.DEPARTMENT_STAFF:
        return Complaint.department_id == actor.department_id
    if actor.role in OVERSIGHT:
        return sa.true()
    return sa.false()
