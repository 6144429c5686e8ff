"""Cases mirror the department: each step the simulated department takes on its own clock lands in the citizen's
timeline with its time; refusals reach the case page and the to-do list; one case number, the department's."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from core.errors import Conflict
from core.extensions import db
from core.time import utcnow
from mockdata.service import SCOPES, DepartmentService
from tests.marketplace.citizen_world import *  # noqa: F403  (the `market` fixture)
from tests.marketplace.webpages import login, text


@pytest.fixture(scope="module")
def department_store():
    from mockdata.store import MemoryStore

    return MemoryStore("citizens-v1", 42, 300)


def handle(market, department_store, scenario: str, *, days: int, missed: int = 0):
    """Submit the scenario's application to a department on a clock, record what it says as the gateway does, and
    move the clock on by ``days``. Returns the citizen's case."""
    from werkzeug.test import Client

    from marketplace.gateway import services as gateway
    from marketplace.transactions import services as transactions

    now = [utcnow() - timedelta(days=days)]
    department = DepartmentService(department_store, SCOPES, clock=lambda: now[0])
    heard = []
    department.on_decision(heard.append)
    citizen = market.citizens["citizen"]
    txn = transactions.transaction_start(citizen, market.apps["a"].id, occurred_at=now[0] - timedelta(minutes=3))
    body = department_store.scenarios[scenario]["application"]
    Client(department).post("/applications/food-licence", json=body)
    (submitted,) = heard
    transactions.transaction_record_department_step(txn.id, department_case_number=submitted["case_number"],
                                                    step="submitted", occurred_at=now[0])
    now[0] = utcnow()
    notices = department.advance()
    for notice in notices[missed:]:  # ``missed``: the first notices never reached the platform
        gateway.department_decision_record(market.apps["a"].id, notice)
    return db.session.get(type(txn), txn.id), submitted["case_number"]


def test_a_granted_case_shows_every_step_with_its_time_and_the_result(market, department_store):
    case, _number = handle(market, department_store, "food_ok", days=25)
    assert case.status == "completed" and case.result.startswith("JY")
    kinds = [(e.kind, e.occurred_at) for e in case.events]
    assert [k for k, _ in kinds] == ["started", "submitted", "accepted", "under_review", "completed"]
    assert [t for _, t in kinds] == sorted(t for _, t in kinds) and len({t for _, t in kinds}) == 5
    assert case.completed_at - case.submitted_at <= timedelta(days=20, minutes=31)  # within the legal limit


def test_a_missed_notice_is_caught_up_by_the_next_with_the_departments_times(market, department_store):
    """At a fast pace (demos, test stacks) the acceptance can be sent while the submission is still being recorded,
    and is lost; the conclusion, which lists every step, records the missing ones first."""
    case, _number = handle(market, department_store, "food_ok", days=25, missed=2)
    assert case.status == "completed"
    kinds = [(e.kind, e.occurred_at) for e in case.events]
    assert [k for k, _ in kinds] == ["started", "submitted", "accepted", "under_review", "completed"]
    assert [t for _, t in kinds] == sorted(t for _, t in kinds) and len({t for _, t in kinds}) == 5


def test_a_refusal_reaches_the_case_page_and_the_to_do_list(client, market, department_store):
    case, number = handle(market, department_store, "food_licence_expired", days=25)
    assert case.status == "rejected" and "营业执照" in case.decision_reasons[0]
    login(client, "citizen")
    page = text(client.get(f"/my/cases/{case.case_number}?lang=zh_CN"))
    assert 'id="case-reasons"' in page and case.decision_reasons[0] in page
    shown = re.sub(r'(href|action)="[^"]*"', "", page)  # the platform's reference stays in links, never shown
    assert number in shown and case.case_number not in shown
    todo = text(client.get("/my/todo"))
    refused = todo[todo.index('id="todo-refused"'):]
    assert case.decision_reasons[0] in refused
    assert case.case_number not in todo[todo.index('id="todo-started"'):todo.index("</ul>", todo.index('id="todo-started"'))]


def test_not_accepted_and_the_steps_in_order(market, department_store):
    from marketplace.transactions import services as transactions

    incomplete = dict(department_store.scenarios["food_ok"]["application"], materials=[])
    department_store.scenarios["food_incomplete_for_test"] = {"application": incomplete}
    try:
        case, number = handle(market, department_store, "food_incomplete_for_test", days=1)
    finally:
        del department_store.scenarios["food_incomplete_for_test"]
    assert case.status == "not_accepted" and "缺少申请材料" in case.decision_reasons[0]
    assert [e.kind for e in case.events] == ["started", "submitted", "not_accepted"]
    with pytest.raises(Conflict):  # nothing comes after 不予受理
        transactions.transaction_record_department_step(case.id, department_case_number=number, step="accepted",
                                                        occurred_at=utcnow())
