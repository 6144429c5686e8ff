from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from billing import services
from billing.models import JournalEntry, SettlementRun, UsageEvent
from core.errors import Conflict, Forbidden, ValidationError
from core.extensions import db
from tests.billing.conftest import ADMIN, AFTER_Q3, AUDITOR, FINANCE, IN_Q3, Q3, Actor, record, usage_rows


@pytest.fixture
def market(source):
    source.add_order(1, department_id=10, fee=200, budget=10_000_000)
    source.add_order(2, department_id=20, fee=150, budget=30_000)
    source.add_app(11, 1, 101)
    source.add_app(12, 1, 102)
    source.add_app(21, 2, 101)
    source.add_app(22, 2, 104)
    source.rate(11, 40, 184)
    source.rate(12, 5, 25)
    source.rate(21, 30, 120)
    return source


def count_events():
    return db.session.scalar(sa.select(sa.func.count()).select_from(UsageEvent))


def test_batch_answers_per_record_and_counts_a_duplicate_once(app_ctx, market):
    rows = usage_rows(1, 11, 101, 3)
    rows.append(dict(rows[0]))  # a retry inside the batch
    rows.append({**rows[1], "order_id": 2.0})
    rows.append({**usage_rows(1, 12, 101, 1, prefix="x")[0]})  # wrong vendor
    results = record(rows)
    assert [r.status for r in results] == ["accepted", "accepted", "accepted", "duplicate", "rejected", "rejected"]
    assert "positive integer" in results[4].reason and "float" in results[4].reason
    assert "belongs to order 1 and vendor 102" in results[5].reason
    again = record(usage_rows(1, 11, 101, 3))
    assert [r.status for r in again] == ["duplicate"] * 3
    assert count_events() == 3


def test_a_partly_retried_batch_counts_only_its_new_records(app_ctx, market):
    # PostgreSQL: the batch's COPY fails on the first key recorded before (after 1,200 new rows have gone in) and
    # is rolled back to its savepoint; the rows then go in through the staging table, per key.
    old = record(usage_rows(1, 11, 101, 3), now=AFTER_Q3)
    assert {(r.status, r.settle_quarter, r.late) for r in old} == {("accepted", Q3, False)}
    after_grace = datetime(2026, 10, 20, tzinfo=UTC)
    new = usage_rows(1, 12, 102, 1200, prefix="new")
    retried = usage_rows(1, 11, 101, 3)
    retried[2] = {**retried[2], "transaction_ref": "someone-else"}
    results = record(new + retried, now=after_grace)
    assert [r.status for r in results] == ["accepted"] * 1200 + ["duplicate", "duplicate", "rejected"]
    assert {(r.settle_quarter, r.late) for r in results[:1200]} == {("2026Q4", True)}
    assert (results[1200].settle_quarter, results[1200].late) == (Q3, False)  # as it was recorded
    assert "different transaction" in results[1202].reason
    assert [r.index for r in results] == list(range(1203))
    assert count_events() == 1203
    assert db.session.scalar(sa.select(UsageEvent.transaction_ref).where(UsageEvent.idempotency_key == "1-11-2")) \
        == "T11-2"


def test_a_batch_of_only_recorded_keys_writes_nothing_new(app_ctx, market):
    record(usage_rows(1, 11, 101, 5))
    again = record(list(reversed(usage_rows(1, 11, 101, 5))))
    assert [(r.status, r.settle_quarter) for r in again] == [("duplicate", Q3)] * 5
    assert count_events() == 5


def test_a_reused_key_for_another_transaction_is_rejected_not_merged(app_ctx, market):
    record(usage_rows(1, 11, 101, 1))
    other = {**usage_rows(1, 11, 101, 1)[0], "transaction_ref": "someone-else"}
    assert record([other])[0].status == "rejected"


def test_future_and_naive_times_are_rejected(app_ctx, market):
    row = usage_rows(1, 11, 101, 1)[0]
    future = record([{**row, "occurred_at": AFTER_Q3 + timedelta(days=1)}])[0]
    naive = record([{**row, "occurred_at": datetime(2026, 8, 1)}])[0]
    assert future.status == naive.status == "rejected"
    assert "future" in future.reason and "timezone" in naive.reason


