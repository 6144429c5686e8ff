"""Certification use cases: request a run, read its progress and report, fail runs orphaned by a dead worker.

The marketplace calls ``certification_request`` when a version is uploaded (and for every published app
when a new suite version appears) and shows ``certification_report`` to vendors and departments.
"""

from __future__ import annotations

import copy
import socket
from typing import Any

import sqlalchemy as sa

from core import audit, queue
from core.errors import NotFound, ValidationError
from core.extensions import db
from core.time import utcnow
from sandbox import authz
from sandbox.backends import owner_alive
from sandbox.harness import suite_hash
from sandbox.models import CertificationRun

JOB_TIMEOUT_S = 1800
HIDDEN_DETAIL = "during a hidden case"


def job_id_for(app_version_id: int, suite_version: str) -> str:
    """Deterministic: a second enqueue of the same (version, suite version) is the same job, never a second run."""
    return f"certify-v{app_version_id}-s{suite_version}"


def certification_request(actor: Any, app_version_id: int, bundle_sha256: str, suite: dict, contract: dict | None,
                          scopes: list[str], *, vendor_id: int | None = None,
                          department_id: int | None = None) -> CertificationRun:
    """Queue the certification of an app version against a suite version; returns the run.

    Who: the platform (actor None), an admin, or a member of ``vendor_id``. Idempotent per (version, suite
    version): an existing run is returned, and re-queued only if it ended in an infrastructure ``error``.
    Raises ValidationError for an invalid suite or bundle hash, Forbidden for anyone else.
    """
    authz.certification_request(actor, vendor_id)
    from govsuite import SuiteError, load_suite

    if len(bundle_sha256) != 64 or any(c not in "0123456789abcdef" for c in bundle_sha256):
        raise ValidationError(f"bundle_sha256 {bundle_sha256!r} is not a sha256 hex digest")
    try:
        parsed = load_suite(copy.deepcopy(suite))
    except SuiteError as exc:
        raise ValidationError(f"the order's suite is invalid: {exc}") from exc
    job_id = job_id_for(app_version_id, parsed.version)
    run = db.session.scalar(sa.select(CertificationRun).where(CertificationRun.job_id == job_id))
    if run is not None and run.state != "error":
        return run
    if run is None:
        run = CertificationRun(app_version_id=app_version_id, vendor_id=vendor_id, department_id=department_id,
                               bundle_sha256=bundle_sha256, suite_version=parsed.version, suite_sha256=suite_hash(suite),
                               suite=copy.deepcopy(suite), contract=copy.deepcopy(contract), dept_scopes=sorted(scopes),
                               dataset=dict(parsed.dataset), job_id=job_id, state="queued")
        db.session.add(run)
        db.session.flush()
        action = "certification.requested"
    else:
        run.state, run.error, run.cases_done, run.report, run.finished_at = "queued", None, 0, None, None
        action = "certification.requeued"
    audit.record(actor, action, "certification_run", run.id,
                 {"app_version_id": app_version_id, "suite_version": parsed.version, "bundle_sha256": bundle_sha256},
                 department_id=department_id, vendor_id=vendor_id)
    db.session.commit()
    from sandbox.tasks import certify_run

    queue.enqueue("sandbox", certify_run, run.id, job_id=job_id, timeout=JOB_TIMEOUT_S)
    return run


def certification_get(actor: Any, run_id: int) -> CertificationRun:
    """The run (state, progress, timestamps) if the actor may see it; NotFound / Forbidden otherwise."""
    run = db.session.get(CertificationRun, run_id)
    if run is None:
        raise NotFound(f"certification run {run_id} does not exist")
    authz.certification_report(actor, run.vendor_id, run.department_id)
    return run


def certification_report(actor: Any, run_id: int) -> dict[str, Any]:
    """The report as the actor may see it: departments (and admins, auditors) everything; the vendor full diffs
    for public cases only, hidden cases as per-category counts, and nothing of the app instance that served
    hidden cases (it could have logged or echoed their inputs): see ``vendor_view``."""
    run = db.session.get(CertificationRun, run_id)
    if run is None:
        raise NotFound(f"certification run {run_id} does not exist")
    view = authz.certification_report(actor, run.vendor_id, run.department_id)
    base = {"id": run.id, "app_version_id": run.app_version_id, "state": run.state, "suite_version": run.suite_version,
            "progress": run.progress(), "error": run.error, "view": view,
            "created_at": run.created_at, "started_at": run.started_at, "finished_at": run.finished_at}
    report = copy.deepcopy(run.report) if run.report else None
    base["report"] = report if view == "department" or report is None else vendor_view(report)
    return base


