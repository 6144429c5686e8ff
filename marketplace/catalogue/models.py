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
    # Words citizens search by that are not in the name (餐饮, 开饭店 for 食品经营许可证核发), kept by the department.
    synonyms: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list, server_default="[]")
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