def test_vendors_cannot_report_usage(app_ctx, market):
    with pytest.raises(Forbidden):
        services.usage_record_batch(Actor("vendor_member", vendor_id=101), usage_rows(1, 11, 101, 1), now=AFTER_Q3)


def test_late_events_inside_grace_count_and_later_ones_go_to_the_next_run(app_ctx, market):
    inside = record(usage_rows(1, 11, 101, 2), now=AFTER_Q3)
    assert {(r.settle_quarter, r.late) for r in inside} == {(Q3, False)}
    after_grace = datetime(2026, 10, 20, tzinfo=UTC)
    late = record(usage_rows(1, 11, 101, 1, prefix="late"), now=after_grace)
    assert (late[0].settle_quarter, late[0].late) == ("2026Q4", True)
    q4 = services.settlement_preview(FINANCE, "2026Q4")
    line = q4.orders[1].lines[0]
    assert (line.completed, line.late) == (0, 1)


def test_events_arriving_after_their_order_was_posted_are_adjustments(app_ctx, market):
    record(usage_rows(1, 11, 101, 5))
    services.settlement_post(FINANCE, Q3, order_ids=[1], now=AFTER_Q3)
    late = record(usage_rows(1, 11, 101, 1, prefix="after"), now=AFTER_Q3 + timedelta(hours=1))
    assert (late[0].settle_quarter, late[0].late) == ("2026Q4", True)
    other_order = record(usage_rows(2, 21, 101, 1), now=AFTER_Q3 + timedelta(hours=1))
    assert (other_order[0].settle_quarter, other_order[0].late) == (Q3, False)


def test_preview_changes_nothing_and_post_is_idempotent(app_ctx, market):
    record(usage_rows(1, 11, 101, 50) + usage_rows(1, 12, 102, 10) + usage_rows(2, 21, 101, 200)
           + usage_rows(2, 22, 104, 20))
    before = (db.session.scalar(sa.select(sa.func.count()).select_from(JournalEntry)),
              db.session.scalar(sa.select(sa.func.count()).select_from(SettlementRun)))
    preview = services.settlement_preview(FINANCE, Q3)
    assert (db.session.scalar(sa.select(sa.func.count()).select_from(JournalEntry)),
            db.session.scalar(sa.select(sa.func.count()).select_from(SettlementRun))) == before == (0, 0)
    assert preview.orders[2].capped and preview.orders[2].total == 30_000
    first = services.settlement_post(FINANCE, Q3, now=AFTER_Q3)
    assert first.settled and len(first.posted) == 3 and not first.already_posted
    second = services.settlement_post(FINANCE, Q3, now=AFTER_Q3)
    assert second.posted == [] and sorted(second.already_posted) == sorted(first.posted)
    runs = services.settlement_runs(AUDITOR, Q3)
    by_order = {r.order_id: r for r in runs}
    assert by_order[2].total_fen == 30_000
    assert by_order[1].total_fen == preview.orders[1].total
    for run in runs:
        assert services.settlement_recompute(AUDITOR, run.id).figures_match
    assert services.ledger_verify(AUDITOR).ok


def test_flagged_usage_is_not_paid_and_cannot_be_flagged_after_posting(app_ctx, market):
    record(usage_rows(1, 11, 101, 10))
    services.usage_flag(FINANCE, ["1-11-0", "1-11-1"], "bot traffic from one address")
    assert services.settlement_preview(FINANCE, Q3).orders[1].lines[0].completed == 8
    services.settlement_post(FINANCE, Q3, now=AFTER_Q3)
    with pytest.raises(Conflict, match="already paid"):
        services.usage_flag(FINANCE, ["1-11-2"], "too late")


