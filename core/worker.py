"""RQ workers that ride out a Redis restart: ``govmarket worker`` and ``govmarket sandbox worker`` run here.

What rq 3.0 does on its own when Redis goes away under a connected worker: the wait for a job retries, but
everything else does not. The work horse cannot record its job's result (``handle_job_success`` fails), exits 1,
and the worker then crashes in ``monitor_work_horse`` (``job.get_status()`` raises ``ConnectionError``) and again
in ``register_death``. The job it ran is left in the started registry until its timeout + 60 s, and then failed
as abandoned although it ran. Three things here close that:

- every Redis command of a worker and its work horse is retried through an outage of up to
  ``REDIS_OUTAGE_SECONDS`` (``OutageRetry``), so a restart is a pause, not a crash: the running job goes on,
  its result is recorded when Redis is back, the waiting jobs (kept by Redis's append-only file) run next;
- a longer outage still ends rq's work loop; ``run_worker`` then waits for the horse, waits for Redis, and starts
  a fresh worker in the same process, with one log line for each step;
- at every start and every ``WORKER_MAINTENANCE_SECONDS`` the worker reconciles: a job left ``started`` by a
  worker that is gone is handled as rq's own registry cleanup handles one (retried if it has retries left, else
  failed as abandoned) without waiting for its timeout (``fail_abandoned``); a job a dead worker took but never
  started goes back to its queue instead of being failed (``requeue_stuck``); and the caller's hooks run (the
  sandbox worker sweeps orphaned sandboxes and re-enqueues certification runs the database says are queued).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Iterable

from redis import Redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError, StopRequested
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

log = logging.getLogger("govmarket.worker")

REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError)

# One outage at a time per process: when it began (monotonic), so every command gives up at the same moment and
# the operator reads one line when it starts and one when it ends, not one per retried command.
_outage: dict[str, float | None] = {"since": None, "calm_since": time.monotonic()}

# How long Redis must have answered (and this process run) before a worker's silence counts as its death: longer
# than rq's job monitoring interval (30 s), in which every live worker renews its record and heartbeats.
SILENCE_TRUSTED_AFTER_S = 60


def _outage_began(error: Exception, seconds: float) -> float:
    if _outage["since"] is None:
        _outage["since"] = time.monotonic()
        log.error("Redis unreachable (%s): running jobs go on, waiting jobs wait; retrying for up to %d s", error,
                  seconds)
    return _outage["since"]


def _outage_ended() -> None:
    since = _outage["since"]
    if since is not None:
        _outage["since"] = None
        _outage["calm_since"] = time.monotonic()
        log.warning("Redis answers again after %.1f s; the worker goes on", time.monotonic() - since)


class OutageRetry(Retry):
    """redis-py's retry policy, bounded by time instead of by count: a command that meets a connection error is
    retried (0.1 s, doubling, at most 2 s apart, with jitter) until the outage has lasted ``seconds``."""

    def __init__(self, seconds: float):
        super().__init__(ExponentialWithJitterBackoff(base=0.1, cap=2.0), retries=1_000_000)
        self.seconds = seconds

    def call_with_retry(self, do, fail, is_retryable=None, with_failure_count=False):
        self._backoff.reset()
        failures = 0
        while True:
            try:
                result = do()
            except self._supported_errors as error:
                if is_retryable and not is_retryable(error):
                    raise
                failures += 1
                if with_failure_count:
                    fail(error, failures)
                else:
                    fail(error)
                left = _outage_began(error, self.seconds) + self.seconds - time.monotonic()
                if left <= 0:
                    raise
                time.sleep(min(self._backoff.compute(failures), left))
                continue
            if failures:
                _outage_ended()
            return result


def worker_connection(redis_url: str, outage_seconds: float) -> Redis:
    """A Redis client whose every command rides out an outage of up to ``outage_seconds``."""
    return Redis.from_url(redis_url, retry=OutageRetry(outage_seconds), health_check_interval=30)


class GovWorker(Worker):
    """rq's forking worker plus our maintenance (``hooks``, every ``maintenance_interval`` seconds and at start),
    a record of the Redis error that ended its work loop, and a work horse that does not share the parent's
    database connections."""

    def __init__(self, *args, hooks: Iterable[Callable[[GovWorker], None]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.hooks = list(hooks)
        self.redis_error: Exception | None = None

    def run_maintenance_tasks(self):
        try:
            # Ours first: requeue_stuck must see a stuck job before rq's intermediate-queue cleanup fails it.
            for hook in self.hooks:
                try:
                    hook(self)
                except REDIS_ERRORS:
                    raise
                except Exception:  # a failing reconciliation must not stop the jobs; it is retried next time
                    log.exception("worker maintenance %s failed", getattr(hook, "__name__", hook))
            super().run_maintenance_tasks()
        except REDIS_ERRORS as exc:
            self.redis_error = exc
            raise
        finally:
            _release_database()

    def dequeue_job_and_maintain_ttl(self, *args, **kwargs):
        try:
            result = super().dequeue_job_and_maintain_ttl(*args, **kwargs)
        except REDIS_ERRORS as exc:
            self.redis_error = exc
            raise
        self.redis_error = None  # rq's own wait for a job retried past an error its maintenance met: it is over
        return result

    def execute_job(self, job, queue):
        try:
            return super().execute_job(job, queue)
        except REDIS_ERRORS as exc:
            self.redis_error = exc
            raise

    def main_work_horse(self, job, queue):
        # The horse is a fork: pooled database connections it inherited belong to the parent (SQLAlchemy's
        # rule for forked children); it opens its own.
        _release_database(close=False)
        return super().main_work_horse(job, queue)


def _release_database(close: bool = True) -> None:
    from flask import has_app_context

    if has_app_context():
        from core.extensions import db

        db.session.remove()
        db.engine.dispose(close=close)


def fail_abandoned(worker: Worker, dead_workers: Iterable[str] = (), trust_silence: bool | None = None) -> list[str]:
    """Handle the jobs of ``worker``'s queues left ``started`` by a worker that is gone, as rq's own registry cleanup
    does once their timeout has passed (retry if the job has retries left, else fail it as abandoned), but now.

    Gone: a name in ``dead_workers`` (a worker this process ran before Redis went away), or what
    ``core.queue.worker_gone`` says (process dead on this host; record expired or heartbeats silent, which counts
    only once Redis has answered this process for SILENCE_TRUSTED_AFTER_S, unless ``trust_silence`` says)."""
    from core.queue import worker_gone

    if trust_silence is None:
        trust_silence = time.monotonic() - _outage["calm_since"] > SILENCE_TRUSTED_AFTER_S
    dead = set(dead_workers)
    handled = []
    for queue in worker.queues:
        registry = StartedJobRegistry(queue=queue)
        expired = {}
        for member in worker.connection.zrange(registry.key, 0, -1):
            member = member.decode()
            job_id = member.rpartition(":")[0] or member
            try:
                job = Job.fetch(job_id, connection=worker.connection)
            except NoSuchJobError:
                continue
            if job.get_status(refresh=False) != JobStatus.STARTED or job.worker_name == worker.name:
                continue
            if job.worker_name in dead or worker_gone(job, worker.connection, trust_silence):
                expired[member] = 0
                handled.append(job_id)
        if expired:
            log.warning("jobs %s of queue %s were left started by a worker that is gone; handling them as "
                        "abandoned (retried if they have retries left, else failed)", sorted(handled), queue.name)
            worker.connection.zadd(registry.key, expired, xx=True)
            registry.cleanup(timestamp=1, exception_handlers=worker._exc_handlers)
    return handled


def requeue_stuck(worker: Worker) -> list[str]:
    """Put back in their queue the jobs a worker moved into a queue's intermediate list but never started (it died
    in between) once rq has seen them stuck there for a minute. rq's own cleanup would fail them instead, although
    they never ran."""
    requeued = []
    for queue in worker.queues:
        intermediate = queue.intermediate_queue
        started = set(StartedJobRegistry(queue=queue).get_job_ids(cleanup=False))
        stuck = []
        for job_id in intermediate.get_job_ids():
            if job_id in started or not intermediate.should_be_cleaned_up(job_id):
                continue
            try:
                job = Job.fetch(job_id, connection=worker.connection)
            except NoSuchJobError:
                continue
            if job.get_status(refresh=False) != JobStatus.QUEUED:
                continue
            with worker.connection.pipeline() as pipe:
                pipe.lrem(intermediate.key, 1, job_id)
                pipe.delete(intermediate.get_first_seen_key(job_id))
                pipe.lpush(queue.key, job_id)
                pipe.execute()
            stuck.append(job_id)
        if stuck:
            log.warning("jobs %s of queue %s were taken by a worker that died before starting them; queued again",
                        stuck, queue.name)
        requeued += stuck
    return requeued


def _wait_for_redis(connection: Redis, stopping: Callable[[], bool]) -> bool:
    """Block until Redis answers a PING (True) or a stop is requested (False)."""
    delay = 0.5
    while not stopping():
        try:
            connection.ping()
            return True
        except REDIS_ERRORS:
            time.sleep(delay)
            delay = min(delay * 2, 10)
    return False


def run_worker(queue_names: list[str], *, redis_url: str, outage_seconds: float, maintenance_seconds: int,
               burst: bool = False, with_scheduler: bool = False,
               hooks: Iterable[Callable[[GovWorker], None]] = ()) -> None:
    """Run an rq worker on ``queue_names`` until it is stopped (SIGINT/SIGTERM) or, with ``burst``, the queues are
    empty; start a fresh one whenever Redis went away for longer than ``outage_seconds`` under it."""
    connection = worker_connection(redis_url, outage_seconds)
    dead: list[str] = []
    stop = {"requested": False}
    hooks = list(hooks)

    def reconcile(worker: GovWorker) -> None:
        requeue_stuck(worker)
        fail_abandoned(worker, dead)

    restarts = 0
    while True:
        began = time.monotonic()
        worker = GovWorker([Queue(name, connection=connection) for name in queue_names], connection=connection,
                           hooks=[reconcile, *hooks], maintenance_interval=maintenance_seconds,
                           # an idle rq worker blocks worker_ttl - 15 s waiting for a job between maintenance runs
                           worker_ttl=max(16, min(420, maintenance_seconds + 15)))
        try:
            worker.work(burst=burst, with_scheduler=with_scheduler)
        except REDIS_ERRORS as exc:  # rq's teardown (register_death) met the outage too
            worker.redis_error = worker.redis_error or exc
        except StopRequested:
            return
        stopped = worker._stop_requested or worker._shutdown_requested_date is not None  # SIGTERM/SIGINT, idle or busy
        if stopped or stop["requested"] or (burst and worker.redis_error is None):
            return
        # Not stopped, not done: rq's loop ended on an error (it logged it: "found an unhandled exception").
        dead.append(worker.name)
        if worker.redis_error is not None:
            log.error("worker %s lost Redis for more than %d s (%s); starting a fresh worker once Redis answers",
                      worker.name, outage_seconds, worker.redis_error)
        else:
            log.error("worker %s stopped on an error (logged above); starting a fresh worker", worker.name)
        # Until the fresh worker installs rq's handlers, a SIGTERM/SIGINT (a deploy) just ends this loop.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.update(requested=True))
        if worker.horse_pid:
            # The job it was running goes on in its horse; a fresh worker must not see it as abandoned meanwhile.
            log.warning("waiting for the job in work horse %s to finish first", worker.horse_pid)
            try:
                os.waitpid(worker.horse_pid, 0)
            except ChildProcessError:
                pass
        # A worker that keeps failing at once is restarted ever more slowly (up to a minute apart), not in a loop.
        restarts = restarts + 1 if time.monotonic() - began < 60 else 1
        pause = min(60.0, 0.5 * 2 ** (restarts - 1))
        while pause > 0 and not stop["requested"]:
            time.sleep(min(pause, 0.5))
            pause -= 0.5
        if not _wait_for_redis(connection, lambda: stop["requested"]):
            return
        _outage_ended()
        try:
            worker.register_death()
            worker.unsubscribe()
        except REDIS_ERRORS:
            continue
