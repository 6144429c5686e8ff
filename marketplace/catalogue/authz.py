from __future__ import annotations

from core.auth import require_role
from core.errors import Forbidden
from core.roles import Role


def department_create(actor) -> None:
    require_role(actor, Role.ADMIN, action="create departments")


def service_item_create(actor, department_id: int) -> None:
    require_role(actor, Role.ADMIN, Role.DEPARTMENT_STAFF, action="create service items")
    if actor.role == Role.DEPARTMENT_STAFF and actor.department_id != department_id:
        raise Forbidden("department staff may add service items only to their own department")


def service_item_synonyms_set(actor, department_id: int) -> None:
    """The item's own department keeps its search words; admins too."""
    require_role(actor, Role.ADMIN, Role.DEPARTMENT_STAFF, action="change an item's search words")
    if actor.role == Role.DEPARTMENT_STAFF and actor.department_id != department_id:
        raise Forbidden("department staff may change the search words of their own department's items only")


def may_set_synonyms(actor, department_id: int) -> bool:
    return actor is not None and (actor.role == Role.ADMIN or (actor.role == Role.DEPARTMENT_STAFF
                                                               and actor.department_id == department_id))
