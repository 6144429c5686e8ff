"""Who may do what with ratings: citizens rate their own completed cases; the vendor and the department
reply; citizens and the order's department staff flag; the rated app's vendor appeals; admins moderate.

Nobody moves their own money: a vendor can neither flag a rating (of a competitor or its own) nor appeal one of
another vendor's app."""

from __future__ import annotations

from core.auth import require_role
from core.errors import Forbidden, NotFound
from core.roles import Role


def rating_create(actor, transaction) -> None:
    require_role(actor, Role.CITIZEN, action="rate a case")
    if transaction.citizen_id != actor.id:
        # Someone else's case: answer as if it did not exist.
        raise NotFound(f"case {transaction.id} does not exist")


def rating_update(actor, rating) -> None:
    require_role(actor, Role.CITIZEN, action="edit a rating")
    if rating.citizen_id != actor.id:
        raise Forbidden("only the citizen who gave a rating may edit it")


def rating_reply(actor, rating) -> str:
    """The side the actor answers for: the app's vendor or the order's department."""
    require_role(actor, Role.VENDOR_MEMBER, Role.DEPARTMENT_STAFF, action="reply to ratings")
    if actor.role == Role.VENDOR_MEMBER and actor.vendor_id == rating.vendor_id:
        return "vendor"
    if actor.role == Role.DEPARTMENT_STAFF and actor.department_id == rating.app.order.department_id:
        return "department"
    raise Forbidden("only the app's vendor and the order's department may reply to its ratings")


def rating_flag(actor, rating) -> None:
    require_role(actor, Role.CITIZEN, Role.DEPARTMENT_STAFF, action="report a rating")
    if actor.role == Role.DEPARTMENT_STAFF and actor.department_id != rating.app.order.department_id:
        raise Forbidden("department staff may report ratings of their own department's services only")


def rating_appeal(actor, rating) -> None:
    require_role(actor, Role.VENDOR_MEMBER, action="appeal a rating")
    if actor.vendor_id != rating.vendor_id:
        raise Forbidden("a vendor may appeal ratings of its own apps only")


def rating_moderate(actor) -> None:
    require_role(actor, Role.ADMIN, action="moderate ratings")


rating_hide = rating_moderate
rating_review_resolve = rating_moderate
rating_review_queue = rating_moderate


def rating_list_for_staff(actor) -> None:
    require_role(actor, Role.VENDOR_MEMBER, Role.DEPARTMENT_STAFF, Role.ADMIN, Role.AUDITOR,
                 action="see the ratings to answer")


def rating_adjustments(actor) -> None:
    require_role(actor, Role.FINANCE, Role.AUDITOR, Role.ADMIN, action="see the rating adjustments of a quarter")
