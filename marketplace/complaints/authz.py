"""Who may do what with complaints: citizens file about their own cases or any published app; the app's
vendor and the order's department handle them; oversight reads."""

from __future__ import annotations

from core.auth import require_role
from core.errors import NotFound
from core.roles import Role


def complaint_file(actor, transaction=None) -> None:
    require_role(actor, Role.CITIZEN, action="file a complaint")
    if transaction is not None and transaction.citizen_id != actor.id:
        raise NotFound(f"case {transaction.id} does not exist")


def complaint_view(actor, complaint) -> None:
    if actor is not None:
        if actor.role in {Role.ADMIN, Role.AUDITOR}:
            return
        if actor.role == Role.CITIZEN and actor.id == complaint.citizen_id:
            return
        if complaint_side(actor, complaint):
            return
    raise NotFound(f"complaint {complaint.id} does not exist")


def complaint_side(actor, complaint) -> str | None:
    if actor.role == Role.VENDOR_MEMBER and actor.vendor_id == complaint.vendor_id:
        return "vendor"
    if actor.role == Role.DEPARTMENT_STAFF and actor.department_id == complaint.department_id:
        return "department"
    return None


def complaint_handle(actor, complaint) -> str:
    """The side the actor answers for; admins answer as the platform."""
    complaint_view(actor, complaint)
    if actor.role == Role.ADMIN:
        return "platform"
    side = complaint_side(actor, complaint)
    if side is None:
        require_role(actor, Role.VENDOR_MEMBER, Role.DEPARTMENT_STAFF, Role.ADMIN, action="answer complaints")
    return side


def complaint_list(actor) -> None:
    require_role(actor, *Role, action="see complaints")
