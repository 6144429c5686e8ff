"""Ratings (一事一评): one per completed transaction, with replies, flags, moderation and manipulation signals."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.time import UTCDateTime, utcnow

# The five service-quality dimensions (SERVQUAL), each rated 1–5 stars next to the overall stars.
DIMENSIONS = ("tangibility", "reliability", "responsiveness", "assurance", "empathy")
SIGNAL_KINDS = ("burst", "ring", "device")


def counted_ratings():
    """The condition a rating must meet to count for display and pay: not hidden, not awaiting review."""
    return sa.and_(Rating.hidden_at.is_(None), Rating.under_review.is_(False))


class Rating(db.Model):
    """A citizen's rating of the app that handled one of their completed transactions.

    A rating counts (for display and pay) unless it is hidden by a moderator or awaits review: an open
    manipulation signal or an open flag (``review_cleared_at`` older than both, or unset with none).
    """

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(sa.ForeignKey("transactions.id"), unique=True, nullable=False)
    citizen_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    app_id: Mapped[int] = mapped_column(sa.ForeignKey("apps.id"), nullable=False)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), nullable=False, index=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("vendors.id"), nullable=False, index=True)
    stars: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    tangibility: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    reliability: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    responsiveness: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    assurance: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    empathy: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    comment: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # sha256 of the user agent and the client's network prefix: same-device clusters, never the address itself.
    device_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, default="", index=True)
    # Excluded from display and pay while it awaits review (set by signals and flags, cleared by moderators).
    under_review: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_reason: Mapped[str | None] = mapped_column(sa.Text)
    hidden_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    transaction = relationship("Transaction")
    app = relationship("App")
    citizen = relationship("User", foreign_keys=[citizen_id])
    replies: Mapped[list[RatingReply]] = relationship(back_populates="rating", order_by="RatingReply.id")
    flags: Mapped[list[RatingFlag]] = relationship(back_populates="rating", order_by="RatingFlag.id")
    signals: Mapped[list[RatingSignal]] = relationship(back_populates="rating", order_by="RatingSignal.id")

    __table_args__ = (
        *(sa.CheckConstraint(f"{name} BETWEEN 1 AND 5", name=f"{name}_1_to_5") for name in ("stars", *DIMENSIONS)),
        sa.Index("ix_ratings_app_created", "app_id", "created_at"),
    )

    @property
    def counts(self) -> bool:
        return self.hidden_at is None and not self.under_review

    def dimension_scores(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in DIMENSIONS}


class RatingReply(db.Model):
    """The vendor's or the department's public answer to a rating (one per side, editable)."""

    __tablename__ = "rating_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(sa.ForeignKey("ratings.id", ondelete="CASCADE"), nullable=False, index=True)
    side: Mapped[str] = mapped_column(sa.String(16), nullable=False)  # vendor | department
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False)
    text: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    rating: Mapped[Rating] = relationship(back_populates="replies")

    __table_args__ = (
        sa.UniqueConstraint("rating_id", "side", name="uq_rating_replies_rating_side"),
        sa.CheckConstraint("side IN ('vendor', 'department')", name="side_known"),
    )


class RatingFlag(db.Model):
    """Someone reported a rating as abusive or fake; a moderator resolves it."""

    __tablename__ = "rating_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(sa.ForeignKey("ratings.id", ondelete="CASCADE"), nullable=False, index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False)
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(sa.Text)

    rating: Mapped[Rating] = relationship(back_populates="flags")

    __table_args__ = (sa.UniqueConstraint("rating_id", "user_id", name="uq_rating_flags_rating_user"),)


class RatingSignal(db.Model):
    """A manipulation signal the platform detected on a rating: a burst, a rating ring, a same-device cluster."""

    __tablename__ = "rating_signals"

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(sa.ForeignKey("ratings.id", ondelete="CASCADE"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    detail: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(sa.Text)

    rating: Mapped[Rating] = relationship(back_populates="signals")

    __table_args__ = (
        sa.UniqueConstraint("rating_id", "kind", name="uq_rating_signals_rating_kind"),
        sa.CheckConstraint(f"kind IN ({', '.join(repr(k) for k in SIGNAL_KINDS)})", name="kind_known"),
    )
