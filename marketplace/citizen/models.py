"""The citizen read side's kept statistics: per app and per service item, written in the transaction of the case
or rating that changes them (``marketplace.citizen.statistics``)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.time import UTCDateTime, utcnow


class AppStatistics(db.Model):
    """The figures citizens compare apps by, kept so that a catalogue page reads one row per app instead of
    every case and rating: completed cases, the median handling time of the latest completed cases, and the
    counted ratings' (not hidden, not under review) count, star distribution and sums.

    Written only by ``marketplace.citizen.statistics``, in the same database transaction as the case or
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
    # How many counted ratings gave each (optional) dimension: the dimension's mean is its sum over its count.
    tangibility_count: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0, server_default="0")
    reliability_count: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0, server_default="0")
    responsiveness_count: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0, server_default="0")
    assurance_count: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0, server_default="0")
    empathy_count: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0, server_default="0")
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
