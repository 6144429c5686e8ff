"""Certification runs: one row per (app version, suite version), holding a snapshot of everything the run needs,
so sandbox jobs read only sandbox tables (no foreign key into the marketplace)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db
from core.time import UTCDateTime, utcnow

STATES = ("queued", "testing", "certified", "failed", "error")
FINAL_STATES = ("certified", "failed")


class CertificationRun(db.Model):
    __tablename__ = "certification_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    app_version_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, index=True)
    vendor_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    department_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    bundle_sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    suite_version: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    suite_sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    suite: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    contract: Mapped[dict | None] = mapped_column(sa.JSON)
    dept_scopes: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    dataset: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    job_id: Mapped[str] = mapped_column(sa.String(120), nullable=False, unique=True)
    state: Mapped[str] = mapped_column(sa.String(16), nullable=False, default="queued", index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    cases_done: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    cases_total: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    backend: Mapped[str | None] = mapped_column(sa.String(16))
    worker: Mapped[str | None] = mapped_column(sa.String(200))  # "<host>:<pid>.<start>" of the worker running it
    error: Mapped[str | None] = mapped_column(sa.Text)
    report: Mapped[dict | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("app_version_id", "suite_version", name="uq_certification_runs_version_suite"),
        sa.CheckConstraint("state IN ('queued', 'testing', 'certified', 'failed', 'error')", name="state"),
        sa.CheckConstraint("cases_done >= 0 AND cases_done <= cases_total", name="progress"),
    )

    def progress(self) -> dict[str, Any]:
        return {"state": self.state, "cases_done": self.cases_done, "cases_total": self.cases_total}
