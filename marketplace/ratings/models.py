"""Ratings (一事一评): one per completed transaction, with replies, flags, moderation and manipulation signals."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.time import UTCDateTime, utcnow

# The five service-quality dimensions (SERVQUAL), each optional, 1–5 stars next to the overall level (1–5:
# 非常不满意 … 非常满意).
DIMENSIONS = ("tangibility", "reliability", "responsiveness", "assurance", "empathy")
SIGNAL_KINDS = ("burst", "bombing", "ring", "device", "staff")  # marketplace.ratings.signals
# A flag is a citizen's or the department's report; an appeal is the rated app's vendor asking for a review.
FLAG_KINDS = ("flag", "appeal")


def counted_ratings(as_of: datetime | None = None):
    """The condition a rating must meet to count for display and pay: not hidden by a moderator.

    Flags, appeals and manipulation signals only put a rating in the moderation queue; it keeps counting until a
    moderator hides it. ``as_of`` asks which ratings counted at that moment (given before it and not hidden by
    then): billing counts a quarter's ratings as of the moment its counted set was frozen, so that moderation
    after the freeze changes neither a posted settlement nor a later preview of it.
    """
    if as_of is None:
        return Rating.hidden_at.is_(None)
    return sa.and_(Rating.created_at < as_of, sa.or_(Rating.hidden_at.is_(None), Rating.hidden_at >= as_of))


class Rating(db.Model):
    """A citizen's rating of the app that handled one of their completed transactions.

    A rating counts (for display and pay) unless a moderator hid it. An open manipulation signal, flag or
    appeal puts it under review (in the moderators' queue) without taking it out of the figures.
    """

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(sa.ForeignKey("transactions.id"), unique=True, nullable=False)
    citizen_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    app_id: Mapped[int] = mapped_column(sa.ForeignKey("apps.id"), nullable=False)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), nullable=False, index=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("vendors.id"), nullable=False, index=True)
    stars: Mapped[int] = mapped_column(sa.SmallInteger, nullable=False)
    tangibility: Mapped[int | None] = mapped_column(sa.SmallInteger)
    reliability: Mapped[int | None] = mapped_column(sa.SmallInteger)
    responsiveness: Mapped[int | None] = mapped_column(sa.SmallInteger)
    assurance: Mapped[int | None] = mapped_column(sa.SmallInteger)
    empathy: Mapped[int | None] = mapped_column(sa.SmallInteger)
    comment: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # sha256 of the user agent and the client's network prefix: same-device clusters, never the address itself.
    device_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, default="", index=True)
    # The citizen's account was made shortly before the rating (signals.YOUNG_ACCOUNT): what the burst rule counts.
    young_account: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False, server_default=sa.false())
    # In the moderators' queue (set by signals, flags and appeals, cleared by moderators); still counts.
    under_review: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_reason: Mapped[str | None] = mapped_column(sa.Text)
    hidden_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # The one re-rating a citizen may give after a 差评's follow-up: the level before it, and when.
    first_stars: Mapped[int | None] = mapped_column(sa.SmallInteger)
    rerated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    transaction = relationship("Transaction")
    app = relationship("App")
    citizen = relationship("User", foreign_keys=[citizen_id])
    replies: Mapped[list[RatingReply]] = relationship(back_populates="rating", order_by="RatingReply.id")
    flags: Mapped[list[RatingFlag]] = relationship(back_populates="rating", order_by="RatingFlag.id")
    signals: Mapped[list[RatingSignal]] = relationship(back_populates="rating", order_by="RatingSignal.id")
    follow_up: Mapped[RatingFollowUp | None] = relationship(back_populates="rating", uselist=False)

    __table_args__ = (
        *(sa.CheckConstraint(f"{name} BETWEEN 1 AND 5", name=f"{name}_1_to_5") for name in ("stars", *DIMENSIONS)),
        sa.Index("ix_ratings_app_created", "app_id", "created_at"),
    )

    @property
    def counts(self) -> bool:
        return self.hidden_at is None

    def dimension_scores(self) -> dict[str, int | None]:
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
    """A citizen or the department reported a rating (``flag``), or the rated app's vendor asked for a review of it
    (``appeal``); a moderator resolves it. Neither takes the rating out of the figures."""

    __tablename__ = "rating_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(sa.ForeignKey("ratings.id", ondelete="CASCADE"), nullable=False, index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(sa.String(8), nullable=False, default="flag", server_default="flag")
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(sa.Text)

    rating: Mapped[Rating] = relationship(back_populates="flags")

    __table_args__ = (
        sa.UniqueConstraint("rating_id", "user_id", name="uq_rating_flags_rating_user"),
        sa.CheckConstraint(f"kind IN ({', '.join(repr(k) for k in FLAG_KINDS)})", name="kind_known"),
    )


class RatingFollowUp(db.Model):
    """The rectification (整改) a 差评 opens for the app's vendor and the order's department, with a deadline; the
    citizen sees its outcome on the case and may re-rate once."""

    __tablename__ = "rating_follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(sa.ForeignKey("ratings.id", ondelete="CASCADE"), nullable=False,
                                           unique=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    outcome: Mapped[str | None] = mapped_column(sa.Text)  # what was put right, in the answering side's words
    answered_side: Mapped[str | None] = mapped_column(sa.String(16))  # vendor | department
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    rating: Mapped[Rating] = relationship(back_populates="follow_up")

    @property
    def overdue(self) -> bool:
        return self.answered_at is None and utcnow() > self.due_at


class RatingSignal(db.Model):
    """A manipulation signal the platform detected on a rating (``marketplace.ratings.signals``)."""

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
