from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.time import UTCDateTime, utcnow


class Vendor(db.Model):
    """A software company (ISV), identified by its unified social credit code."""

    __tablename__ = "vendors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(160), nullable=False)
    credit_code: Mapped[str] = mapped_column(sa.String(18), unique=True, nullable=False)
    contact_email: Mapped[str] = mapped_column(sa.String(254), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    members = relationship("User", back_populates="vendor")
    apps: Mapped[list[App]] = relationship(back_populates="vendor", order_by="App.id")


class App(db.Model):
    """A vendor's app competing for one order."""

    __tablename__ = "apps"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("vendors.id"), nullable=False, index=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), nullable=False, index=True)
    # The app's own origin is <slug>.<APPS_DOMAIN>, so the slug is a DNS label.
    slug: Mapped[str] = mapped_column(sa.String(63), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    summary: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    vendor: Mapped[Vendor] = relationship(back_populates="apps")
    order = relationship("Order")
    versions: Mapped[list[AppVersion]] = relationship(back_populates="app", order_by="AppVersion.id")

    __table_args__ = (sa.UniqueConstraint("vendor_id", "order_id", "name", name="uq_apps_vendor_order_name"),)


class AppVersion(db.Model):
    """One uploaded bundle of an app. Its lifecycle is read from timestamps here and from the
    certification runs the sandbox keeps; see ``vendors.services.version_status``."""

    __tablename__ = "app_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(sa.ForeignKey("apps.id"), nullable=False, index=True)
    version: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    bundle_sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False, index=True)
    bundle_size: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejection_reason: Mapped[str | None] = mapped_column(sa.Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspension_reason: Mapped[str | None] = mapped_column(sa.Text)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    app: Mapped[App] = relationship(back_populates="versions")

    __table_args__ = (sa.UniqueConstraint("app_id", "version", name="uq_app_versions_app_version"),)

    @classmethod
    def live(cls):
        """SQL condition: the version is live — published and not superseded, suspended or withdrawn."""
        return sa.and_(cls.published_at.is_not(None), cls.superseded_at.is_(None), cls.suspended_at.is_(None),
                       cls.withdrawn_at.is_(None))
