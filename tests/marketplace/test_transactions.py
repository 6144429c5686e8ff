from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.errors import Conflict, NotFound, Unauthenticated, ValidationError
from core.extensions import db
from core.time import utcnow
from tests.marketplace.citizen_world import *  # noqa: F403  (the `market` fixture)


def usage_events():
    from billing.models import UsageEvent

    return list(db.session.scalars(sa.select(UsageEvent)))


def test_opening_an_app_starts_one_case_and_reopening_returns_it(market):
    from marketplace.transactions import services

    citizen = market.citizens["citizen"]
    first = services.transaction_start(citizen, market.apps["a"].id)
    again = services.transaction_start(citizen, market.apps["a"].id)
    assert first.id == again.id
    assert first.status == "started" and first.case_number.startswith("GM")
    assert [e.kind for e in first.events] == ["started"]
    other = services.transaction_start(citizen, market.apps["b"].id)
    assert other.id != first.id


def test_only_citizens_start_cases_and_only_with_published_apps(market, world):
    from marketplace.accounts.models import User
    from marketplace.transactions import services

    with pytest.raises(NotFound):
        services.transaction_start(market.citizens["citizen"], market.apps["draft"].id)
    with pytest.raises(Unauthenticated):
        services.transaction_start(None, market.apps["a"].id)
    from core.errors import Forbidden

    with pytest.raises(Forbidden):
        services.transaction_start(db.session.get(User, world.ids["vendor_a"]), market.apps["a"].id)


def test_accepted_submission_completes_the_case_and_emits_exactly_one_usage_event(market):
    from marketplace.transactions import services

    citizen = market.citizens["citizen"]
    txn = services.transaction_start(citizen, market.apps["a"].id)
    when = utcnow()
    done = services.transaction_record_submission(txn.id, department_case_number="SP-1", decision="accepted",
                                                  reasons=[], occurred_at=when)
    assert done.status == "completed" and done.completed_at == when
    assert [e.kind for e in done.events] == ["started", "submitted", "completed"]
    # The same decision again (a gateway retry) changes nothing and meters nothing more.
    services.transaction_record_submission(txn.id, department_case_number="SP-1", decision="accepted",
                                           reasons=[], occurred_at=when)
    events = usage_events()
    assert len(events) == 1
    assert events[0].idempotency_key == f"transaction:{txn.id}"
    assert (events[0].app_id, events[0].order_id, events[0].transaction_ref) == (
        market.apps["a"].id, market.apps["a"].order_id, txn.case_number)
    # A new case for the same app starts after the completed one.
    assert services.transaction_start(citizen, market.apps["a"].id).id != txn.id


def test_rejected_submission_rejects_with_reasons_and_meters_nothing(market):
    from marketplace.transactions import services

    txn = services.transaction_start(market.citizens["citizen"], market.apps["a"].id)
    done = services.transaction_record_submission(txn.id, department_case_number="SP-2", decision="rejected",
                                                  reasons=["licence expired"], occurred_at=utcnow())
    assert done.status == "rejected" and done.decision_reasons == ["licence expired"]
    assert usage_events() == []


def test_a_decided_case_refuses_a_contradicting_or_second_decision(market):
    from marketplace.transactions import services

    txn = market.complete(market.citizens["citizen"], market.apps["a"], case="SP-3")
    with pytest.raises(Conflict):
        services.transaction_record_submission(txn.id, department_case_number="SP-3", decision="rejected")
    with pytest.raises(Conflict):
        services.transaction_record_submission(txn.id, department_case_number="SP-4", decision="accepted")
    with pytest.raises(ValidationError):
        services.transaction_record_submission(txn.id, department_case_number="", decision="accepted")
    with pytest.raises(ValidationError):
        services.transaction_record_submission(txn.id, department_case_number="X", decision="maybe")
    assert len(usage_events()) == 1


def test_citizens_see_only_their_own_cases(market, world):
    from marketplace.accounts.models import User
    from marketplace.transactions import services

    mine = services.transaction_start(market.citizens["citizen"], market.apps["a"].id)
    other = market.citizen("lisi")
    with pytest.raises(NotFound):
        services.transaction_get(other, mine.id)
    assert services.transaction_get(market.citizens["citizen"], mine.id).id == mine.id
    # The app's vendor and the order's department may follow it; another department may not.
    assert services.transaction_get(db.session.get(User, world.ids["vendor_a"]), mine.id)
    assert services.transaction_get(db.session.get(User, world.ids["staff_a"]), mine.id)
    with pytest.raises(NotFound):
        services.transaction_get(db.session.get(User, world.ids["staff_b"]), mine.id)
    todo = services.transaction_list_mine(market.citizens["citizen"], status="started")
    assert [t.id for t in todo.items] == [mine.id]
    assert services.transaction_list_mine(other).items == []


def test_failure_is_recorded_on_the_timeline(market):
    from marketplace.transactions import services

    txn = services.transaction_start(market.citizens["citizen"], market.apps["a"].id)
    failed = services.transaction_record_failure(txn.id, reason="app timed out",
                                                 occurred_at=utcnow() + timedelta(seconds=1))
    assert failed.status == "failed" and failed.events[-1].detail == {"reason": "app timed out"}
    with pytest.raises(Conflict):
        services.transaction_record_failure(txn.id, reason="again")


def test_an_imported_past_case_keeps_its_dates_and_its_usage_counts_in_its_own_quarter(market):
    """The demo seeder imports a past quarter: start and decision dated then, the usage event received then."""
    from billing.calendar import quarter_code_of
    from marketplace.transactions import services

    citizen = market.citizens["citizen"]
    opened = utcnow() - timedelta(days=120)
    decided = opened + timedelta(minutes=5)
    txn = services.transaction_start(citizen, market.apps["a"].id, occurred_at=opened)
    assert txn.started_at == opened and txn.case_number[2:10] == f"{opened:%Y%m%d}"
    services.transaction_record_submission(txn.id, department_case_number="SP-PAST", decision="accepted",
                                           occurred_at=decided, recorded_at=decided)
    [event] = usage_events()
    assert (event.quarter_code, event.settle_quarter_code, event.is_late) == (
        quarter_code_of(decided), quarter_code_of(decided), False)
    assert event.received_at == decided

    # Received today instead, the same decision would be paid late, in the current quarter.
    other = services.transaction_start(citizen, market.apps["b"].id, occurred_at=opened)
    services.transaction_record_submission(other.id, department_case_number="SP-PAST-2", decision="accepted",
                                           occurred_at=decided)
    late = next(e for e in usage_events() if e.transaction_ref == other.case_number)
    assert late.is_late and late.settle_quarter_code == quarter_code_of(utcnow())


def test_a_case_cannot_be_dated_in_the_future_or_without_a_timezone(market):
    from datetime import datetime

    from marketplace.transactions import services

    citizen = market.citizens["citizen"]
    with pytest.raises(ValidationError, match="future"):
        services.transaction_start(citizen, market.apps["a"].id, occurred_at=utcnow() + timedelta(hours=1))
    with pytest.raises(ValidationError, match="timezone"):
        services.transaction_start(citizen, market.apps["a"].id, occurred_at=datetime(2026, 8, 1, 10, 0))
