"""Authorization rules for order use cases, one per service function of the same name.

Objects another tenant may not see answer NotFound (404) rather than Forbidden, so ids do not leak.
"""

from __future__ import annotations

from core.auth import require_role
from core.errors import Forbidden, NotFound
from core.roles import Role

PUBLIC_STATUSES = {"open", "closed"}
OVERSIGHT = {Role.ADMIN, Role.AUDITOR, Role.FINANCE}


def _owns(actor, order) -> bool:
    return actor is not None and actor.role == Role.DEPARTMENT_STAFF and actor.department_id == order.department_id


def order_view(actor, order) -> None:
    """Open and closed orders are public; drafts and archives only for their department and oversight."""
    if order.status in PUBLIC_STATUSES:
        return
    if actor is not None and (_owns(actor, order) or actor.role in OVERSIGHT):
        return
    raise NotFound(f"order {order.id} does not exist")


def order_create(actor, department_id: int) -> None:
    require_role(actor, Role.DEPARTMENT_STAFF, Role.ADMIN, action="create orders")
    if actor.role == Role.DEPARTMENT_STAFF and actor.department_id != department_id:
        raise Forbidden("department staff may create orders only for their own department's service items")


def order_change(actor, order) -> None:
    """Edit, publish, close, archive, add suite versions, answer questions."""
    order_view(actor, order)
    require_role(actor, Role.DEPARTMENT_STAFF, Role.ADMIN, action="change orders")
    if actor.role == Role.DEPARTMENT_STAFF and not _owns(actor, order):
        raise Forbidden(f"order {order.id} belongs to another department")


def suite_view_full(actor, order) -> bool:
    """Whether ``actor`` may see hidden acceptance cases: only the owning department and admins/auditors."""
    if actor is None:
        return False
    return _owns(actor, order) or actor.role in {Role.ADMIN, Role.AUDITOR}


def question_ask(actor, order) -> None:
    order_view(actor, order)
    require_role(actor, Role.VENDOR_MEMBER, action="ask clarification questions")
    if order.status != "open":
        raise Forbidden(f"order {order.id} is {order.status}; questions are taken while it is open")


def question_hide(actor, order) -> None:
    """The order's department and platform administrators moderate its questions."""
    order_change(actor, order)


def question_moderation_view(actor, order) -> bool:
    """Whether ``actor`` sees hidden questions (marked, with the reason): those who may hide them."""
    return actor is not None and (_owns(actor, order) or actor.role == Role.ADMIN)
