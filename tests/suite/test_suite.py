"""The suite format: loading and validation, scenario references, every assertion kind, the pass rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from govsuite import (
    DELEGATION_CASE_ID,
    Case,
    HttpResponse,
    SuiteError,
    SuiteRun,
    evaluate_case,
    generate_contract_cases,
    load_suite,
    p95,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

CONTRACT = {
    "openapi": "3.1.0",
    "info": {"title": "t", "version": "1"},
    "paths": {
        "/applications": {
            "post": {
                "operationId": "createApplication",
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Input"}}}},
                "responses": {
                    "201": {"description": "ok",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/App"}}}},
                    "422": {"$ref": "#/components/responses/Problem"},
                },
            }
        },
        "/applications/{id}": {"get": {"responses": {"200": {"description": "ok"},
                                                      "404": {"$ref": "#/components/responses/Problem"}}}},
    },
    "components": {
        "responses": {"Problem": {"description": "p", "content": {"application/json": {"schema": {
            "type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}}}}},
        "schemas": {
            "Input": {"type": "object", "required": ["credit_code", "area"],
                      "properties": {"credit_code": {"type": "string"}, "area": {"type": "number"},
                                     "tags": {"type": "array", "items": {"type": "string"}}}},
            "App": {"type": "object", "required": ["id", "status"],
                    "properties": {"id": {"type": "string"}, "status": {"enum": ["accepted", "rejected"]}}},
        },
    },
}


def suite_doc(*cases, **extra) -> dict:
    return {"suite": "demo", "version": 1, "dataset": {"spec": "citizens-v1", "seed": 1, "size": 100},
            "pass": {"ratio": 0.5, "latency_p95_ms": 100}, "cases": list(cases), **extra}


def case(**overrides) -> Case:
    data = {"id": "c1", "category": "happy", "request": {"method": "POST", "path": "/applications", "json": {}},
            "expect": {"status": 201}}
    data.update(overrides)
    return load_suite(suite_doc(data)).cases[0]


def response(status=201, body=None, latency=5.0) -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body if body is not None else {}).encode()
    return HttpResponse(status, {"Content-Type": "application/json"}, raw, latency)


# --------------------------------------------------------------------------- loading


def test_the_example_suites_are_valid():
    for path in sorted((EXAMPLES / "suites").glob("*.yaml")):
        suite = load_suite(path)
        assert suite.cases, path
        assert {c.visibility for c in suite.cases} == {"public", "hidden"}


def test_validation_names_each_bad_field():
    doc = suite_doc({"id": "a", "category": "x", "request": {"method": "FETCH", "path": "applications"},
                     "expect": {"status": "20x", "colour": 1}})
    doc["pass"]["ratio"] = 2
    with pytest.raises(SuiteError) as err:
        load_suite(doc)
    text = str(err.value)
    assert "cases[0].request.method: 'FETCH' is not one of" in text
    assert "cases[0].request.path" in text
    assert "cases[0].expect.status" in text and "4xx" in text
    assert "cases[0].expect: unknown field(s) ('colour' was unexpected)" in text
    assert "pass.ratio" in text


def test_duplicate_case_ids_and_json_with_body_are_refused():
    c = {"id": "a", "category": "x", "request": {"method": "POST", "path": "/", "json": {}, "body": "x"},
         "expect": {"status": 200}}
    with pytest.raises(SuiteError) as err:
        load_suite(suite_doc(c, dict(c, request={"method": "GET", "path": "/"})))
    assert "cases[1].id: 'a' is used by an earlier case" in str(err.value)
    assert "give either json or body, not both" in str(err.value)


def test_yaml_syntax_errors_say_where():
    with pytest.raises(SuiteError, match="line 2"):
        load_suite("suite: x\n  version: [1\n")


def test_scenario_references_keep_types_and_interpolate():
    raw = suite_doc({"id": "a", "category": "x", "identity": {"sub": "u-{{ scenarios.ok.person.id }}"},
                     "request": {"method": "POST", "path": "/x/{{scenarios.ok.person.id}}",
                                 "json": {"area": "{{ scenarios.ok.area }}", "first": "{{ scenarios.ok.list.0 }}"}},
                     "expect": {"status": 201}})
    suite = load_suite(raw).resolve({"ok": {"person": {"id": "110"}, "area": 12.5, "list": ["p", "q"]}})
    c = suite.cases[0]
    assert c.request.json == {"area": 12.5, "first": "p"}
    assert c.request.path == "/x/110"
    assert c.identity == {"sub": "u-110"}


def test_unknown_scenarios_are_named():
    suite = load_suite(suite_doc({"id": "a", "category": "x", "request": {"method": "GET", "path": "/"},
                                  "expect": {"status": 200, "json": {"v": "{{ scenarios.ok.nope }}"}}}))
    with pytest.raises(SuiteError, match=r"cases\[0\].expect.json.v: scenarios.ok has no 'nope' \(it has: a\)"):
        suite.resolve({"ok": {"a": 1}})
    with pytest.raises(SuiteError, match="unknown scenario 'ok'"):
        suite.resolve({"other": {}})


def test_public_view_drops_hidden_cases_and_counts_them():
    hidden = {"id": "h", "category": "rules", "visibility": "hidden", "request": {"method": "GET", "path": "/"},
              "expect": {"status": 200}}
    public = dict(hidden, id="p", visibility="public")
    view = load_suite(suite_doc(public, hidden, dict(hidden, id="h2"))).public()
    assert [c.id for c in view.cases] == ["p"]
    assert view.hidden_counts == {"rules": 2}


# --------------------------------------------------------------------------- assertions


@pytest.mark.parametrize(("expected", "status", "ok"), [
    (201, 201, True), (201, 200, False), ([200, 201], 200, True), ([200, 201], 422, False),
    ("4xx", 404, True), ("4xx", 500, False),
])
def test_status(expected, status, ok):
    result = evaluate_case(case(expect={"status": expected}), response(status), [])
    assert result.passed is ok
    if not ok:
        assert result.failures[0].kind == "status"
        assert f"got {status}" in result.diff()


def test_json_subset_reports_each_difference():
    c = case(expect={"status": 201, "json": {"status": "accepted", "reasons": [], "detail": {"n": 1}}})
    assert evaluate_case(c, response(body={"status": "accepted", "reasons": [], "detail": {"n": 1.0}, "extra": 1}), []).passed
    result = evaluate_case(c, response(body={"status": "rejected", "reasons": [{"code": "x"}]}), [])
    diff = result.diff()
    assert '$.status: expected "accepted", got "rejected"' in diff
    assert "$.reasons: expected 0 item(s), got 1" in diff
    assert "$.detail: missing" in diff


def test_json_subset_does_not_confuse_booleans_and_numbers():
    c = case(expect={"status": 201, "json": {"flag": True}})
    assert not evaluate_case(c, response(body={"flag": 1}), []).passed


def test_non_json_body_fails_json_expectations():
    result = evaluate_case(case(expect={"status": 201, "json": {}}), response(body=b"<html>"), [])
    assert not result.passed
    assert result.failures[0].kind == "body"


@pytest.mark.parametrize(("assertion", "ok"), [
    ({"path": "$.case_number", "matches": "^SP-"}, True),
    ({"path": "$.case_number", "matches": "^SB-"}, False),
    ({"path": "$.reasons[*].code", "contains": "b"}, True),
    ({"path": "$.reasons[*].code", "contains": "z"}, False),
    ({"path": "$.reasons", "length": 2}, True),
    ({"path": "$.reasons", "length": 3}, False),
    ({"path": "$.missing", "exists": False}, True),
    ({"path": "$.case_number", "exists": False}, False),
    ({"path": "$.missing", "exists": True}, False),
    ({"path": "$.reasons[0].code", "equals": "a"}, True),
    ({"path": "$.reasons[0].code", "equals": "b"}, False),
    ({"path": "$.reasons[0].code", "not_equals": "b"}, True),
    ({"path": "$.reasons[0].code", "not_equals": "a"}, False),
    ({"path": "$.count", "type": "integer"}, True),
    ({"path": "$.count", "type": "string"}, False),
    ({"path": "$.status", "one_of": ["accepted", "rejected"]}, True),
    ({"path": "$.status", "one_of": ["rejected"]}, False),
    ({"path": "$.reasons[?(@.code == 'b')].message", "equals": "bee"}, True),
    ({"path": "$.[[[", "exists": True}, False),
])
def test_jsonpath(assertion, ok):
    body = {"case_number": "SP-1", "status": "accepted", "count": 2,
            "reasons": [{"code": "a", "message": "ay"}, {"code": "b", "message": "bee"}]}
    result = evaluate_case(case(expect={"status": 201, "jsonpath": [assertion]}), response(body=body), [])
    assert result.passed is ok, result.diff()
    if not ok:
        assert result.failures[0].kind == "jsonpath"
        assert assertion["path"] in result.failures[0].message


def test_response_schema_from_the_contract():
    c = case(expect={"status": 201, "schema": True})
    assert evaluate_case(c, response(body={"id": "1", "status": "accepted"}), [], CONTRACT).passed
    result = evaluate_case(c, response(body={"id": 1, "status": "maybe"}), [], CONTRACT)
    assert not result.passed
    assert "$.id: 1 is not of type 'string'" in result.diff()
    assert "'maybe' is not one of" in result.diff()
    undeclared = evaluate_case(case(expect={"status": "5xx", "schema": True}), response(500, {"error": "x"}), [], CONTRACT)
    assert "declares no response 500" in undeclared.diff()
    problem = evaluate_case(case(expect={"status": 422, "schema": True}), response(422, {"detail": "x"}), [], CONTRACT)
    assert "'error' is a required property" in problem.diff()


def test_expected_submissions_count_and_body():
    c = case(submissions=[{"path": "/applications/food-licence", "count": 1, "json": {"credit_code": "X", "cats": ["热"]}}])
    good = {"method": "POST", "path": "/applications/food-licence", "json": {"credit_code": "X", "cats": ["热"], "more": 1}}
    assert evaluate_case(c, response(), [good]).passed
    twice = evaluate_case(c, response(), [good, dict(good, duplicate=True)])
    assert "expected 1 POST /applications/food-licence call(s)" in twice.diff()
    assert "the app made 2" in twice.diff()
    wrong = evaluate_case(c, response(), [dict(good, json={"credit_code": "Y", "cats": ["热"]})])
    assert '$.credit_code: expected "X", got "Y"' in wrong.diff()
    none = case(submissions=[{"path": "/applications/food-licence", "count": 0}])
    assert evaluate_case(none, response(), [{"method": "GET", "path": "/persons/1"}]).passed
    assert not evaluate_case(none, response(), [good]).passed


def test_scope_violations_fail_the_case():
    call = {"method": "GET", "path": "/persons/1", "scope": "person.read", "violation": True}
    result = evaluate_case(case(), response(), [call])
    assert not result.passed
    assert result.violations and "person.read" in result.diff()


# --------------------------------------------------------------------------- generated cases and the pass rule


def test_generated_cases_cover_invalid_input():
    cases = generate_contract_cases(CONTRACT, identity={"sub": "s"})
    ids = {c.id for c in cases}
    assert {"contract:createApplication:empty-body", "contract:createApplication:not-json",
            "contract:createApplication:missing-credit_code", "contract:createApplication:wrong-type-area",
            "contract:get-applications-id:unknown-id"} <= ids
    wrong = next(c for c in cases if c.id == "contract:createApplication:wrong-type-area")
    assert wrong.request.json == {"credit_code": "x", "area": "not-a-number"}
    assert wrong.identity == {"sub": "s"} and wrong.generated
    # a 5xx fails a generated case; a 4xx with a problem body passes
    assert not evaluate_case(wrong, response(500, {"error": "boom"}), [], CONTRACT).passed
    assert evaluate_case(wrong, response(422, {"error": "invalid"}), [], CONTRACT).passed
    assert generate_contract_cases(CONTRACT) == generate_contract_cases(CONTRACT)


def test_the_pass_rule():
    suite = load_suite(suite_doc())
    c = case()
    passing = [evaluate_case(c, response(latency=10), []) for _ in range(3)]
    failing = evaluate_case(c, response(500, latency=10), [])
    run = SuiteRun(suite, [*passing, failing])
    assert run.ratio == 0.75 and run.passed
    assert not SuiteRun(suite, [failing, failing, passing[0]]).passed
    slow = SuiteRun(suite, [evaluate_case(c, response(latency=ms), []) for ms in range(1, 101)] + [
        evaluate_case(c, response(latency=500), []) for _ in range(10)])
    assert slow.latency_p95_ms == 500 and not slow.passed
    assert "latency p95 500 ms is above the limit of 100 ms" in slow.summary()
    assert p95([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]) == 19


def test_run_report_hides_hidden_diffs():
    suite = load_suite(suite_doc())
    hidden = case(visibility="hidden")
    run = SuiteRun(suite, [evaluate_case(hidden, response(500), [])])
    report = run.to_dict()
    assert "diff" not in report["cases"][0] and report["cases"][0]["passed"] is False
    assert "diff" in run.to_dict(public_diffs_only=False)["cases"][0]
    yaml.safe_dump(report)  # plain data


# --------------------------------------------------------------------------- the delegation case

CITIZEN, OTHER_PERSON, BUSINESS = "110105199003074578", "152015197611060696", "91152015MAUDMH8J6B"


def served_case(case_id, visibility="public", status=201, submits=True, **request):
    return {"id": case_id, "category": "happy", "visibility": visibility,
            "identity": {"sub": "s", "resident_id": CITIZEN},
            "request": {"method": "POST", "path": "/applications", "json": {"credit_code": BUSINESS}, **request},
            "expect": {"status": status, "json": {"status": "accepted"}},
            "submissions": [{"path": "/applications/food-licence", "count": 1 if submits else 0}]}


def test_the_delegation_case_repeats_a_public_request_from_a_citizen_who_withheld_the_optional_fields():
    suite = load_suite(suite_doc(
        served_case("hidden-apply", "hidden"),
        served_case("refused", status=422),
        served_case("for-someone-else", json={"credit_code": BUSINESS, "applicant_resident_id": OTHER_PERSON}),
        served_case("lookup", status=200, submits=False),
        served_case("apply", query={"lang": "zh"}),
    ))
    cases = suite.all_cases(department_scopes=["person.read"])
    assert [c.id for c in cases] == ["hidden-apply", "refused", "for-someone-else", "lookup", "apply", DELEGATION_CASE_ID]
    generated = cases[-1]
    source = cases[4]  # public, served (2xx), submits, and names nobody but its citizen
    assert (generated.visibility, generated.category, generated.consent) == ("hidden", "delegation", "required")
    assert generated.generated and generated.request == source.request and generated.identity == source.identity
    assert generated.expect == {"status": 201}, "the same status: an optional field is one the app works without"
    assert all(c.consent == "all" for c in cases[:-1])

    # Not without department scopes, not when the suite turns it off, not without a case a citizen is served in.
    assert DELEGATION_CASE_ID not in {c.id for c in suite.all_cases()}
    off = load_suite(suite_doc(served_case("apply"), generate={"delegation": False}))
    assert [c.id for c in off.all_cases(department_scopes=["person.read"])] == ["apply"]
    nobody = load_suite(suite_doc(served_case("refused", status=422), {**served_case("anonymous"), "identity": None}))
    assert len(nobody.all_cases(department_scopes=["person.read"])) == 2
    # Only a hidden case to take it from: the generated case repeats that one.
    hidden_only = load_suite(suite_doc(served_case("hidden-apply", "hidden", status=[200, 201])))
    assert hidden_only.all_cases(department_scopes=["person.read"])[-1].expect == {"status": [200, 201]}


def test_a_case_may_withhold_the_optional_fields_itself():
    assert case(consent="required").consent == "required" and case().consent == "all"
    with pytest.raises(SuiteError, match="consent"):
        case(consent="some")


def refused(path, refusal, method="GET"):
    return {"method": method, "path": path, "status": 403, "refusal": refusal, "scope": "person.read", "violation": False}


def test_a_read_outside_the_delegation_fails_the_run_and_is_named_without_data_of_the_case():
    asked = case(identity={"sub": "s", "resident_id": CITIZEN}, visibility="hidden",
                 request={"method": "POST", "path": "/applications", "json": {"credit_code": BUSINESS}})
    calls = [refused(f"/persons/{CITIZEN}/businesses", "field_not_consented"),
             refused(f"/persons/{OTHER_PERSON}", "not_delegated"),
             refused(f"/persons/{CITIZEN}/<img src=x>", "field_not_consented"),
             refused("/applications/food-licence", "not_delegated", "POST"),
             refused(f"/businesses/{BUSINESS}", "not_represented"),  # the request named it: how an app learns
             refused(f"/persons/{CITIZEN}", "delegation_missing")]
    result = evaluate_case(asked, response(), calls)
    findings = [f.finding for f in result.failures if f.kind == "delegation"]
    assert findings == ["the field businesses, which the citizen did not consent to",
                        "the record of another person than the citizen (or a person in their care)",
                        "a person record, though the citizen consented to none of their personal details",
                        "an application for another person than the citizen (or a person in their care)",
                        "a department call without the department access token of the request being served"]
    assert OTHER_PERSON in result.diff(), "the department's view says which call it was"

    suite = load_suite(suite_doc())
    fine = [evaluate_case(case(), response(), []) for _ in range(9)]
    run = SuiteRun(suite, [*fine, result])
    assert run.ratio == 0.9 and not run.passed, "a read outside the delegation fails the run whatever the ratio"
    reason = run.reasons[-1]
    assert reason.startswith("5 department call(s) outside the citizen's delegation (1 case(s), 1 of them hidden)")
    assert "the field businesses" in reason
    for data in (CITIZEN, OTHER_PERSON, BUSINESS, "/", "<img", asked.id):
        assert data not in reason
    assert run.to_dict()["outside_delegation"] == 5


# --------------------------------------------------------------------------------------------- the case loop


class EchoInstance:
    """A fake app instance that answers every request with all the request paths it has seen so far."""

    def __init__(self, phase: str, log: list, hang: set[str] = frozenset()):
        self.phase, self.log, self.hang, self.seen = phase, log, hang, []

    def unavailable(self):
        return None

    def open_case(self, case):
        self.log.append((self.phase, case.id))
        return {"Authorization": "Bearer t"} if case.identity is not None else {}

    def send(self, request, headers):
        from govsuite import Exchange

        self.seen.append(request.path)
        if request.path in self.hang:
            return Exchange(None, 3000.0, "timeout", "no answer within 3 s")
        return Exchange(HttpResponse(200, {}, json.dumps(self.seen).encode(), 1.0), 1.0)

    def department_calls(self):
        return []


def loop_case(case_id: str, visibility: str = "public") -> Case:
    return Case.from_dict({"id": case_id, "category": "c", "visibility": visibility,
                           "request": {"method": "GET", "path": f"/{case_id}"}, "expect": {"status": 201}})


def test_hidden_cases_run_after_every_public_case_in_a_fresh_instance():
    from contextlib import contextmanager

    from govsuite import run_cases

    log, instances = [], []

    @contextmanager
    def instance(phase):
        instances.append(EchoInstance(phase, log))
        yield instances[-1]

    cases = [loop_case("h1", "hidden"), loop_case("p1"), loop_case("h2", "hidden"), loop_case("p2")]
    results = run_cases(cases, instance)
    assert log == [("public", "p1"), ("public", "p2"), ("hidden", "h1"), ("hidden", "h2")]
    assert [r.case_id for r in results] == ["p1", "p2", "h1", "h2"]
    # What the public instance answered (shown to vendors in public diffs) holds nothing of a hidden case.
    public = [r for r in results if r.visibility == "public"]
    assert all("/h" not in r.body_excerpt for r in public) and "/p1" in public[1].body_excerpt
    # Without hidden cases no second instance is started.
    instances.clear()
    run_cases([loop_case("p1")], instance)
    assert [i.phase for i in instances] == ["public"]


def test_the_loop_stops_sending_after_consecutive_timeouts():
    from contextlib import contextmanager

    from govsuite import run_cases

    log = []

    @contextmanager
    def instance(phase):
        yield EchoInstance(phase, log, hang={f"/p{i}" for i in range(2, 10)} | {"/h1"})

    cases = [loop_case(f"p{i}") for i in range(1, 8)] + [loop_case("h1", "hidden")]
    results = run_cases(cases, instance, max_consecutive_timeouts=3)
    assert [case_id for _, case_id in log] == ["p1", "p2", "p3", "p4"]  # p1 answered, then three timeouts
    assert [r.verdict for r in results] == [None, "timeout", "timeout", "timeout", "timeout", "timeout", "timeout",
                                            "timeout"]
    assert "not sent" in results[-1].diff() and not any(r.passed for r in results)
