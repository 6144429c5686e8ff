"""Who may do what with transactions. Other people's cases answer NotFound, so their existence never leaks."""

from __future__ import annotations

from core.auth import require_role
from core.errors import NotFound
from core.roles import Role

OVERSIGHT = {Role.ADMIN, Role.AUDITOR}


def transaction_start(actor) -> None:
    require_role(actor, Role.CITIZEN, action="start a case with an app")


def transaction_view(actor, transaction) -> None:
    """The citizen sees their own cases; the vendor its app's; the department its order's; oversight all."""
    if actor is not None:
        if actor.role in OVERSIGHT:
            return
        if actor.role == Role.CITIZEN and actor.id == transaction.citizen_id:
            return
        if actor.role == Role.VENDOR_MEMBER and actor.vendor_id == transaction.app.vendor_id:
            return
        if actor.role == Role.DEPARTMENT_STAFF and actor.department_id == transaction.order.department_id:
            return
    raise NotFound(f"case {transaction.id} does not exist")


transaction_get = transaction_view


def transaction_list_mine(actor) -> None:
    require_role(actor, Role.CITIZEN, action="see your cases")
