"""Transactions (办件): one citizen's case handled by one app, with the timeline the citizen follows."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.time import UTCDateTime, utcnow

# started → submitted (已提交) → accepted (已受理) → under_review (审查中) → completed (已办结·准予) | rejected
# (已办结·不予许可); or submitted → not_accepted (不予受理); or failed (the app could not finish).
STATUSES = ("started", "submitted", "accepted", "under_review", "completed", "rejected", "not_accepted", "failed")
FINAL = frozenset({"completed", "rejected", "not_accepted", "failed"})
# Decided by the department: what a citizen may rate (一事一评 after 办结 or 不予受理).
DECIDED = frozenset({"completed", "rejected", "not_accepted"})


class Transaction(db.Model):
    """A case: started when the citizen opens an app, submitted when the app submits to the department
    through the platform, then completed or rejected by the department's decision (or failed).

    ``status`` is kept as a column for the citizen's lists; every change also stamps its time and adds a
    ``TransactionEvent`` to the timeline, in the same database transaction.
    """

    __tablename__ = "transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(sa.String(32), unique=True, nullable=False)
    citizen_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    app_id: Mapped[int] = mapped_column(sa.ForeignKey("apps.id"), nullable=False, index=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), nullable=False, index=True)
    service_item_id: Mapped[int] = mapped_column(sa.ForeignKey("service_items.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="started", index=True)
    department_case_number: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reasons: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    # What a granted case gives the citizen, as the department states it (the licence or card number).
    result: Mapped[str | None] = mapped_column(sa.String(200))
    # The billing usage event of a completed transaction, written in the same database transaction.
    usage_key: Mapped[str | None] = mapped_column(sa.String(128), unique=True)

    citizen = relationship("User")
    app = relationship("App")
    order = relationship("Order")
    service_item = relationship("ServiceItem")
    events: Mapped[list[TransactionEvent]] = relationship(back_populates="transaction",
                                                          order_by="TransactionEvent.id")

    __table_args__ = (
        sa.CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})", name="status_known"),
        sa.CheckConstraint("status != 'completed' OR (completed_at IS NOT NULL AND usage_key IS NOT NULL)",
                           name="completed_is_metered"),
        sa.Index("ix_transactions_citizen_status", "citizen_id", "status"),
        sa.Index("ix_transactions_app_completed", "app_id", "completed_at"),
    )

    @property
    def is_final(self) -> bool:
        return self.status in FINAL


class TransactionEvent(db.Model):
    """One step of a case's timeline: started, submitted, accepted, under_review, completed, rejected, not_accepted,
    failed, or a note."""

    __tablename__ = "transaction_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(sa.ForeignKey("transactions.id", ondelete="CASCADE"), nullable=False,
                                                index=True)
    kind: Mapped[str] = mapped_column(sa.String(24), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    detail: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)

    transaction: Mapped[Transaction] = relationship(back_populates="events")
