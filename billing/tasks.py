"""Scheduled settlement: at the end of each quarter's grace period the quarter is settled.

``settle_due_quarters`` is the RQ job (idempotent: posting is at most once per quarter and order, so
running it twice, or alongside a finance officer, posts nothing twice). With ``QUEUE_MODE=rq`` it is
scheduled with RQ's ``enqueue_at`` for the grace end of the current quarter (``govmarket worker`` runs
RQ's scheduler) and re-schedules itself for the next quarter after each run. Like every job it
runs inside the platform's app context.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from billing import services
from billing.calendar import GRACE_PERIOD, quarter_code_of, quarter_span
from billing.models import Quarter
from core.auth import SYSTEM
from core.extensions import db
from core.time import utcnow

log = logging.getLogger(__name__)

QUEUE = "billing"
JOB_TIMEOUT = 2 * 3600


def due_quarters(now: datetime) -> list[str]:
    """Quarters whose grace period has ended and that are not settled yet, oldest first."""
    previous = quarter_code_of(quarter_span(quarter_code_of(now)).starts_at - timedelta(microseconds=1))
    codes = set(db.session.scalars(sa.select(Quarter.code).where(Quarter.grace_ends_at <= now,
                                                                 Quarter.settled_at.is_(None),
                                                                 Quarter.closed_at.is_(None))))
    span = quarter_span(previous)
    if span.ends_at + GRACE_PERIOD <= now:
        row = db.session.scalar(sa.select(Quarter).where(Quarter.code == previous))
        if row is None or (row.settled_at is None and row.closed_at is None):
            codes.add(previous)
    return sorted(codes)


def settle_due_quarters(now_iso: str | None = None) -> list[str]:
    """RQ job: settle every due quarter as the platform, then schedule the next run."""
    now = datetime.fromisoformat(now_iso) if now_iso else utcnow()
    settled = []
    for code in due_quarters(now):
        outcome = services.settlement_post(SYSTEM, code, now=now,
                                           progress=lambda step, detail, code=code: log.info("%s %s %s", code, step, detail))
        log.info("quarter %s: posted %s, already posted %s, settled=%s", code, outcome.posted, outcome.already_posted,
                 outcome.settled)
        settled.append(code)
    schedule_next_settlement(now)
    return settled


def schedule_next_settlement(now: datetime | None = None) -> str | None:
    """Schedule ``settle_due_quarters`` at the grace end of the current quarter (RQ mode); returns the job id,
    or None when the queue has no scheduler (inline mode: run ``govmarket billing settle-due`` from cron)."""
    now = now or utcnow()
    code = quarter_code_of(now)
    at = quarter_span(code).ends_at + GRACE_PERIOD
    job_id = f"billing-settle-{code}"
    queue = current_app.extensions["job_queue"]
    if not hasattr(queue, "queue"):
        return None
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        Job.fetch(job_id, connection=queue.redis)
        return job_id  # already scheduled: scheduling is idempotent
    except NoSuchJobError:
        pass
    queue.queue(QUEUE).enqueue_at(at, settle_due_quarters, job_id=job_id, job_timeout=JOB_TIMEOUT,
                                  result_ttl=90 * 86400)
    return job_id
