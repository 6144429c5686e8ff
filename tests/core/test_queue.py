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


def _private_queue(queue: RQJobQueue, prefix: str):
    """A queue name no other test run (or engineer) on the shared Redis uses."""
    import uuid

    return queue.queue(f"govmarket-test-{prefix}-{uuid.uuid4().hex[:8]}")


def test_a_queued_job_missing_from_its_queue_is_put_back_once():
    queue = RQJobQueue(require_redis())
    rq_queue = _private_queue(queue, "lost")
    try:
        queue.enqueue(rq_queue.name, record, "x", job_id=f"{rq_queue.name}-job", timeout=5)
        # What a crash between rq's writes can leave: the job says queued, but no list holds it.
        queue.redis.lrem(rq_queue.key, 0, f"{rq_queue.name}-job")
        assert queue.job_state(f"{rq_queue.name}-job") == "lost"
        for _ in range(2):
            queue.enqueue(rq_queue.name, record, "x", job_id=f"{rq_queue.name}-job", timeout=5)
        assert rq_queue.get_job_ids() == [f"{rq_queue.name}-job"]
        assert queue.job_state(f"{rq_queue.name}-job") == "queued"
        assert queue.job_state(f"{rq_queue.name}-never") is None
    finally:
        rq_queue.empty()


def _left_started(queue, rq_queue, job_id: str, worker_name: str, **enqueue_kwargs):
    """A job a worker named ``worker_name`` took and started, as rq records it."""
    from rq.executions import Execution
    from rq.job import JobStatus

    job = rq_queue.enqueue(record, job_id, job_id=job_id, **enqueue_kwargs)
    queue.redis.lrem(rq_queue.key, 0, job_id)
    job.worker_name = worker_name
    with queue.redis.pipeline() as pipe:
        job.set_status(JobStatus.STARTED, pipeline=pipe)
        job.save(pipeline=pipe)
        Execution.create(job, ttl=600, pipeline=pipe)
        pipe.execute()
    return job


def test_jobs_left_started_by_a_gone_worker_are_handled_as_rq_cleanup_would_now():
    from rq import Retry, Worker
    from rq.job import Job

    from core.worker import GovWorker, fail_abandoned

    queue = RQJobQueue(require_redis())
    rq_queue = _private_queue(queue, "abandoned")
    live = Worker([rq_queue], connection=queue.redis, name=f"{rq_queue.name}-live")
    live.register_birth()
    live.heartbeat()
    try:
        _left_started(queue, rq_queue, f"{rq_queue.name}-gone", "no-such-worker")
        _left_started(queue, rq_queue, f"{rq_queue.name}-retry", "no-such-worker", retry=Retry(max=1))
        _left_started(queue, rq_queue, f"{rq_queue.name}-mine", f"{rq_queue.name}-crashed")
        _left_started(queue, rq_queue, f"{rq_queue.name}-live", live.name)
        me = GovWorker([rq_queue], connection=queue.redis)
        # Right after Redis was down every worker looks silent: only the workers known dead count.
        assert fail_abandoned(me, [f"{rq_queue.name}-crashed"], trust_silence=False) == [f"{rq_queue.name}-mine"]
        handled = fail_abandoned(me, dead_workers=[f"{rq_queue.name}-crashed"], trust_silence=True)

        assert sorted(handled) == sorted(f"{rq_queue.name}-{n}" for n in ("gone", "retry"))
        status = {n: Job.fetch(f"{rq_queue.name}-{n}", connection=queue.redis).get_status()
                  for n in ("gone", "retry", "mine", "live")}
        assert status == {"gone": "failed", "retry": "queued", "mine": "failed", "live": "started"}
        assert rq_queue.get_job_ids() == [f"{rq_queue.name}-retry"]  # retried once, not run twice meanwhile
        assert rq_queue.started_job_registry.get_job_ids(cleanup=False) == [f"{rq_queue.name}-live"]
        assert fail_abandoned(me, trust_silence=True) == []
    finally:
        live.register_death()
        for registry in (rq_queue.started_job_registry, rq_queue.failed_job_registry):
            queue.redis.delete(registry.key)
        rq_queue.empty()


def test_a_job_taken_by_a_worker_that_died_before_starting_it_goes_back_to_its_queue():
    import time

    from rq.job import Job

    from core.worker import GovWorker, requeue_stuck

    queue = RQJobQueue(require_redis())
    rq_queue = _private_queue(queue, "stuck")
    intermediate = rq_queue.intermediate_queue
    try:
        for name in ("stuck", "just-taken"):
            rq_queue.enqueue(record, name, job_id=f"{rq_queue.name}-{name}")
            # What BLMOVE does when a worker takes a job; the worker dies before it starts it.
            queue.redis.lmove(rq_queue.key, intermediate.key)
        queue.redis.set(intermediate.get_first_seen_key(f"{rq_queue.name}-stuck"), time.time() - 120)
        queue.redis.set(intermediate.get_first_seen_key(f"{rq_queue.name}-just-taken"), time.time())
        me = GovWorker([rq_queue], connection=queue.redis)

        assert requeue_stuck(me) == [f"{rq_queue.name}-stuck"]
        assert rq_queue.get_job_ids() == [f"{rq_queue.name}-stuck"]
        assert intermediate.get_job_ids() == [f"{rq_queue.name}-just-taken"]
        assert Job.fetch(f"{rq_queue.name}-stuck", connection=queue.redis).get_status() == "queued"
        assert requeue_stuck(me) == []
    finally:
        queue.redis.delete(intermediate.key, *(intermediate.get_first_seen_key(f"{rq_queue.name}-{n}")
                                               for n in ("stuck", "just-taken")))
        rq_queue.empty()


def test_a_worker_connection_rides_out_an_outage_only_as_long_as_told():
    import time

    from redis.exceptions import ConnectionError

    from core import worker as worker_module
    from core.worker import worker_connection
    from tests.faults.conftest import free_port

    redis = worker_connection(f"redis://127.0.0.1:{free_port()}/0", outage_seconds=1.5)
    started = time.monotonic()
    try:
        redis.ping()
    except ConnectionError:
        pass
    else:
        raise AssertionError("nothing listens there, yet the ping answered")
    finally:
        worker_module._outage["since"] = None
    assert 1.4 < time.monotonic() - started < 6
