"""OAuth 2 scopes of the REST API and which roles may hold them."""

from __future__ import annotations

from core.roles import Role

SCOPES: dict[str, str] = {
    "orders:read": "Read orders, their contracts and public suites",
    "orders:write": "Create, edit and move orders through their lifecycle; manage suites; answer questions",
    "questions:write": "Ask clarification questions on orders",
    "apps:read": "Read apps and versions",
    "apps:write": "Create apps and upload versions",
    "versions:review": "Approve, reject and publish certified versions",
    "vendors:write": "Register vendors",
    "catalogue:write": "Manage departments and service items",
    "users:write": "Create users",
    "audit:read": "Browse the audit log",
    "billing:read": "Read ledger, settlements and reports",
    "billing:write": "Run settlements",
    "usage:write": "Report usage events",
    "feedback:read": "Read the ratings, complaints and cases of your apps or your department's orders",
    "feedback:write": "Reply to ratings and answer complaints; admins also moderate ratings",
    "analytics:read": "Read department analytics",
}

ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.CITIZEN: frozenset(),
    Role.DEPARTMENT_STAFF: frozenset({"orders:read", "orders:write", "apps:read", "versions:review",
                                      "feedback:read", "feedback:write", "analytics:read"}),
    Role.VENDOR_MEMBER: frozenset({"orders:read", "questions:write", "apps:read", "apps:write",
                                   "feedback:read", "feedback:write"}),
    Role.FINANCE: frozenset({"orders:read", "apps:read", "billing:read", "billing:write", "usage:write"}),
    Role.AUDITOR: frozenset({"orders:read", "apps:read", "audit:read", "billing:read", "feedback:read",
                             "analytics:read"}),
    Role.ADMIN: frozenset(SCOPES),
}
