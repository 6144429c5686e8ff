"""The department service: scopes, call recording, lookups and the decision rules, through its WSGI app."""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
from datetime import date, timedelta

import pytest
from werkzeug.test import Client

from mockdata.output import write_sqlite
from mockdata.service import SCOPES, DepartmentService
from mockdata.specs import CITIZENS_V1


@pytest.fixture
def client(service) -> Client:
    return Client(service)


def submit(client: Client, item: str, body: dict):
    response = client.post(f"/applications/{item}", json=body)
    return response.status_code, response.get_json()


def codes(body: dict) -> list[str]:
    return [r["code"] for r in body["reasons"]]


# ---- scopes and recording ---------------------------------------------------------------------

def test_a_call_outside_the_granted_scopes_is_refused_and_recorded_as_violation(store, scenarios):
    service = DepartmentService(store, {"person.read"})
    client = Client(service)
    person = scenarios["food_ok"]["applicant"]["resident_id"]
    assert client.get(f"/persons/{person}").status_code == 200
    response = client.get(f"/persons/{person}/licences")
    assert response.status_code == 403
    assert response.get_json()["error"] == "scope_denied" and response.get_json()["scope"] == "licence.read"
    status, body = submit(client, "food-licence", scenarios["food_ok"]["application"])
    assert status == 403 and body["scope"] == "application.submit"
    assert [v["path"] for v in service.violations] == [f"/persons/{person}/licences", "/applications/food-licence"]
    assert service.violations[1]["json"] == scenarios["food_ok"]["application"]
    assert service.cases == {}  # a refused submission decides nothing


def test_health_needs_no_scope_and_tells_the_day_and_dataset(store):
    client = Client(DepartmentService(store, ()))
    body = client.get("/health").get_json()
    assert body == {"status": "ok", "dataset": {"spec": "citizens-v1", "seed": 42, "size": 2000, "as_of": "2026-07-01"},
                    "today": "2026-07-01", "scopes": []}


def test_every_call_is_recorded_in_order_with_its_details(service, client, scenarios):
    person = scenarios["food_ok"]["applicant"]["resident_id"]
    client.get(f"/persons/{person}/licences?type=id_card")
    client.get("/no/such/path")
    submit(client, "food-licence", scenarios["food_ok"]["application"])
    calls = service.calls
    assert [c["seq"] for c in calls] == [1, 2, 3]
    first, missing, posted = calls
    assert first["method"] == "GET" and first["query"] == {"type": "id_card"} and first["status"] == 200
    assert first["scope"] == "licence.read" and first["violation"] is False and first["time"].endswith("Z")
    assert missing["status"] == 404 and missing["scope"] is None
    assert posted["json"] == scenarios["food_ok"]["application"] and posted["status"] == 201
    assert posted["case_number"].startswith("SP-20260701-") and posted["duplicate"] is False
    service.reset()
    assert service.calls == [] and service.cases == {}


def test_recording_is_safe_under_concurrent_calls(service, scenarios):
    person = scenarios["ssc_ok"]["applicant"]["resident_id"]

    def hammer():
        client = Client(service)
        for _ in range(25):
            client.get(f"/persons/{person}")

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    calls = service.calls
    assert len(calls) == 200 and sorted(c["seq"] for c in calls) == list(range(1, 201))


def test_recorded_calls_are_copies(service, client, scenarios):
    submit(client, "food-licence", scenarios["food_ok"]["application"])
    service.calls[0]["json"]["credit_code"] = "tampered"
    assert service.calls[0]["json"]["credit_code"] == scenarios["food_ok"]["business"]["credit_code"]


# ---- lookups ------------------------------------------------------------------------------------

def test_lookups_answer_from_the_dataset(client, scenarios):
    ok = scenarios["food_ok"]
    assert client.get(f"/persons/{ok['applicant']['resident_id']}").get_json() == ok["applicant"]
    assert client.get(f"/businesses/{ok['business']['credit_code']}").get_json() == ok["business"]
    licences = client.get(f"/businesses/{ok['business']['credit_code']}/licences").get_json()
    assert [lic["type"] for lic in licences] == ["business_licence"]
    person_licences = client.get(f"/persons/{ok['applicant']['resident_id']}/licences?type=id_card&status=valid").get_json()
    assert [(lic["type"], lic["status"]) for lic in person_licences] == [("id_card", "valid")]


def test_chinese_is_sent_as_utf8_not_escaped(client, scenarios):
    person = scenarios["awkward_rare_name"]["applicant"]
    response = client.get(f"/persons/{person['resident_id']}")
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert person["name"].encode() in response.data


