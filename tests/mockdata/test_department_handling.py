"""The simulated department handles a case over time like a real one, on a clock the test moves: accepted (已受理)
or not accepted (不予受理) within minutes, reviewed (审查中), concluded within the item's legal time limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.test import Client

from mockdata.service import ACCEPT_WITHIN, ITEMS, SCOPES, DepartmentService

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clocked(store):
    now = [T0]
    service = DepartmentService(store, SCOPES, clock=lambda: now[0])
    heard: list[dict] = []
    service.on_decision(heard.append)
    return service, now, heard


def submit(service, body) -> dict:
    return Client(service).post("/applications/food-licence", json=body).get_json()


def test_an_application_is_accepted_reviewed_and_granted_with_the_licence_number(clocked, scenarios):
    service, now, heard = clocked
    answer = submit(service, scenarios["food_ok"]["application"])
    number = answer["case_number"]
    assert [c["stage"] for c in heard] == ["submitted"], "the submission itself is only 已提交"
    assert service.advance() == [], "nothing happens in the same second"
    now[0] = T0 + ACCEPT_WITHIN
    assert [c["stage"] for c in service.advance()] == ["accepted", "under_review"]
    assert service.advance() == [], "a step happens once"
    now[0] = T0 + ACCEPT_WITHIN + timedelta(days=ITEMS["food-licence"].time_limit_days)
    (concluded,) = service.advance()
    assert concluded["stage"] == "concluded" and concluded["outcome"] == "granted"
    assert concluded["result"].startswith("JY") and len(concluded["result"]) == 16
    stages = [(s["stage"], s["at"]) for s in concluded["steps"]]
    assert [s for s, _ in stages] == ["submitted", "accepted", "under_review", "concluded"]
    assert [at for _, at in stages] == sorted(at for _, at in stages) and len({at for _, at in stages}) == 4
    case = Client(service).get(f"/applications/{number}").get_json()
    assert case["stage"] == "concluded" and "timing" not in case and "application" not in case


def test_incomplete_applications_are_not_accepted_and_refusals_come_after_review(clocked, scenarios):
    service, now, _heard = clocked
    incomplete = dict(scenarios["food_ok"]["application"], materials=[])
    submit(service, incomplete)
    submit(service, scenarios["food_licence_expired"]["application"])
    now[0] = T0 + timedelta(days=30)
    final = {c["case_number"]: c for c in service.advance()}
    by_stage = {c["stage"]: c for c in final.values()}
    assert by_stage["not_accepted"]["reasons"][0]["code"] == "materials_missing"
    refused = by_stage["concluded"]
    assert refused["outcome"] == "refused" and refused["result"] is None
    assert {r["code"] for r in refused["reasons"]} == {"business_licence_expired"}
