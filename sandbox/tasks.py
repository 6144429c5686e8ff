"""RQ jobs of the ``sandbox`` queue. They take ids, read only sandbox tables, write the run's state at every change,
and retry infrastructure errors (ServiceUnavailable) only — an app that fails is a result, not an error."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from flask import current_app

from core.errors import ServiceUnavailable
from core.extensions import db
from core.storage import FileBlobStore
from core.time import utcnow
from sandbox import harness, intake
from sandbox.backends import get_backend
from sandbox.models import CertificationRun
from sandbox.services import certification_fail_orphans, certification_requeue_lost, this_worker

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
RETRY_DELAY_S = 5


def certify_run(run_id: int) -> str:
    """Certify one run; idempotent (a finished run, or one another live worker is testing, is left alone)."""
    run = db.session.get(CertificationRun, run_id)
    if run is None or run.state in ("certified", "failed", "testing"):
        return run.state if run else "missing"
    config = current_app.config
    while True:
        run.state, run.started_at, run.worker = "testing", utcnow(), this_worker()
        run.attempts += 1
        run.error, run.cases_done = None, 0
        db.session.commit()
        try:
            backend = get_backend(config["SANDBOX_BACKEND"], config)
            run.backend = backend.name
            db.session.commit()
            report = harness.certify(
                backend, FileBlobStore(config["BUNDLE_STORE"]), harness.default_runs_root(config),
                harness.CertificationInput(run_id=f"r{run.id}a{run.attempts}", bundle_sha256=run.bundle_sha256,
                                           suite=run.suite, contract=run.contract, scopes=run.dept_scopes),
                intake_limits=intake.IntakeLimits.from_config(config),
                on_progress=lambda done, total: _progress(run, done, total))
        except ServiceUnavailable as exc:
            log.warning("certification run %s: infrastructure error (attempt %s): %s", run.id, run.attempts, exc.message)
            run.error = exc.message
            if run.attempts < MAX_ATTEMPTS:
                run.state = "queued"
                db.session.commit()
                time.sleep(RETRY_DELAY_S)
                continue
            run.state, run.finished_at = "error", utcnow()
            db.session.commit()
            return run.state
        except Exception as exc:
            log.exception("certification run %s failed unexpectedly", run.id)
            db.session.rollback()
            run.state, run.finished_at, run.error = "error", utcnow(), f"{exc.__class__.__name__}: {exc}"[:2000]
            db.session.commit()
            return run.state
        run.report = report
        run.state = "certified" if report["certified"] else "failed"
        run.finished_at = utcnow()
        db.session.commit()
        return run.state


def _progress(run: CertificationRun, done: int, total: int) -> None:
    run.cases_done, run.cases_total = done, total
    db.session.commit()


def sweep() -> list[str]:
    """Remove sandboxes, cgroups and run directories whose worker is gone, and mark their runs ``error``."""
    config = current_app.config
    removed: list[str] = []
    for name in ("bwrap", "docker"):
        try:
            backend = get_backend(name, config)
        except ServiceUnavailable:
            continue
        removed += backend.sweep()
    removed += harness.sweep_run_dirs(Path(harness.default_runs_root(config)))
    removed += [f"run {run_id} marked error" for run_id in certification_fail_orphans(None)]
    return removed


def maintain(worker=None) -> list[str]:
    """What a sandbox worker does when it starts and every WORKER_MAINTENANCE_SECONDS: sweep what dead workers
    left, then re-enqueue the queued runs whose job Redis lost (after the sweep, so a run it failed is not
    among them)."""
    done = sweep()
    done += [f"run {run_id} re-enqueued (its job was missing from the queue)" for run_id in certification_requeue_lost(None)]
    for line in done:
        log.warning("sandbox maintenance: %s", line)
    return done
