"""What the gateway keeps: one-time launch codes, citizens' sessions on app origins, and every department call
a served app made. All of it in the database, so any web process can redeem a code or serve a session."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.time import UTCDateTime, utcnow


class LaunchCode(db.Model):
    """A one-time, short-lived code that carries a logged-in citizen from the platform to an app's origin.

    Only the sha256 of the code is stored: a database reader cannot use a code that is still live.
    """

    __tablename__ = "gateway_launch_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    citizen_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    app_id: Mapped[int] = mapped_column(sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False, index=True)
    transaction_id: Mapped[int] = mapped_column(sa.ForeignKey("transactions.id", ondelete="CASCADE"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GatewaySession(db.Model):
    """A citizen's session on one app's origin, named by an opaque id in the gateway's cookie (hashed here)."""

    __tablename__ = "gateway_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    citizen_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    app_id: Mapped[int] = mapped_column(sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False, index=True)
    transaction_id: Mapped[int] = mapped_column(sa.ForeignKey("transactions.id", ondelete="CASCADE"), nullable=False,
                                                index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    citizen = relationship("User")
    app = relationship("App")


class DepartmentCall(db.Model):
    """One call a served app made to the department service through the platform."""

    __tablename__ = "gateway_department_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    app_id: Mapped[int] = mapped_column(sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False, index=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("app_versions.id", ondelete="CASCADE"), nullable=False)
    method: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    path: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    query: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    status: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    violation: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    scope: Mapped[str | None] = mapped_column(sa.String(40))  # the scope refused, for violations
    case_number: Mapped[str | None] = mapped_column(sa.String(64))
    # The citizens the call was about (read or applied for): resident IDs are not kept, only platform users.
    citizen_ids: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)
