"""Authorization rules for order use cases: one rule per service function, under the same name, called first.

Objects another tenant may not see answer NotFound (404) rather than Forbidden, so ids do not leak. List use
cases have a scope instead (``order_list_scope``): the SQL condition that keeps what the actor may see.
"""

from __future__ import annotations

import sqlalchemy as sa

from core.auth import require_role
from core.errors import Forbidden, NotFound
from core.roles import Role
from marketplace.orders.models import Order

PUBLIC_STATUSES = {"open", "closed"}
OVERSIGHT = {Role.ADMIN, Role.AUDITOR, Role.FINANCE}


def _owns(actor, order) -> bool:
    return actor is not None and actor.role == Role.DEPARTMENT_STAFF and actor.department_id == order.department_id


def order_get(actor, order) -> None:
    """Open and closed orders are public; drafts and archives only for their department and oversight."""
    if order.status in PUBLIC_STATUSES:
        return
    if actor is not None and (_owns(actor, order) or actor.role in OVERSIGHT):
        return
    raise NotFound(f"order {order.id} does not exist")


def order_list_scope(actor):
    """The orders ``actor`` may list (the same as ``order_get`` admits): published, not archived ones for
    everybody; department staff also their department's drafts and archives; oversight everything."""
    published = sa.and_(Order.published_at.is_not(None), Order.archived_at.is_(None))
    if actor is None or actor.role in {Role.CITIZEN, Role.VENDOR_MEMBER}:
        return published
    if actor.role == Role.DEPARTMENT_STAFF:
        return sa.or_(published, Order.department_id == actor.department_id)
    return sa.true()


def order_create(actor, department_id: int) -> None:
    """Department staff for their own department's service items, and admins."""
    require_role(actor, Role.DEPARTMENT_STAFF, Role.ADMIN, action="create orders")
    if actor.role == Role.DEPARTMENT_STAFF and actor.department_id != department_id:
        raise Forbidden("department staff may create orders only for their own department's service items")


def _department_changes(actor, order, action: str) -> None:
    order_get(actor, order)
    require_role(actor, Role.DEPARTMENT_STAFF, Role.ADMIN, action=action)
    if actor.role == Role.DEPARTMENT_STAFF and not _owns(actor, order):
        raise Forbidden(f"order {order.id} belongs to another department")


def order_update(actor, order) -> None:
    """The owning department's staff and admins edit an order."""
    _department_changes(actor, order, "change orders")


def order_publish(actor, order) -> None:
    _department_changes(actor, order, "publish orders")


def order_close(actor, order) -> None:
    _department_changes(actor, order, "close orders")


def order_archive(actor, order) -> None:
    _department_changes(actor, order, "archive orders")


def suite_add(actor, order) -> None:
    """The owning department's staff and admins add acceptance-suite versions."""
    _department_changes(actor, order, "change acceptance suites")


def suite_get(actor, order) -> bool:
    """Whoever sees the order sees its suite; returns whether ``actor`` may also see the hidden acceptance
    cases: only the owning department, admins and auditors."""
    order_get(actor, order)
    if actor is None:
        return False
    return _owns(actor, order) or actor.role in {Role.ADMIN, Role.AUDITOR}


def question_ask(actor, order) -> None:
    """Vendor members ask about open orders they can see."""
    order_get(actor, order)
    require_role(actor, Role.VENDOR_MEMBER, action="ask clarification questions")
    if order.status != "open":
        raise Forbidden(f"order {order.id} is {order.status}; questions are taken while it is open")


def question_answer(actor, order) -> None:
    """The department that owns the question's order (and admins) answers it."""
    _department_changes(actor, order, "answer questions")


def question_list(actor, order) -> None:
    """Questions and answers are as public as their order."""
    order_get(actor, order)


def question_page(actor, order) -> None:
    """A page of questions: as ``question_list``."""
    question_list(actor, order)


def question_hide(actor, order) -> None:
    """The order's department and platform administrators moderate its questions."""
    _department_changes(actor, order, "hide questions")


def question_moderation_view(actor, order) -> bool:
    """Whether ``actor`` sees hidden questions (marked, with the reason): those who may hide them."""
    return actor is not None and (_owns(actor, order) or actor.role == Role.ADMIN)
