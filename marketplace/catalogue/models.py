from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.time import UTCDateTime, utcnow


class Department(db.Model):
    """A government body; its "store" lists its service items and orders."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    name_en: Mapped[str] = mapped_column(sa.String(160), nullable=False, default="")
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    items: Mapped[list[ServiceItem]] = relationship(back_populates="department", order_by="ServiceItem.code")


class ServiceItem(db.Model):
    """A public service (政务服务事项) with its guide (办事指南)."""

    __tablename__ = "service_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("departments.id"), nullable=False, index=True)
    code: Mapped[str] = mapped_column(sa.String(60), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(160), nullable=False)
    name_en: Mapped[str] = mapped_column(sa.String(200), nullable=False, default="")
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    # The guide: [{"name": "...", "required": true, "note": "..."}]
    materials: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    time_limit_days: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    trips: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    fee_fen: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    channels: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    department: Mapped[Department] = relationship(back_populates="items")

    __table_args__ = (
        sa.CheckConstraint("time_limit_days >= 0", name="time_limit_nonnegative"),
        sa.CheckConstraint("trips >= 0", name="trips_nonnegative"),
        sa.CheckConstraint("fee_fen >= 0", name="fee_nonnegative"),
    )


class LifeEvent(db.Model):
    """A citizen goal spanning departments (办事主题), e.g. 开餐馆 open a restaurant, with ordered steps."""

    __tablename__ = "life_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(60), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    name_en: Mapped[str] = mapped_column(sa.String(160), nullable=False, default="")
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    description_en: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    steps: Mapped[list[LifeEventStep]] = relationship(back_populates="life_event", order_by="LifeEventStep.position",
                                                      cascade="all, delete-orphan")


class LifeEventStep(db.Model):
    """One service item in a life event, at its place in the order, with the items that must be done first
    (``prerequisites``: service item codes, each an earlier step of the same life event)."""

    __tablename__ = "life_event_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    life_event_id: Mapped[int] = mapped_column(sa.ForeignKey("life_events.id", ondelete="CASCADE"), nullable=False,
                                               index=True)
    service_item_id: Mapped[int] = mapped_column(sa.ForeignKey("service_items.id"), nullable=False, index=True)
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    prerequisites: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    note: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    note_en: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")

    life_event: Mapped[LifeEvent] = relationship(back_populates="steps")
    service_item: Mapped[ServiceItem] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("life_event_id", "position", name="uq_life_event_steps_event_position"),
        sa.UniqueConstraint("life_event_id", "service_item_id", name="uq_life_event_steps_event_item"),
    )


class AppStatistics(db.Model):
    """The figures citizens compare apps by, kept so that a catalogue page reads one row per app instead of
    every case and rating: completed cases, the median handling time of the latest completed cases, and the
    counted ratings' (not hidden, not under review) count, star distribution and sums.

    Written only by ``marketplace.catalogue.statistics``, in the same database transaction as the case or
    rating that changes them; ``govmarket statistics rebuild`` recomputes every row from the raw rows.
    """

    __tablename__ = "app_statistics"

    app_id: Mapped[int] = mapped_column(sa.ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    completed: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    median_handling_seconds: Mapped[int | None] = mapped_column(sa.BigInteger)
    ratings: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    stars_sum: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    stars_1: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    stars_2: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    stars_3: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    stars_4: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    stars_5: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    # Sums of the five service-quality dimensions (marketplace.ratings.models.DIMENSIONS) over counted ratings.
    tangibility_sum: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    reliability_sum: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    responsiveness_sum: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    assurance_sum: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    empathy_sum: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("completed >= 0 AND ratings >= 0", name="counts_nonnegative"),
        sa.CheckConstraint("ratings = stars_1 + stars_2 + stars_3 + stars_4 + stars_5", name="distribution_adds_up"),
    )

    @property
    def distribution(self) -> tuple[int, int, int, int, int]:
        return (self.stars_1, self.stars_2, self.stars_3, self.stars_4, self.stars_5)


class ServiceItemStatistics(db.Model):
    """Completed cases per service item (search and the catalogue's "most used" order), kept like
    ``AppStatistics``."""

    __tablename__ = "service_item_statistics"

    service_item_id: Mapped[int] = mapped_column(sa.ForeignKey("service_items.id", ondelete="CASCADE"),
                                                 primary_key=True)
    completed: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (sa.CheckConstraint("completed >= 0", name="completed_nonnegative"),)
