"""The inline queue runs jobs in-process once per job id; the RQ queue does not enqueue a job twice."""

from __future__ import annotations

import threading

from core.queue import InlineJobQueue, RQJobQueue
from tests.services import require_redis

calls: list[str] = []


def record(value: str) -> None:
    calls.append(value)


def test_sync_queue_runs_in_app_context(app):
    from flask import current_app

    seen = []
    queue = InlineJobQueue(app, synchronous=True)
    queue.enqueue("default", lambda: seen.append(current_app.name), job_id="j1", timeout=5)
    assert seen == [app.name]


def test_inline_queue_runs_each_job_id_once_while_in_flight(app):
    gate = threading.Event()
    ran = []

    def slow(tag):
        gate.wait(5)
        ran.append(tag)

    queue = InlineJobQueue(app)
    queue.enqueue("q", slow, "a", job_id="same", timeout=5)
    queue.enqueue("q", slow, "b", job_id="same", timeout=5)
    gate.set()
    queue._executors["q"].shutdown(wait=True)
    assert ran == ["a"]


def test_rq_enqueue_is_idempotent_per_job_id():
    url = require_redis()
    queue = RQJobQueue(url)
    rq_queue = queue.queue("govmarket-test-idempotent")
    rq_queue.empty()
    queue.enqueue("govmarket-test-idempotent", record, "x", job_id="cert-7-1", timeout=5)
    queue.enqueue("govmarket-test-idempotent", record, "x", job_id="cert-7-1", timeout=5)
    assert rq_queue.count == 1
    rq_queue.empty()
