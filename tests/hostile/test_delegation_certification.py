"""Certification enforces the delegation (issue #12): each case's app gets a department access token for that
case's citizen with the fields its govapp.toml declares. On both backends, an app declaring three fields receives
exactly those for its own citizen; asking about a person the request names (the citizen typed someone else's ID)
is refused (403) and answered by a correct app without failing the case; reading a resident no request named is
refused too and fails the case, recorded in the department's view of the report — never in the vendor's."""

from __future__ import annotations

import json
import uuid

import pytest
from govsuite import DELEGATION_CASE_ID

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
    assert report["summary"]["passed"] == 3  # with the generated hidden case, from own-record: the reader passes it

    vendor = json.dumps(vendor_view(report), ensure_ascii=False)
    assert "not_delegated" not in vendor and "/persons/" not in vendor


def own_record_suite() -> dict:
    """One public case the citizen is served in; the platform adds the hidden delegation case from it."""
    return {"suite": "overreach", "version": "1", "dataset": {"spec": "citizens-v1", "seed": 42, "size": 2000},
            "pass": {"ratio": 0.5, "latency_p95_ms": 5000},
            "cases": [{"id": "own-record", "category": "rules", "visibility": "public",
                       "identity": {"sub": "citizen-food-ok", "resident_id": OWN},
                       "request": {"method": "GET", "path": "/read", "query": {"rid": OWN}},
                       "expect": {"status": 200}}]}


@pytest.mark.parametrize(("mode", "finding"), [
    ("polite", None),
    ("optional", "the field businesses, which the citizen did not consent to"),
    ("other", "the record of another person than the citizen"),
])
def test_the_generated_hidden_case_catches_what_a_citizen_withheld(backend, store, runs_root, stored_bundle, mode,
                                                                   finding):
    """Every public case consents to everything the app declares, so an app that reads its optional field without
    looking, or reads someone else when the field is withheld, passes them all; the generated hidden case — the
    public request from a citizen who consented only to the required fields — catches it. The vendor is told what
    kind of read it was, and nothing of the case; a polite app passes it."""
    scenarios = MemoryStore("citizens-v1", 42, 2000).scenarios
    other = scenarios["ssc_ok"]["applicant"]["resident_id"]
    sha = stored_bundle("overreach:app", "overreach", scopes=("person.read", "business.read"), fields=("name",),
                        optional_fields=("businesses",),
                        extra={"overreach_mode.py": f"MODE = {mode!r}\nTARGET = {other!r}\n".encode()})
    job = harness.CertificationInput(run_id=f"over{uuid.uuid4().hex[:6]}", bundle_sha256=sha, suite=own_record_suite(),
                                     contract=None, scopes=["person.read", "business.read"])
    report = harness.certify(backend, store, runs_root, job, limits=harness.HarnessLimits(ready_seconds=15))

    cases = {c["case_id"]: c for c in report["cases"]}
    assert list(cases) == ["own-record", DELEGATION_CASE_ID], "the generated case runs after the public one"
    assert cases["own-record"]["passed"], cases["own-record"]
    generated = cases[DELEGATION_CASE_ID]
    assert generated["visibility"] == "hidden" and generated["category"] == "delegation"
    if finding is None:
        assert generated["passed"], generated
        assert report["certified"] and "delegation" not in report["verdicts"], report["verdicts"]
        return

    assert not generated["passed"] and not report["certified"] and report["summary"]["outside_delegation"] == 1
    assert [f["kind"] for f in generated["failures"]] == ["delegation"], generated["failures"]
    assert finding in generated["failures"][0]["finding"]
    vendor = vendor_view(report)
    assert vendor["hidden"] == {"delegation": {"passed": 0, "total": 1}}
    assert finding in vendor["verdicts"]["delegation"] and "1 of them hidden" in vendor["verdicts"]["delegation"]
    assert any(finding in reason for reason in vendor["summary"]["reasons"])
    seen = json.dumps(vendor, ensure_ascii=False)
    assert other not in seen and "/persons/" not in seen and DELEGATION_CASE_ID not in seen
