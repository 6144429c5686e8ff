"""Complaints (投诉): filed by a citizen against a transaction or an app, answered within a deadline."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.time import UTCDateTime, utcnow

STATUSES = ("open", "acknowledged", "resolved", "rejected")
# What the complaint is about: the themes department analytics counts.
THEMES = ("slow", "wrong_decision", "data_privacy", "usability", "accessibility", "staff_conduct", "fees", "other")


class Complaint(db.Model):
    """Routed to the app's vendor and the order's department; either may acknowledge and answer it.
    The public sees the theme, the dates and the outcome, never the citizen or the complaint text."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(32), unique=True, nullable=False)
    citizen_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    transaction_id: Mapped[int | None] = mapped_column(sa.ForeignKey("transactions.id"), index=True)
    app_id: Mapped[int] = mapped_column(sa.ForeignKey("apps.id"), nullable=False, index=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), nullable=False)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("departments.id"), nullable=False, index=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("vendors.id"), nullable=False, index=True)
    theme: Mapped[str] = mapped_column(sa.String(24), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False)
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="open", index=True)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response: Mapped[str | None] = mapped_column(sa.Text)  # to the citizen
    public_outcome: Mapped[str | None] = mapped_column(sa.Text)  # anonymised, shown on the app's public page
    responder_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    responder_side: Mapped[str | None] = mapped_column(sa.String(16))

    app = relationship("App")
    transaction = relationship("Transaction")

    __table_args__ = (
        sa.CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})", name="status_known"),
        sa.CheckConstraint(f"theme IN ({', '.join(repr(t) for t in THEMES)})", name="theme_known"),
        sa.CheckConstraint("status NOT IN ('resolved', 'rejected') OR (closed_at IS NOT NULL AND response IS NOT NULL)",
                           name="closed_has_response"),
    )
