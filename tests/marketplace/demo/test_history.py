"""The demo's case history carries the department's steps as the simulated department takes them: 已提交, then
已受理 and 审查中 before 已办结 with its result (or 不予许可 with the reason), or 不予受理 — each at its own time; a case
the department has not decided yet stays where it is."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from core.extensions import db
from core.time import utcnow


def test_department_steps_follow_the_departments_clock():
    from marketplace.demo.history import department_steps
    from mockdata.service import ACCEPT_WITHIN, ITEMS

    submitted = utcnow() - timedelta(days=60)
    steps, result = department_steps("food-licence", "SP-20260801-ABCDEF12", submitted, [], utcnow())
    assert [s for s, _ in steps] == ["submitted", "accepted", "under_review", "concluded"]
    times = [t for _, t in steps]
    assert times == sorted(times) and times[1] - submitted <= ACCEPT_WITHIN
    assert times[3] - times[1] <= timedelta(days=ITEMS["food-licence"].time_limit_days)
    assert result and result.startswith(ITEMS["food-licence"].result_prefix)
    not_accepted, none = department_steps("food-licence", "SP-1-R1", submitted, ["materials_missing"], utcnow())
    assert [s for s, _ in not_accepted] == ["submitted", "not_accepted"] and none is None
    refused, _ = department_steps("food-licence", "SP-2-R1", submitted, ["licence_revoked"], utcnow())
    assert [s for s, _ in refused][-1] == "concluded"
    # Not decided by the end: the steps taken so far.
    early, _ = department_steps("food-licence", "SP-20260801-ABCDEF12", submitted, [], times[2] + timedelta(seconds=1))
    assert [s for s, _ in early] == ["submitted", "accepted", "under_review"]


def test_seeded_cases_carry_the_departments_steps(app):
    from marketplace.accounts.models import User
    from marketplace.demo import history
    from marketplace.demo.base import seed_base, vendor_email
    from marketplace.demo.data import SAMPLE_APPS
    from marketplace.demo.timeline import timeline
    from marketplace.orders.models import Order
    from marketplace.transactions.models import Transaction
    from marketplace.vendors import services as vendors
    from tests.marketplace.citizen_world import publish

    when = timeline(utcnow())
    seed_base(when)
    apps = {}
    for sample in SAMPLE_APPS:
        if sample.share <= 0:
            continue
        member = db.session.scalar(sa.select(User).where(User.email == vendor_email(sample.vendor)))
        order = db.session.scalar(sa.select(Order).where(Order.slug == sample.order))
        apps[sample.folder] = vendors.app_create(member, order_id=order.id, name=sample.name, slug=sample.folder)
        publish(apps[sample.folder], when.past.starts_at - timedelta(days=1))
    plan = history.plan_quarter(history.serving_dataset(), when.past, when.now, apps, citizens=40,
                                exclude=history.cast_resident_ids(), seed="test")
    history.write_plan(plan, apps, lambda *_: None)

    def kinds(case) -> list[str]:
        txn = db.session.scalar(sa.select(Transaction).where(
            Transaction.department_case_number == case.department_case_number))
        return [e.kind for e in sorted(txn.events, key=lambda e: (e.occurred_at, e.id))], txn

    completed = [c for c in plan.cases if c.outcome == "completed"]
    assert completed
    for case in completed:
        seen, txn = kinds(case)
        assert seen == ["started", "submitted", "accepted", "under_review", "completed"], seen
        assert txn.result and txn.case_number and txn.accepted_at < txn.completed_at
    refused = [c for c in plan.cases if c.outcome == "rejected"]
    assert refused, "about one in ten applications is refused"
    for case in refused:
        seen, txn = kinds(case)
        assert seen in (["started", "submitted", "not_accepted"],
                        ["started", "submitted", "accepted", "under_review", "rejected"]), seen
        assert txn.decision_reasons
