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
