"""Structured logs: one JSON object per line, carrying the request id or job id it belongs to."""

from __future__ import annotations

import logging
import sys
import uuid
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
job_id: ContextVar[str | None] = ContextVar("job_id", default=None)


class ContextFilter(logging.Filter):
    """Adds request_id and job_id (RQ's current job when running inside a worker) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        current_job = job_id.get()
        if current_job is None:
            try:
                from rq import get_current_job

                job = get_current_job()
                current_job = job.id if job else None
            except Exception:  # outside a worker rq has nothing to say
                current_job = None
        record.job_id = current_job
        return True


def configure(level: str = "INFO", json_output: bool = True) -> None:
    """Send logs to stderr, as JSON lines (production) or plain text (development)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if json_output:
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(job_id)s",
                                           rename_fields={"asctime": "time", "levelname": "level", "name": "logger"}))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s%(job_id)s] "
                                               "%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def new_request_id(incoming: str | None) -> str:
    """Keep a sane id from the proxy (X-Request-ID), otherwise make one."""
    if incoming and len(incoming) <= 128 and incoming.replace("-", "").isalnum():
        return incoming
    return uuid.uuid4().hex