def test_unknown_and_malformed_identifiers(client, scenarios):
    unknown_code = scenarios["food_unknown_business"]["business"]["credit_code"]
    response = client.get(f"/businesses/{unknown_code}")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    assert client.get(f"/businesses/{unknown_code}/licences").status_code == 404
    response = client.get("/persons/110105194912310021")  # check character should be X
    assert response.status_code == 422 and response.get_json()["error"] == "invalid_identifier"
    assert client.get("/persons/11010519491231002X").status_code == 404
    assert client.post("/persons/11010519491231002X").status_code == 405


# ---- food licence decisions ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["food_ok", "food_not_legal_rep", "food_licence_expired", "food_licence_revoked",
                                  "food_small_premises_hot_food", "food_unknown_business"])
def test_food_scenarios_get_their_expected_decision(client, scenarios, name):
    status, body = submit(client, "food-licence", scenarios[name]["application"])
    expected = scenarios[name]["expected"]
    assert body["decision"] == expected["decision"] and codes(body) == expected["reasons"]
    assert status == (201 if expected["decision"] == "accepted" else 200)
    assert all(r["message"] for r in body["reasons"])


def test_small_premises_may_still_sell_cold_food(client, scenarios):
    application = {**scenarios["food_small_premises_hot_food"]["application"], "business_categories": ["冷食类食品制售"]}
    status, body = submit(client, "food-licence", application)
    assert (status, body["decision"], body["reasons"]) == (201, "accepted", [])


def test_missing_materials_are_listed(client, scenarios):
    application = {**scenarios["food_ok"]["application"], "materials": ["application_form", "business_licence"]}
    status, body = submit(client, "food-licence", application)
    assert status == 200 and codes(body) == ["materials_missing"]
    missing = [m["code"] for m in body["missing_materials"]]
    assert missing == ["legal_rep_id", "premises_layout", "food_safety_rules"]
    assert body["reasons"][0]["materials"] == body["missing_materials"]
    assert "法定代表人身份证明" in body["reasons"][0]["message"]


def test_several_reasons_are_all_given(client, scenarios):
    application = {**scenarios["food_not_legal_rep"]["application"], "premises_area_m2": 12, "materials": []}
    _, body = submit(client, "food-licence", application)
    assert codes(body) == ["not_legal_representative", "premises_too_small_for_hot_food", "materials_missing"]


def test_unknown_applicant(client, scenarios):
    application = {**scenarios["food_ok"]["application"], "applicant_resident_id": "11010519491231002X"}
    _, body = submit(client, "food-licence", application)
    assert codes(body) == ["applicant_unknown"]


def test_licence_validity_is_judged_on_the_departments_day(store, scenarios):
    expired = scenarios["food_licence_expired"]
    [licence] = expired["licences"]
    before_expiry = date.fromisoformat(licence["valid_until"]) - timedelta(days=1)
    service = DepartmentService(store, SCOPES, today=before_expiry)
    status, body = submit(Client(service), "food-licence", expired["application"])
    assert status == 201 and body["decided_on"] == before_expiry.isoformat()


def test_invalid_applications_are_refused_with_each_problem(client, scenarios):
    application = {**scenarios["food_ok"]["application"], "credit_code": "91110108551385082A",
                   "business_categories": ["火锅"], "premises_area_m2": "big"}
    del application["premises_address"]
    response = client.post("/applications/food-licence", json=application)
    body = response.get_json()
    assert response.status_code == 422 and body["error"] == "invalid_request"
    assert set(body["problems"]) == {"credit_code", "business_categories", "premises_area_m2", "premises_address"}
    response = client.post("/applications/food-licence", data="not json", content_type="application/json")
    assert response.status_code == 422
    assert client.post("/applications/birth-certificate", json={}).get_json()["error"] == "unknown_item"


def _edited_sqlite_service(tmp_path, edit) -> DepartmentService:
    path = write_sqlite(CITIZENS_V1, 42, 100, tmp_path)
    with sqlite3.connect(path) as conn:
        edit(conn)
    conn.close()
    return DepartmentService.from_sqlite(path, SCOPES)


def test_business_without_licence_or_deregistered(tmp_path, scenarios):
    ok = scenarios["food_ok"]
    code = ok["business"]["credit_code"]

    def edit(conn):
        conn.execute("DELETE FROM licences WHERE holder_id = ?", (code,))
        data = json.loads(conn.execute("SELECT data FROM businesses WHERE credit_code = ?", (code,)).fetchone()[0])
        conn.execute("UPDATE businesses SET data = ? WHERE credit_code = ?",
                     (json.dumps({**data, "status": "deregistered"}, ensure_ascii=False), code))

    service = _edited_sqlite_service(tmp_path, edit)
    _, body = submit(Client(service), "food-licence", ok["application"])
    assert codes(body) == ["business_deregistered", "business_licence_missing"]


