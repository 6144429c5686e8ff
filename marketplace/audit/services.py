"""Browsing the audit log: admins and auditors see everything, read-only."""

from __future__ import annotations

import sqlalchemy as sa

from core.audit import AuditEvent
from core.auth import require_role
from core.roles import Role
from marketplace.pagination import Page, like, paginate


def audit_list(actor, *, q: str = "", action: str | None = None, object_type: str | None = None,
               object_id: str | None = None, page: int = 1, page_size: int = 50) -> Page:
    """Audit events, newest first, filtered. Admins and auditors only."""
    require_role(actor, Role.ADMIN, Role.AUDITOR, action="browse the audit log")
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action == action)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    if q:
        query = query.where(sa.or_(AuditEvent.actor_label.like(like(q), escape="\\"),
                                   AuditEvent.action.like(like(q), escape="\\")))
    return paginate(query, page, page_size)
