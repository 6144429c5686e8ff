"""Background jobs behind one small interface.

``rq``: jobs go to Redis and run in ``govmarket worker`` processes (production).
``inline``: jobs run in this process on a background thread per queue (the embedded default).
``sync``: jobs run immediately in the caller, after its commit (tests of job logic).

Jobs are plain functions that take ids; a job id makes an enqueue idempotent: a job whose id
is already queued or running is not enqueued again.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from flask import Flask, current_app, has_app_context

log = logging.getLogger(__name__)

# A running rq job's worker heartbeats it every 30 s (rq's job monitoring interval); silence for this long means
# the worker is gone.
ABANDONED_AFTER_S = 180


class JobQueue(Protocol):
    def enqueue(self, queue: str, func: Callable, *args: Any, job_id: str, timeout: int, **kwargs: Any) -> str: ...

    def job_state(self, job_id: str) -> str | None: ...


class RQJobQueue:
    def __init__(self, redis_url: str):
        from redis import Redis

        self.redis = Redis.from_url(redis_url)

    def queue(self, name: str):
        from rq import Queue

        return Queue(name, connection=self.redis)

    def enqueue(self, queue, func, *args, job_id, timeout, **kwargs):
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            existing = Job.fetch(job_id, connection=self.redis)
            status = existing.get_status(refresh=True)
            if status == "queued" and not self._waiting(existing):
                # Marked queued but in no queue's list (lost in a crash between rq's writes): no worker would ever
                # take it, and refusing the enqueue would leave it stuck. Put the same job back in its queue.
                log.warning("job %s was marked queued but missing from queue %s; putting it back", job_id,
                            existing.origin)
                self.queue(existing.origin).push_job_id(job_id)
                return job_id
            if status in {"queued", "deferred", "scheduled"} or (
                    status == "started" and not worker_gone(existing, self.redis)):
                return job_id
            if status == "started":
                # Its worker died mid-run (killed, host lost): rq would report it "started" until the registry's
                # timeout, refusing every re-enqueue meanwhile. Drop the stale record so the job can run again.
                log.warning("job %s was left started by dead worker %s; enqueueing it again", job_id,
                            existing.worker_name)
                existing.delete()
        except NoSuchJobError:
            pass
        self.queue(queue).enqueue(
            func, *args, job_id=job_id, job_timeout=timeout, result_ttl=86400, failure_ttl=7 * 86400, **kwargs
        )
        return job_id

    def job_state(self, job_id):
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            job = Job.fetch(job_id, connection=self.redis)
        except NoSuchJobError:
            return None
        status = str(job.get_status(refresh=True).value)
        if status == "queued" and not self._waiting(job):
            return "lost"
        if status == "started" and worker_gone(job, self.redis):
            return "abandoned"
        return status

    def _waiting(self, job) -> bool:
        """Whether a queued job is in its queue's list, or in the intermediate list a worker just moved it to."""
        from rq.intermediate_queue import IntermediateQueue

        key = self.queue(job.origin).key
        return any(self.redis.lpos(k, job.id) is not None
                   for k in (key, IntermediateQueue.get_intermediate_queue_key(key)))


def worker_gone(job, connection, trust_silence: bool = True) -> bool:
    """Whether the worker of a started job is gone: its process on this host no longer runs, or (``trust_silence``)
    its worker record expired or neither it nor its worker has sent a heartbeat for ABANDONED_AFTER_S.

    Silence proves nothing right after Redis was down: every worker's record and heartbeat lapsed meanwhile, and a
    live worker renews them within rq's 30 s job monitoring interval."""
    from rq import Worker

    worker = None
    if job.worker_name:
        worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + job.worker_name, connection=connection)
    if worker is None:
        return trust_silence
    if worker.hostname == socket.gethostname() and worker.pid and not _process_runs(worker.pid):
        return True
    if not trust_silence:
        return False
    beats = [b if b.tzinfo else b.replace(tzinfo=UTC) for b in (job.last_heartbeat, worker.last_heartbeat) if b]
    return bool(beats) and datetime.now(UTC) - max(beats) > timedelta(seconds=ABANDONED_AFTER_S)


def _process_runs(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie is not)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


class InlineJobQueue:
    """Runs jobs in-process. ``synchronous`` runs them in the caller's thread."""

    def __init__(self, app: Flask, synchronous: bool = False):
        self.app = app
        self.synchronous = synchronous
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._inflight: set[str] = set()
        self._lock = threading.Lock()

    def enqueue(self, queue, func, *args, job_id, timeout, **kwargs):
        with self._lock:
            if job_id in self._inflight:
                return job_id
            self._inflight.add(job_id)
        if self.synchronous:
            self._run(job_id, func, args, kwargs)
            return job_id
        with self._lock:
            executor = self._executors.setdefault(
                queue, ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"queue-{queue}")
            )
        executor.submit(self._run, job_id, func, args, kwargs)
        return job_id

    def job_state(self, job_id):
        with self._lock:
            return "started" if job_id in self._inflight else None

    def _run(self, job_id, func, args, kwargs):
        from core import logs

        token = logs.job_id.set(job_id)
        try:
            if self.synchronous and has_app_context():
                # Run inside the caller's context: a nested context's teardown would end the caller's session.
                func(*args, **kwargs)
            else:
                with self.app.app_context():
                    func(*args, **kwargs)
        except Exception:  # a job's failure is its own to record; the queue must go on
            log.exception("job %s failed", job_id)
        finally:
            logs.job_id.reset(token)
            with self._lock:
                self._inflight.discard(job_id)


def init_app(app: Flask) -> None:
    mode = app.config["QUEUE_MODE"]
    if mode == "rq":
        app.extensions["job_queue"] = RQJobQueue(app.config["REDIS_URL"])
    elif mode in {"inline", "sync"}:
        app.extensions["job_queue"] = InlineJobQueue(app, synchronous=mode == "sync")
    else:
        raise RuntimeError(f"GOVMARKET_QUEUE_MODE must be 'inline', 'sync' or 'rq', got {mode!r}")


def job_state(job_id: str) -> str | None:
    """What became of a job id: rq's status ('queued', 'started', 'finished', 'failed', …), 'lost' for one marked
    queued that is in no queue, 'abandoned' for one left started by a worker that is gone, None if unknown."""
    return current_app.extensions["job_queue"].job_state(job_id)


def enqueue(queue: str, func: Callable, *args: Any, job_id: str, timeout: int, **kwargs: Any) -> str:
    """Enqueue ``func(*args)`` on ``queue``; call only after the transaction it depends on has committed."""
    return current_app.extensions["job_queue"].enqueue(queue, func, *args, job_id=job_id, timeout=timeout, **kwargs)