# ---- duplicates, cases, listeners -------------------------------------------------------------

def test_a_duplicate_submission_answers_the_existing_case(service, client, scenarios):
    first_status, first = submit(client, "food-licence", scenarios["food_ok"]["application"])
    again_status, again = submit(client, "food-licence", scenarios["food_ok"]["application"])
    assert (first_status, again_status) == (201, 200)
    assert again["case_number"] == first["case_number"] and again["duplicate"] is True and first["duplicate"] is False
    posts = [c for c in service.calls if c["method"] == "POST"]
    assert [c["duplicate"] for c in posts] == [False, True]
    assert len(service.cases) == 1
    assert client.get(f"/applications/{first['case_number']}").get_json()["submissions"] == 2


def test_case_numbers_are_deterministic_across_services(store, scenarios):
    numbers = [submit(Client(DepartmentService(store, SCOPES)), "food-licence",
                      scenarios["food_ok"]["application"])[1]["case_number"] for _ in range(2)]
    assert numbers[0] == numbers[1]


def test_rejected_resubmissions_get_new_case_numbers(client, scenarios):
    first = submit(client, "food-licence", scenarios["food_licence_expired"]["application"])[1]["case_number"]
    second = submit(client, "food-licence", scenarios["food_licence_expired"]["application"])[1]["case_number"]
    assert first.endswith("-R1") and second.endswith("-R2")


def test_case_status_can_be_read_back(client, scenarios):
    _, decision = submit(client, "social-security-card", scenarios["ssc_ok"]["application"])
    case = client.get(f"/applications/{decision['case_number']}").get_json()
    assert case["status"] == "accepted" and case["item_code"] == "social-security-card"
    assert case["applicant_resident_id"] == scenarios["ssc_ok"]["applicant"]["resident_id"]
    assert client.get("/applications/SP-20260701-00000000").status_code == 404


def test_listeners_learn_decisions_and_completions_but_not_duplicates(service, client, scenarios):
    seen = []
    service.on_decision(lambda case: seen.append((case["case_number"], case["status"])))
    _, accepted = submit(client, "food-licence", scenarios["food_ok"]["application"])
    submit(client, "food-licence", scenarios["food_ok"]["application"])
    _, rejected = submit(client, "food-licence", scenarios["food_licence_revoked"]["application"])
    service.complete(accepted["case_number"])
    assert seen == [(accepted["case_number"], "accepted"), (rejected["case_number"], "rejected"),
                    (accepted["case_number"], "completed")]
    with pytest.raises(ValueError, match="only accepted"):
        service.complete(rejected["case_number"])


def test_a_failing_listener_does_not_break_the_answer(service, client, scenarios):
    service.on_decision(lambda case: 1 / 0)
    assert submit(client, "food-licence", scenarios["food_ok"]["application"])[0] == 201


# ---- social-security card decisions -------------------------------------------------------------

@pytest.mark.parametrize("name", ["ssc_ok", "ssc_already_has_card", "ssc_not_insured", "ssc_minor"])
def test_ssc_scenarios_get_their_expected_decision(client, scenarios, name):
    status, body = submit(client, "social-security-card", scenarios[name]["application"])
    assert status == (201 if body["decision"] == "accepted" else 200)
    assert body["decision"] == scenarios[name]["expected"]["decision"]
    assert codes(body) == scenarios[name]["expected"]["reasons"]
    assert body["case_number"].startswith("SB-")


def test_a_minor_needs_their_own_guardian(client, scenarios):
    minor = scenarios["ssc_minor"]
    _, body = submit(client, "social-security-card", {**minor["application"], "guardian_resident_id": None})
    assert codes(body) == ["guardian_required"]
    stranger = scenarios["ssc_ok"]["applicant"]["resident_id"]
    _, body = submit(client, "social-security-card", {**minor["application"], "guardian_resident_id": stranger})
    assert codes(body) == ["guardian_mismatch"]
    application = copy.deepcopy(minor["application"])
    application["materials"].remove("household_register")
    _, body = submit(client, "social-security-card", application)
    assert [m["code"] for m in body["missing_materials"]] == ["household_register"]


def test_an_adult_does_not_need_the_minors_materials(client, scenarios):
    application = {**scenarios["ssc_ok"]["application"], "materials": ["application_form", "id_card"]}
    _, body = submit(client, "social-security-card", application)
    assert [m["code"] for m in body["missing_materials"]] == ["photo"]
