"""RQ workers and Redis failing under real jobs: a worker SIGKILLed mid-certification leaves its run ``error``
(never stuck ``testing``) and the re-enqueued job runs once; a Redis restarted mid-queue loses and doubles no job.

The jobs below run in a real ``govmarket sandbox worker`` subprocess on a private Redis; they log every
execution to a file (O_APPEND, one line each) so the test counts runs, not just final states."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import make_app, upgrade

ROOT = Path(__file__).resolve().parents[2]


def _log_run(log_path: str, line: str) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def hold_certification(run_id: int, log_path: str, gate: str) -> str:
    """A certification-like job: marks its run ``testing`` by this worker, as certify_run does, then blocks
    while ``gate`` exists (until the test kills the worker); otherwise certifies the run."""
    from core.extensions import db
    from core.time import utcnow
    from sandbox.models import CertificationRun
    from sandbox.services import this_worker

    run = db.session.get(CertificationRun, run_id)
    if run.state in ("certified", "failed", "testing"):
        return run.state
    run.state, run.started_at, run.worker = "testing", utcnow(), this_worker()
    run.attempts += 1
    db.session.commit()
    _log_run(log_path, f"run {run_id} pid {os.getpid()}")
    deadline = time.monotonic() + 120
    while os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.05)
    run.state, run.finished_at, run.report = "certified", utcnow(), {"certified": True}
    db.session.commit()
    return run.state


def record_job(key: str, log_path: str, seconds: float) -> str:
    time.sleep(seconds)
    _log_run(log_path, key)
    return key


def worker(env: dict, *args: str, log: Path | None = None) -> subprocess.Popen:
    out = open(log, "a") if log else subprocess.PIPE
    return subprocess.Popen([str(Path(sys.executable).parent / "govmarket"), *args], cwd=ROOT, env=env,
                            start_new_session=True, stdout=out, stderr=subprocess.STDOUT, text=True)


def worker_env(database_url: str, redis_url: str, instance: Path) -> dict:
    return {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "GOVMARKET_QUEUE_MODE": "rq",
            "GOVMARKET_INSTANCE_PATH": str(instance), "GOVMARKET_SECRET_KEY": "test-secret",
            "PYTHONPATH": str(ROOT)}


def wait_until(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def _missing(keys: list[str], log_path: Path, redis_url: str) -> dict[str, str]:
    from redis import Redis
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    out = {}
    for key in sorted(set(keys) - set(lines(log_path))):
        try:
            out[key] = Job.fetch(f"faults-{key}", connection=Redis.from_url(redis_url)).get_status()
        except NoSuchJobError:
            out[key] = "no such job"
    return out


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def rq_app(fresh_database_url, private_redis, tmp_path):
    app = make_app(fresh_database_url, tmp_path / "instance", QUEUE_MODE="rq", REDIS_URL=private_redis.url)
    upgrade(app)
    yield app, worker_env(fresh_database_url, private_redis.url, tmp_path / "instance")
    with app.app_context():
        from core.extensions import db

        db.engine.dispose()


def test_worker_killed_mid_certification_leaves_run_error_and_requeue_runs_once(rq_app, tmp_path):
    from core import queue
    from core.extensions import db
    from sandbox.models import CertificationRun
    from sandbox.services import certification_fail_orphans, job_id_for

    app, env = rq_app
    log_path, gate = tmp_path / "runs.log", tmp_path / "gate"
    gate.touch()
    with app.app_context():
        job_id = job_id_for(41, "1")
        run = CertificationRun(app_version_id=41, bundle_sha256="0" * 64, suite_version="1", suite_sha256="0" * 64,
                               suite={}, dept_scopes=[], dataset={}, job_id=job_id, state="queued")
        db.session.add(run)
        db.session.commit()
        run_id = run.id
        queue.enqueue("sandbox", hold_certification, run_id, str(log_path), str(gate), job_id=job_id, timeout=600)

    first = worker(env, "sandbox", "worker", "--burst")
    try:
        wait_until(lambda: lines(log_path) or first.poll() is not None, 60, "the worker to start the certification")
        assert lines(log_path), first.communicate()[0]
        with app.app_context():
            run = db.session.get(CertificationRun, run_id)
            assert run.state == "testing"
            holder = run.worker.partition(":")[2]
            db.session.remove()
        # The host loses the worker mid-run: its work horse (rq moves it into its own process group) and itself.
        os.kill(int(holder.partition(".")[0]), signal.SIGKILL)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)

    from sandbox.backends import owner_alive

    with app.app_context():
        # The killed work horse is reaped by init a moment later; until then /proc still shows it.
        wait_until(lambda: not owner_alive(holder), 10, "the killed work horse to be reaped")
        # What `govmarket sandbox worker` runs first on this host: the sweep marks the orphan.
        assert certification_fail_orphans(None) == [run_id]
        run = db.session.get(CertificationRun, run_id)
        assert (run.state, run.error is not None) == ("error", True)
        # Requeue (the platform re-requests an errored run): twice, as an impatient operator would.
        run.state = "queued"
        db.session.commit()
        db.session.remove()
        gate.unlink()
        for _ in range(2):
            queue.enqueue("sandbox", hold_certification, run_id, str(log_path), str(gate), job_id=job_id, timeout=600)

    second = worker(env, "sandbox", "worker", "--burst")
    output, _ = second.communicate(timeout=90)
    assert second.returncode == 0, output
    assert len(lines(log_path)) == 2, f"expected the killed run and exactly one rerun, got {lines(log_path)}"
    with app.app_context():
        run = db.session.get(CertificationRun, run_id)
        assert (run.state, run.attempts) == ("certified", 2)


def _enqueue_certification(app, log_path: Path, gate: Path, version: int) -> tuple[int, str]:
    from core import queue
    from core.extensions import db
    from sandbox.models import CertificationRun
    from sandbox.services import job_id_for

    with app.app_context():
        job_id = job_id_for(version, "1")
        run = CertificationRun(app_version_id=version, bundle_sha256="0" * 64, suite_version="1",
                               suite_sha256="0" * 64, suite={}, dept_scopes=[], dataset={}, job_id=job_id,
                               state="queued")
        db.session.add(run)
        db.session.commit()
        queue.enqueue("sandbox", hold_certification, run.id, str(log_path), str(gate), job_id=job_id, timeout=60)
        return run.id, job_id


def _assert_nothing_stuck(redis_url: str) -> None:
    from redis import Redis
    from rq import Queue
    from rq.registry import StartedJobRegistry

    redis = Redis.from_url(redis_url)
    for name in ("sandbox", "default"):
        q = Queue(name, connection=redis)
        assert (len(q), len(StartedJobRegistry(queue=q))) == (0, 0), f"jobs stuck in {name}"


def test_redis_restarted_under_a_connected_worker_runs_every_job_exactly_once(rq_app, private_redis, tmp_path):
    """Redis restarts while the worker is connected: a certification is mid-run, jobs wait in the queue. The
    worker rides the outage out: the certification finishes once and is recorded, every job runs once."""
    from core import queue
    from core.extensions import db
    from sandbox.models import CertificationRun

    app, env = rq_app
    log_path, cert_log, gate = tmp_path / "jobs.log", tmp_path / "runs.log", tmp_path / "gate"
    gate.touch()
    before = [f"job-{i:02d}" for i in range(16)]
    after = [f"job-{i:02d}" for i in range(16, 24)]
    keys = before + after
    run_id, cert_job = _enqueue_certification(app, cert_log, gate, 51)
    with app.app_context():
        for key in before:
            queue.enqueue("default", record_job, key, str(log_path), 0.1, job_id=f"faults-{key}", timeout=60)
    wlog = tmp_path / "workers.log"
    busy = worker(env, "worker", "sandbox", "default", log=wlog)
    try:
        wait_until(lambda: lines(cert_log), 60, "the worker to start the certification")
        started = time.monotonic()
        private_redis.stop()
        gate.unlink()  # the certification finishes while Redis is down: its result must still be recorded
        time.sleep(1)
        private_redis.start()
        restart_s = time.monotonic() - started
        with app.app_context():
            # Producers go on after the restart; a retried enqueue of a waiting job is the same job.
            for key in after + before[-5:]:
                queue.enqueue("default", record_job, key, str(log_path), 0.1, job_id=f"faults-{key}", timeout=60)
        wait_until(lambda: len(set(lines(log_path))) >= len(keys) or busy.poll() is not None, 45,
                   f"the connected worker to drain the queue; missing: {_missing(keys, log_path, private_redis.url)};"
                   f" worker said: {wlog.read_text()[-3000:]}")
        time.sleep(1)  # a duplicate would run now
        assert busy.poll() is None, f"the worker died with Redis: {wlog.read_text()[-3000:]}"
    finally:
        if busy.poll() is None:
            os.killpg(busy.pid, signal.SIGTERM)
        busy.wait(timeout=30)
    print(f"\nredis down {restart_s:.2f} s; {len(lines(log_path))} executions of {len(keys)} jobs")
    ran = lines(log_path)
    assert sorted(ran) == keys, f"duplicated or lost: {sorted(set(k for k in ran if ran.count(k) > 1))}"
    assert len(lines(cert_log)) == 1
    _assert_nothing_stuck(private_redis.url)

    from redis import Redis
    from rq.job import Job

    assert Job.fetch(cert_job, connection=Redis.from_url(private_redis.url)).get_status() == "finished"
    with app.app_context():
        run = db.session.get(CertificationRun, run_id)
        assert (run.state, run.attempts) == ("certified", 1)
    assert "Redis unreachable" in wlog.read_text() and "Redis answers again" in wlog.read_text()


def test_redis_down_longer_than_the_worker_waits_restarts_the_worker_in_process(rq_app, private_redis, tmp_path):
    """Redis stays away longer than GOVMARKET_REDIS_OUTAGE_SECONDS: rq's worker gives up, ours starts a fresh one
    in the same process once Redis answers. The job that was mid-run ends once, never left started; the waiting
    jobs run once."""
    from core import queue

    app, env = rq_app
    env = {**env, "GOVMARKET_REDIS_OUTAGE_SECONDS": "2"}
    log_path = tmp_path / "jobs.log"
    keys = ["long"] + [f"job-{i:02d}" for i in range(8)]
    with app.app_context():
        queue.enqueue("default", record_job, "long", str(log_path), 2, job_id="faults-long", timeout=60)
        for key in keys[1:]:
            queue.enqueue("default", record_job, key, str(log_path), 0.1, job_id=f"faults-{key}", timeout=60)
    wlog = tmp_path / "workers.log"
    busy = worker(env, "worker", "default", log=wlog)
    try:
        from redis import Redis
        from rq import Queue
        from rq.registry import StartedJobRegistry

        redis = Redis.from_url(private_redis.url)
        wait_until(lambda: StartedJobRegistry(queue=Queue("default", connection=redis)).get_job_ids(), 60,
                   "the worker to start the long job")
        private_redis.stop()
        down = time.monotonic()
        # What the operator's readiness probe says meanwhile.
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["checks"]["redis"].startswith("error"), ready.get_json()
        assert app.test_client().get("/metrics").status_code == 200
        time.sleep(max(0.0, 6 - (time.monotonic() - down)))  # the long job ends meanwhile; nothing can record it
        private_redis.start()
        wait_until(lambda: len(set(lines(log_path))) >= len(keys) or busy.poll() is not None, 45,
                   f"the restarted worker to drain the queue; worker said: {wlog.read_text()[-3000:]}")
        time.sleep(1)
        assert busy.poll() is None, f"the worker process died with Redis: {wlog.read_text()[-3000:]}"
    finally:
        if busy.poll() is None:
            os.killpg(busy.pid, signal.SIGTERM)
        busy.wait(timeout=30)
    ran = lines(log_path)
    assert sorted(ran) == sorted(keys), f"duplicated or lost: {ran}"
    _assert_nothing_stuck(private_redis.url)
    said = wlog.read_text()
    assert "starting a fresh worker once Redis answers" in said
    from rq.job import Job

    # It ran to its end once, but its result could not be recorded: rq's answer for that is "failed, abandoned".
    assert Job.fetch("faults-long", connection=Redis.from_url(private_redis.url)).get_status() in ("finished", "failed")


def test_sandbox_worker_sweeps_and_requeues_lost_runs_while_it_runs(rq_app, tmp_path):
    """Every GOVMARKET_WORKER_MAINTENANCE_SECONDS a running sandbox worker fails the runs a dead worker left
    ``testing`` and enqueues again the ``queued`` runs whose job Redis no longer has; each of those runs once."""
    from core.extensions import db
    from sandbox.models import CertificationRun
    from sandbox.services import job_id_for

    app, env = rq_app
    env = {**env, "GOVMARKET_WORKER_MAINTENANCE_SECONDS": "1"}
    wlog = tmp_path / "workers.log"
    busy = worker(env, "sandbox", "worker", log=wlog)
    try:
        wait_until(lambda: "Listening on" in (wlog.read_text() if wlog.exists() else ""), 60, "the worker to listen")
        with app.app_context():
            import socket

            runs = {}
            for version, state, owner in ((61, "testing", f"{socket.gethostname()}:999999.1"), (62, "queued", None)):
                run = CertificationRun(app_version_id=version, bundle_sha256="0" * 64, suite_version="1",
                                       suite_sha256="0" * 64, suite={}, dept_scopes=[], dataset={},
                                       job_id=job_id_for(version, "1"), state=state, worker=owner)
                db.session.add(run)
                db.session.commit()
                runs[state] = run.id
            db.session.remove()

            def settled():
                states = {s: db.session.get(CertificationRun, i).state for s, i in runs.items()}
                db.session.remove()
                return states["testing"] == "error" and states["queued"] not in ("queued", "testing") and states

            states = wait_until(settled, 30, f"the worker's maintenance; worker said: {wlog.read_text()[-2000:]}")
            lost = db.session.get(CertificationRun, runs["queued"])
            # The requeued run really ran (its bundle does not exist, so certify_run records an error) — once.
            assert (states["queued"], lost.attempts) == ("error", 1), lost.error
            db.session.remove()
    finally:
        os.killpg(busy.pid, signal.SIGTERM)
        busy.wait(timeout=30)
    said = wlog.read_text()
    assert f"run {runs['queued']} re-enqueued" in said and f"run {runs['testing']} marked error" in said
