"""Department analytics are for the staff of that department (and admins and auditors)."""

from __future__ import annotations

from core.auth import require_role
from core.errors import Forbidden
from core.roles import Role


def analytics_department(actor, department_id: int) -> None:
    require_role(actor, Role.DEPARTMENT_STAFF, Role.ADMIN, Role.AUDITOR, action="see department analytics")
    if actor.role == Role.DEPARTMENT_STAFF and actor.department_id != department_id:
        raise Forbidden("department staff see the analytics of their own department only")
