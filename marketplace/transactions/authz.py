"""Who may do what with transactions (citizens' cases): one rule per service function, same name; the list
use case has a scope. Other people's cases answer NotFound, so their existence never leaks."""

from __future__ import annotations

from core.auth import require_role
from core.errors import NotFound
from core.roles import Role
from marketplace.transactions.models import Transaction

OVERSIGHT = {Role.ADMIN, Role.AUDITOR}


def transaction_start(actor) -> None:
    """Citizens start cases (with a published app; the service checks that)."""
    require_role(actor, Role.CITIZEN, action="start a case with an app")


def transaction_get(actor, transaction) -> None:
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


def transaction_get_by_case_number(actor, transaction) -> None:
    """The same people as ``transaction_get``: the case number is only another key."""
    transaction_get(actor, transaction)


def transaction_list_mine_scope(actor):
    """A citizen lists their own cases, nobody else's; other roles have no list of their own."""
    require_role(actor, Role.CITIZEN, action="see your cases")
    return Transaction.citizen_id == actor.id
