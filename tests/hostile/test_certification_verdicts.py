"""Whole certifications of hostile apps on both backends: the run stops early and says why.

A CPU spin used to hold a worker for one request deadline per case (26 × 10 s); now three timeouts in a row end
the run, and the verdict is ``cpu`` from the cgroup's CPU accounting. An app that abuses the department service
(half-sent requests held open, a 300 MB body) meets its bounds and gets a ``department`` verdict, and the worker's
memory stays where it was.
"""

from __future__ import annotations

import resource
import time
import uuid

import pytest

from sandbox import harness
from sandbox.backends import Limits

pytestmark = pytest.mark.usefixtures("no_leftovers")

LIMITS = harness.HarnessLimits(ready_seconds=15, request_seconds=4, install_seconds=60,
                               sandbox=Limits(memory_bytes=128 * 1024 * 1024, pids=32, cpus=0.5))


def suite(*paths: str, hidden: int = 0) -> dict:
    cases = [{"id": f"c{i}", "category": "c", "request": {"method": "GET", "path": path}, "expect": {"status": 200}}
             for i, path in enumerate(paths)]
    cases += [{"id": f"h{i}", "category": "c", "visibility": "hidden", "request": {"method": "GET", "path": "/ok"},
               "expect": {"status": 200}} for i in range(hidden)]
    return {"suite": "verdicts", "version": "1", "dataset": {"spec": "citizens-v1", "seed": 7, "size": 100},
            "pass": {"ratio": 1.0, "latency_p95_ms": 5000}, "cases": cases}


def certify(backend, store, runs_root, sha, document) -> dict:
    job = harness.CertificationInput(run_id=f"v{uuid.uuid4().hex[:6]}", bundle_sha256=sha, suite=document,
                                     contract=None, scopes=["person.read"])
    return harness.certify(backend, store, runs_root, job, limits=LIMITS)


def test_a_cpu_spin_ends_the_run_after_three_timeouts_with_a_cpu_verdict(backend, store, runs_root, stored_bundle):
    sha = stored_bundle("hostile:app", "hostile")
    started = time.monotonic()
    report = certify(backend, store, runs_root, sha, suite(*["/spin"] * 12, hidden=2))
    took = time.monotonic() - started
    assert "computed all the while" in report["verdicts"]["cpu"], report["verdicts"]
    sent = [c for c in report["cases"] if "not sent" not in c["diff"]]
    assert [c["verdict"] for c in sent] == ["cpu"] * 3, report["cases"]
    assert len(report["cases"]) == 14 and all(c["verdict"] == "timeout" for c in report["cases"][3:])
    assert took < 3 * LIMITS.request_seconds + 25, took  # 14 deadlines before
    print(f"\n{backend.name}: a spinning app's whole run took {took:.1f} s")


def test_an_app_abusing_the_department_service_gets_a_department_verdict(backend, store, runs_root, stored_bundle):
    sha = stored_bundle("hostile:app", "hostile")
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = certify(backend, store, runs_root, sha, suite("/department-abuse?connections=120", "/ok"))
    detail = report["verdicts"]["department"]
    assert "connection(s) over its limit" in detail and "over its body cap" in detail, report["verdicts"]
    assert report["cases"][0]["status"] == 200, report["cases"][0]
    assert report["cases"][1]["passed"], report["cases"][1]  # the service still answers the next case
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown < 64 * 1024, f"the worker's peak memory grew by {grown} KiB"
