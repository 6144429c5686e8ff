"""The roles of the platform (ARCHITECTURE.md §3)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CITIZEN = "citizen"
    DEPARTMENT_STAFF = "department_staff"
    VENDOR_MEMBER = "vendor_member"
    FINANCE = "finance"
    AUDITOR = "auditor"
    ADMIN = "admin"


ALL_ROLES = tuple(Role)
