"""Certification runs: idempotent requests, who sees what, and runs orphaned by a dead worker."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.errors import Forbidden, ValidationError
from core.extensions import db
from sandbox import services
from sandbox.models import CertificationRun

SHA = "a" * 64
SUITE = {
    "suite": "food-licence", "version": "3", "dataset": {"spec": "citizens-v1", "seed": 42, "size": 50},
    "pass": {"ratio": 0.9, "latency_p95_ms": 800},
    "cases": [
        {"id": "public-ok", "category": "happy-path", "visibility": "public",
         "request": {"method": "GET", "path": "/health"}, "expect": {"status": 200}},
        {"id": "hidden-expired-licence", "category": "rules", "visibility": "hidden",
         "request": {"method": "POST", "path": "/applications", "json": {"credit_code": "SECRET-INPUT"}},
         "expect": {"status": 422}},
    ],
}
REPORT = {
    "report_version": 2,
    "cases": [
        {"case_id": "public-ok", "category": "happy-path", "visibility": "public", "passed": False,
         "diff": "expected 200, got 500"},
        {"case_id": "hidden-expired-licence", "category": "rules", "visibility": "hidden", "passed": False,
         "diff": "request SECRET-INPUT expected 422"},
    ],
    "verdicts": {"timeout": "case 'hidden-expired-licence': no complete answer within 10.0 s",
                 "memory": "the app was killed at the memory limit"},
    "hidden_verdicts": ["memory", "timeout"],
    "output": {"text": "GET /health", "bytes": 11},
    "hidden_output": {"text": "POST /applications {'credit_code': 'SECRET-INPUT'}", "bytes": 52},
    "certified": False,
}
# Before hidden cases had an instance of their own: public cases ran after them in the same process.
LEGACY_REPORT = {
    "cases": [
        {"case_id": "public-ok", "category": "happy-path", "visibility": "public", "passed": False,
         "diff": "expected 200, got 500: {'echo': 'SECRET-INPUT'}",
         "failures": [{"kind": "status", "message": "{'echo': 'SECRET-INPUT'}"}]},
        {"case_id": "hidden-expired-licence", "category": "rules", "visibility": "hidden", "passed": False,
         "diff": "request SECRET-INPUT expected 422"},
    ],
    "verdicts": {"timeout": "case 'hidden-expired-licence': no complete answer within 10.0 s"},
    "output": {"text": "POST /applications {'credit_code': 'SECRET-INPUT'}", "bytes": 52},
    "certified": False,
}

vendor = SimpleNamespace(id=7, role="vendor_member", vendor_id=70, department_id=None, label="v")
other_vendor = SimpleNamespace(id=8, role="vendor_member", vendor_id=71, department_id=None, label="o")
staff = SimpleNamespace(id=9, role="department_staff", vendor_id=None, department_id=5, label="d")


@pytest.fixture
def queued(app_ctx, monkeypatch):
    enqueued = []
    monkeypatch.setattr(services.queue, "enqueue", lambda *a, **k: enqueued.append((a, k)))
    return enqueued


def request(actor=vendor, version=1, suite=SUITE):
    return services.certification_request(actor, version, SHA, suite, None, ["person.read"], vendor_id=70, department_id=5)


def test_request_snapshots_and_enqueues_once_per_version_and_suite(queued):
    run = request()
    again = request()
    assert again.id == run.id and len(queued) == 1
    args, kwargs = queued[0]
    assert args[0] == "sandbox" and args[2] == run.id
    assert kwargs["job_id"] == "certify-v1-s3"
    assert run.state == "queued" and run.suite == SUITE and run.dept_scopes == ["person.read"]
    assert run.dataset == SUITE["dataset"]


def test_a_run_that_ended_in_infrastructure_error_is_requeued(queued):
    run = request()
    run.state = "error"
    db.session.commit()
    assert request().state == "queued" and len(queued) == 2


def test_only_the_vendor_or_platform_may_request(queued):
    with pytest.raises(Forbidden):
        request(actor=other_vendor)
    assert request(actor=None).vendor_id == 70


def test_invalid_suite_and_hash_are_refused(queued):
    with pytest.raises(ValidationError, match="suite is invalid"):
        request(suite={"suite": "x"})
    with pytest.raises(ValidationError, match="not a sha256"):
        services.certification_request(None, 1, "../../etc/passwd", SUITE, None, [])


def test_vendor_never_sees_hidden_cases(queued):
    run = request()
    run.report, run.state = REPORT, "failed"
    db.session.commit()
    seen = services.certification_report(vendor, run.id)
    assert seen["view"] == "vendor"
    assert "SECRET-INPUT" not in repr(seen) and "hidden-expired-licence" not in repr(seen)
    assert seen["report"]["hidden"] == {"rules": {"passed": 0, "total": 1}}
    assert [c["case_id"] for c in seen["report"]["cases"]] == ["public-ok"]
    assert seen["report"]["cases"][0]["diff"] == "expected 200, got 500"
    assert seen["report"]["verdicts"] == {"timeout": "during a hidden case", "memory": "during a hidden case"}
    assert seen["report"]["output"] == REPORT["output"]  # the public instance's: it never saw a hidden case
    assert "hidden_output" not in seen["report"] and "hidden_verdicts" not in seen["report"]

    full = services.certification_report(staff, run.id)
    assert full["view"] == "department" and "SECRET-INPUT" in repr(full)
    with pytest.raises(Forbidden):
        services.certification_report(other_vendor, run.id)


def test_vendor_sees_no_detail_of_a_run_whose_public_cases_ran_after_hidden_ones(queued):
    run = request()
    run.report, run.state = LEGACY_REPORT, "failed"
    db.session.commit()
    seen = services.certification_report(vendor, run.id)["report"]
    assert "SECRET-INPUT" not in repr(seen) and "hidden-expired-licence" not in repr(seen)
    assert [(c["case_id"], c["passed"], c["failures"]) for c in seen["cases"]] == [("public-ok", False, [])]
    assert "details withheld" in seen["cases"][0]["diff"]
    assert seen["verdicts"] == {"timeout": "during a hidden case"}


def test_runs_of_a_dead_worker_are_failed_not_left_testing(queued):
    run = request()
    run.state, run.worker = "testing", f"{services.socket.gethostname()}:999999.1"
    live = request(version=2)
    live.state, live.worker = "testing", services.this_worker()
    db.session.commit()
    assert services.certification_fail_orphans(None) == [run.id]
    assert db.session.get(CertificationRun, run.id).state == "error"
    assert db.session.get(CertificationRun, live.id).state == "testing"


def test_queued_runs_whose_job_the_queue_lost_are_enqueued_again_and_only_those(queued, monkeypatch):
    waiting, lost, missing, running = (request(version=v) for v in (21, 22, 23, 24))
    finished = request(version=25)
    finished.state = "certified"
    db.session.commit()
    del queued[:]
    states = {waiting.job_id: "queued", lost.job_id: "lost", missing.job_id: None, running.job_id: "started",
              finished.job_id: None}
    monkeypatch.setattr(services.queue, "job_state", states.get)
    assert services.certification_requeue_lost(None) == [lost.id, missing.id]
    assert [(args[2], kwargs["job_id"]) for args, kwargs in queued] == [(lost.id, lost.job_id),
                                                                      (missing.id, missing.job_id)]
    with pytest.raises(Forbidden):
        services.certification_requeue_lost(vendor)
