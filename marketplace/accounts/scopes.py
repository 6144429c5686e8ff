"""OAuth 2 scopes of the REST API and which roles may hold them.

A scope named ``<area>:read`` only reads (core.auth.is_read_scope); an operation that changes anything requires
a scope that is not one, which create_app checks for every operation (marketplace.apidoc)."""

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
    "clients:write": "Create, rotate and revoke your API clients, never with more scopes than the token that asks",
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
    Role.DEPARTMENT_STAFF: frozenset({"clients:write", "orders:read", "orders:write", "apps:read", "versions:review",
                                      "feedback:read", "feedback:write", "analytics:read"}),
    Role.VENDOR_MEMBER: frozenset({"clients:write", "orders:read", "questions:write", "apps:read", "apps:write",
                                   "feedback:read", "feedback:write"}),
    Role.FINANCE: frozenset({"clients:write", "orders:read", "apps:read", "billing:read", "billing:write", "usage:write"}),
    Role.AUDITOR: frozenset({"clients:write", "orders:read", "apps:read", "audit:read", "billing:read", "feedback:read",
                             "analytics:read"}),
    Role.ADMIN: frozenset(SCOPES),
}