def vendor_view(report: dict[str, Any]) -> dict[str, Any]:
    """Strip everything a vendor must not learn about hidden cases from a full report.

    Hidden cases run in a fresh app instance after every public case (``report_version`` 2), so the public
    cases' diffs and the public instance's output are the vendor's; of the instance that served hidden cases
    the vendor sees nothing — not its output, nor the details of a verdict first seen while it ran. A report
    from before that rule ran public cases after hidden ones in the same process: its public diffs and output
    may echo hidden inputs, so they are withheld too."""
    out = copy.deepcopy(report)
    hidden = [c for c in report.get("cases", []) if c.get("visibility") == "hidden"]
    hidden_ids = {c["case_id"] for c in hidden}
    counts: dict[str, dict[str, int]] = {}
    for case in hidden:
        entry = counts.setdefault(case["category"], {"passed": 0, "total": 0})
        entry["total"] += 1
        entry["passed"] += bool(case.get("passed"))
    out["cases"] = [c for c in report.get("cases", []) if c.get("visibility") != "hidden"]
    out["hidden"] = dict(sorted(counts.items()))
    hidden_verdicts = set(report.get("hidden_verdicts") or ())
    out["verdicts"] = {name: (HIDDEN_DETAIL if name in hidden_verdicts or any(h in str(detail) for h in hidden_ids)
                              else detail)
                       for name, detail in report.get("verdicts", {}).items()}
    out.pop("hidden_verdicts", None)
    out.pop("hidden_output", None)
    if hidden and report.get("report_version", 1) < 2:
        for case in out["cases"]:
            if not case.get("passed"):
                case["failures"] = []
                case["diff"] = (f"✗ {case['case_id']} [{case['category']}] — details withheld: this run served hidden "
                                "cases in the same app instance before this one (a certification run before hidden "
                                "cases had an instance of their own); certify again to see them")
        out["output"] = {"text": "(the app's output is not shown: the instance that printed it also served hidden "
                                 "cases; run the public cases locally with `govapp test` to see it)",
                         "bytes": report.get("output", {}).get("bytes", 0)}
    return out


def this_worker() -> str:
    from sandbox.backends import owner_key

    return f"{socket.gethostname()}:{owner_key()}"


def certification_fail_orphans(actor: Any = None) -> list[int]:
    """Mark ``error`` every run left in ``testing`` by a worker on this host that no longer exists (killed mid-run).
    Platform-only (actor None or admin)."""
    authz.certification_request(actor, None)
    host = socket.gethostname()
    failed = []
    for run in db.session.scalars(sa.select(CertificationRun).where(CertificationRun.state == "testing")):
        worker_host, _, key = (run.worker or ":").partition(":")
        if worker_host == host and not owner_alive(key):
            run.state, run.finished_at = "error", utcnow()
            run.error = "the worker running this certification stopped mid-run; its sandbox was swept"
            audit.record(actor, "certification.orphaned", "certification_run", run.id, {"worker": run.worker},
                         department_id=run.department_id, vendor_id=run.vendor_id)
            failed.append(run.id)
    db.session.commit()
    return failed


def certification_requeue_lost(actor: Any = None) -> list[int]:
    """Enqueue again, under its deterministic job id, every run the database says is ``queued`` whose job no
    worker will take: unknown to the queue (Redis lost it), marked queued but in no queue, or left started by a
    worker that is gone. A run whose job waits or runs is left alone, so this never runs a job twice.
    Platform-only (actor None or admin)."""
    authz.certification_request(actor, None)
    from sandbox.tasks import certify_run

    lost = []
    for run in db.session.scalars(sa.select(CertificationRun).where(CertificationRun.state == "queued")
                                  .order_by(CertificationRun.id)):
        state = queue.job_state(run.job_id)
        if state in ("queued", "started", "deferred", "scheduled"):
            continue
        audit.record(actor, "certification.requeued", "certification_run", run.id, {"job_state": state},
                     department_id=run.department_id, vendor_id=run.vendor_id)
        lost.append((run.id, run.job_id))
    db.session.commit()
    for run_id, job_id in lost:
        queue.enqueue("sandbox", certify_run, run_id, job_id=job_id, timeout=JOB_TIMEOUT_S)
    return [run_id for run_id, _ in lost]
