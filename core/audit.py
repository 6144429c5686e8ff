"""The audit log: who did what to which object, written in the same transaction as the change."""

from __future__ import annotations

from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.time import UTCDateTime, utcnow


class Actor(Protocol):
    """Whoever performs a use case: a logged-in user, or an API client acting for one."""

    id: int | None
    role: str
    department_id: int | None
    vendor_id: int | None

    @property
    def label(self) -> str: ...


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[Any] = mapped_column(UTCDateTime, default=utcnow, nullable=False, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    actor_label: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    actor_role: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    action: Mapped[str] = mapped_column(sa.String(80), nullable=False, index=True)
    object_type: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    object_id: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    # Tenant scope of the object, so staff can be shown only their own department's trail.
    department_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    vendor_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    payload: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)

    __table_args__ = (sa.Index("ix_audit_events_object", "object_type", "object_id"),)


SYSTEM_LABEL = "system"


def record(
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: Any,
    payload: dict[str, Any] | None = None,
    *,
    department_id: int | None = None,
    vendor_id: int | None = None,
) -> AuditEvent:
    """Add an audit event to the current session; the caller's commit makes it durable with the change."""
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        actor_label=actor.label if actor is not None else SYSTEM_LABEL,
        actor_role=actor.role if actor is not None else SYSTEM_LABEL,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        department_id=department_id,
        vendor_id=vendor_id,
        payload=_jsonable(payload or {}),
    )
    db.session.add(event)
    return event


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
