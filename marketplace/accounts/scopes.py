"""OAuth 2 scopes of the REST API and which roles may hold them.

A scope named ``<area>:read`` only reads (core.auth.is_read_scope); an operation that changes anything requires
a scope that is not one, which create_app checks for every operation (marketplace.apidoc)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.roles import Role

# Descriptions are shown on the API clients page in the reader's language.
SCOPES: dict[str, object] = {
    "orders:read": _l("Read orders, their contracts and public suites"),
    "orders:write": _l("Create, edit and move orders through their lifecycle; manage suites; answer questions"),
    "questions:write": _l("Ask clarification questions on orders"),
    "apps:read": _l("Read apps and versions"),
    "apps:write": _l("Create apps and upload versions"),
    "versions:review": _l("Approve, reject and publish certified versions"),
    "vendors:write": _l("Register vendors"),
    "catalogue:write": _l("Manage departments and service items"),
    "users:write": _l("Create users"),
    "clients:write": _l("Create, rotate and revoke your API clients, never with more scopes than the token that asks"),
    "audit:read": _l("Browse the audit log"),
    "billing:read": _l("Read ledger, settlements and reports"),
    "billing:write": _l("Run settlements"),
    "usage:write": _l("Report usage events"),
    "feedback:read": _l("Read the ratings, complaints and cases of your apps or your department's orders"),
    "feedback:write": _l("Reply to ratings and answer complaints; admins also moderate ratings"),
    "analytics:read": _l("Read department analytics"),
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
