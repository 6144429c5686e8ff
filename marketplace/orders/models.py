from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.time import UTCDateTime, utcnow

# Rating multiplier points as (stars in tenths, multiplier in basis points): exact integers, no floats.
# DOMAIN.md: 1.0 -> 0.5, 3.0 -> 0.8, 4.0 -> 1.0, 5.0 -> 1.2, linear between points.
DEFAULT_MULTIPLIERS = [[10, 5000], [30, 8000], [40, 10000], [50, 12000]]


class Order(db.Model):
    """A department's requirement order for an app serving one service item.

    Its status is derived from timestamps: draft → open (published_at) → closed (closed_at) → archived.
    """

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("departments.id"), nullable=False, index=True)
    service_item_id: Mapped[int] = mapped_column(sa.ForeignKey("service_items.id"), nullable=False, index=True)
    slug: Mapped[str] = mapped_column(sa.String(63), unique=True, nullable=False)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    # The contract: the OpenAPI document the app must serve, and the scopes it may use.
    contract: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    dept_scopes: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    citizen_scopes: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    # The price schedule.
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False, default="CNY")
    fee_per_transaction_fen: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    quarterly_budget_fen: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    rating_multipliers: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=lambda: DEFAULT_MULTIPLIERS)
    award_eligible: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Optimistic locking: an edit based on a stale copy is refused instead of silently overwriting.
    revision: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    department = relationship("Department")
    service_item = relationship("ServiceItem")
    suites: Mapped[list[AcceptanceSuite]] = relationship(back_populates="order", order_by="AcceptanceSuite.version")

    __mapper_args__ = {"version_id_col": revision}
    __table_args__ = (
        sa.CheckConstraint("fee_per_transaction_fen >= 0", name="fee_nonnegative"),
        sa.CheckConstraint("quarterly_budget_fen >= 0", name="budget_nonnegative"),
        sa.CheckConstraint("closed_at IS NULL OR published_at IS NOT NULL", name="closed_after_published"),
    )

    @property
    def status(self) -> str:
        if self.archived_at:
            return "archived"
        if self.closed_at:
            return "closed"
        if self.published_at:
            return "open"
        return "draft"

    @property
    def current_suite(self) -> AcceptanceSuite | None:
        return self.suites[-1] if self.suites else None


class AcceptanceSuite(db.Model):
    """One immutable version of an order's acceptance suite (public and hidden cases)."""

    __tablename__ = "acceptance_suites"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), nullable=False, index=True)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    document: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    order: Mapped[Order] = relationship(back_populates="suites")

    __table_args__ = (sa.UniqueConstraint("order_id", "version", name="uq_acceptance_suites_order_version"),)


class Question(db.Model):
    """A vendor's public clarification question. The asker is kept for moderation, never shown."""

    __tablename__ = "order_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), nullable=False, index=True)
    asked_by_vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("vendors.id"), nullable=False)
    asked_by_user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False)
    text: Mapped[str] = mapped_column(sa.Text, nullable=False)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    answer: Mapped[str | None] = mapped_column(sa.Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # Moderation: a hidden question (spam, abuse, a leaked secret) is kept with the reason, never deleted.
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_reason: Mapped[str | None] = mapped_column(sa.Text)
    hidden_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
