"""Authorization rules for account use cases; each has the name of its service function."""

from __future__ import annotations

from core.auth import require_role
from core.errors import NotFound
from core.roles import Role


def user_create(actor) -> None:
    require_role(actor, Role.ADMIN, action="create users")


def user_list(actor) -> None:
    require_role(actor, Role.ADMIN, action="list users")


def client_create(actor) -> None:
    require_role(actor, Role.DEPARTMENT_STAFF, Role.VENDOR_MEMBER, Role.FINANCE, Role.AUDITOR, Role.ADMIN,
                 action="create API clients")


def client_revoke(actor, client) -> None:
    client_create(actor)
    if client.user_id != actor.id and str(actor.role) != Role.ADMIN:
        raise NotFound(f"API client {client.client_id} does not exist")


def vendor_application_decide(actor) -> None:
    require_role(actor, Role.ADMIN, action="review vendor applications")


vendor_application_list = vendor_application_decide


def invitation_create(actor, vendor_id: int) -> None:
    """Administrators, and a vendor's own members for their colleagues."""
    require_role(actor, Role.ADMIN, Role.VENDOR_MEMBER, action="invite vendor members")
    if actor.role == Role.VENDOR_MEMBER and actor.vendor_id != vendor_id:
        raise NotFound(f"vendor {vendor_id} does not exist")
