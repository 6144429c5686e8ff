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