def test_an_open_quarter_cannot_be_settled_and_a_closed_one_never_changes(app_ctx, market):
    record(usage_rows(1, 11, 101, 3))
    with pytest.raises(Conflict, match="still open"):
        services.settlement_post(FINANCE, Q3, now=IN_Q3 + timedelta(days=1))
    with pytest.raises(Conflict, match="not settled"):
        services.quarter_close(FINANCE, Q3, now=AFTER_Q3)
    services.settlement_post(FINANCE, Q3, now=AFTER_Q3)
    assert services.quarter_close(FINANCE, Q3, now=AFTER_Q3).status == "closed"
    with pytest.raises(Conflict, match="closed"):
        services.settlement_post(FINANCE, Q3, order_ids=[1], now=AFTER_Q3)
    with pytest.raises(sa.exc.DBAPIError, match="closed"):
        db.session.execute(sa.update(UsageEvent).values(flagged_at=AFTER_Q3))
    db.session.rollback()


def test_only_finance_previews_and_posts_and_auditors_read(app_ctx, market):
    for actor in (AUDITOR, ADMIN, Actor("vendor_member", vendor_id=101)):
        with pytest.raises(Forbidden):
            services.settlement_preview(actor, Q3)
        with pytest.raises(Forbidden):
            services.settlement_post(actor, Q3, now=AFTER_Q3)
    assert services.ledger_verify(AUDITOR).ok
    services.ledger_trial_balance(AUDITOR)


def test_vendors_see_only_their_own_statement(app_ctx, market):
    record(usage_rows(1, 11, 101, 10) + usage_rows(2, 22, 104, 10))
    services.settlement_post(FINANCE, Q3, now=AFTER_Q3)
    mine = services.vendor_statement(Actor("vendor_member", vendor_id=101), 101, Q3)
    assert mine.balance.minor == sum(line.amount_fen for line in mine.lines) > 0
    with pytest.raises(Forbidden, match="only your own"):
        services.vendor_statement(Actor("vendor_member", vendor_id=101), 104, Q3)


def test_reversal_links_the_original_with_a_reason_and_keeps_the_chain(app_ctx, market):
    record(usage_rows(1, 11, 101, 10))
    services.settlement_post(FINANCE, Q3, now=AFTER_Q3)
    entry = db.session.scalar(sa.select(JournalEntry).where(JournalEntry.kind == "settlement"))
    with pytest.raises(ValidationError, match="reason"):
        services.ledger_reverse(FINANCE, entry.id, " ")
    reversal = services.ledger_reverse(FINANCE, entry.id, "paid to the wrong vendor",
                                       now=AFTER_Q3 + timedelta(days=30))
    assert reversal.reverses_entry_id == entry.id and reversal.quarter_code == "2026Q4"
    assert sorted(p.amount for p in reversal.postings) == sorted(-p.amount for p in entry.postings)
    with pytest.raises(Conflict, match="already reversed"):
        services.ledger_reverse(FINANCE, entry.id, "again")
    assert services.ledger_verify(AUDITOR).ok
    balances = services.ledger_trial_balance(AUDITOR)
    assert sum(row.balance for row in balances) == 0


def test_money_boundaries_refuse_floats(app_ctx, market):
    from billing import ledger

    treasury = ledger.account(ledger.TREASURY, "CNY")
    pool = ledger.account(ledger.AWARD_POOL, "CNY")
    with pytest.raises(ValidationError, match="integer number of fen"):
        ledger.entry_append(quarter_code=Q3, kind="adjustment", memo="x", created_by="t",
                            postings=[ledger.PostingSpec(treasury, 100.0), ledger.PostingSpec(pool, -100)])
    with pytest.raises(ValidationError, match="sum to zero"):
        ledger.entry_append(quarter_code=Q3, kind="adjustment", memo="x", created_by="t",
                            postings=[ledger.PostingSpec(treasury, 100), ledger.PostingSpec(pool, -99)])
    with pytest.raises(ValidationError, match="positive integer id"):
        services.usage_record(ADMIN, idempotency_key="f", order_id=1.0, app_id=11, vendor_id=101,
                              transaction_ref="T", occurred_at=IN_Q3, now=AFTER_Q3)
