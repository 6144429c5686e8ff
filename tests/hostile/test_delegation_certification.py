"""Certification enforces the delegation (issue #12): each case's app gets a department access token for that
case's citizen with the fields its govapp.toml declares. On both backends, an app declaring three fields receives
exactly those for its own citizen; asking about a person the request names (the citizen typed someone else's ID)
is refused (403) and answered by a correct app without failing the case; reading a resident no request named is
refused too and fails the case, recorded in the department's view of the report — never in the vendor's."""

from __future__ import annotations

import json
import uuid

from mockdata.store import MemoryStore
from sandbox import harness
from sandbox.services import vendor_view

OWN = "{{ scenarios.food_ok.applicant.resident_id }}"
OTHER = "{{ scenarios.ssc_ok.applicant.resident_id }}"


def suite() -> dict:
    def case(case_id, visibility, rid, expect):
        return {"id": case_id, "category": "rules", "visibility": visibility,
                "identity": {"sub": "citizen-food-ok", "resident_id": OWN},
                "request": {"method": "GET", "path": "/read", "query": {"rid": rid}},
                "expect": {"status": 200, "json": expect}}

    return {"suite": "delegation", "version": "1", "dataset": {"spec": "citizens-v1", "seed": 42, "size": 2000},
            "pass": {"ratio": 1.0, "latency_p95_ms": 5000},
            "cases": [case("own-record", "public", OWN,
                           {"dept_status": 200, "fields": ["address", "name", "phone", "resident_id"]}),
                      case("named-someone-else", "public", OTHER, {"dept_status": 403, "refusal": "not_delegated"}),
                      case("snooping", "hidden", "snoop", {"dept_status": 200})]}


def test_certification_gives_each_case_its_citizens_delegation(backend, store, runs_root, stored_bundle):
    other = MemoryStore("citizens-v1", 42, 2000).scenarios["ssc_ok"]["applicant"]["resident_id"]
    sha = stored_bundle("reader:app", "reader", fields=("name", "phone", "address"),
                        extra={"target.py": f"TARGET = {other!r}\n".encode()})
    job = harness.CertificationInput(run_id=f"deleg{uuid.uuid4().hex[:6]}", bundle_sha256=sha, suite=suite(),
                                     contract=None, scopes=["person.read"])
    report = harness.certify(backend, store, runs_root, job, limits=harness.HarnessLimits(ready_seconds=15))

    cases = {c["case_id"]: c for c in report["cases"]}
    assert cases["own-record"]["passed"], cases["own-record"]
    assert cases["named-someone-else"]["passed"], cases["named-someone-else"]
    other = cases["snooping"]
    assert not other["passed"]
    assert [f["kind"] for f in other["failures"]] == ["json", "delegation"], other["failures"]
    assert "not_delegated" in other["failures"][1]["message"]
    assert report["summary"]["passed"] == 2

    vendor = json.dumps(vendor_view(report), ensure_ascii=False)
    assert "not_delegated" not in vendor and "/persons/" not in vendor
