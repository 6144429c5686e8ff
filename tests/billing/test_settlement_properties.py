"""Properties of settlement over the real database: any ordering of the same events settles the same,
every posted entry balances, capped orders pay exactly their budget, and a preview of a settled quarter
reproduces the posted figures to the fen."""

import itertools
from collections import defaultdict
from datetime import timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing import services
from billing.calendar import quarter_span
from billing.models import JournalEntry, Posting
from core.extensions import db
from tests.billing.conftest import ADMIN, FINANCE

APPS = {11: (1, 101), 12: (1, 102), 13: (1, 103), 21: (2, 101), 22: (2, 104)}
_quarters = (f"{year}Q{q}" for year in itertools.count(2001) for q in range(1, 5))


def setup_market(source, budget_1: int, budget_2: int) -> None:
    source.order_terms.clear()
    source.add_order(1, department_id=10, fee=200, budget=budget_1)
    source.add_order(2, department_id=20, fee=150, budget=budget_2)
    for app_id, (order_id, vendor_id) in APPS.items():
        source.add_app(app_id, order_id, vendor_id)


def record_events(code: str, events: list[tuple[int, int]], ratings: dict, source) -> None:
    span = quarter_span(code)
    rows = []
    for n, (app_id, minute) in enumerate(events):
        order_id, vendor_id = APPS[app_id]
        rows.append({"idempotency_key": f"{code}-{app_id}-{minute}-{n}", "order_id": order_id, "app_id": app_id,
                     "vendor_id": vendor_id, "transaction_ref": f"{code}-{n}",
                     "occurred_at": span.starts_at + timedelta(minutes=minute)})
    for app_id, (count, stars) in ratings.items():
        source.rate(app_id, count, stars, quarter=code)
    services.usage_record_batch(ADMIN, rows, now=span.ends_at + timedelta(days=1))


def figures(preview) -> dict:
    return {oid: {(line.app_id, line.amount) for line in o.lines} for oid, o in preview.orders.items()}


events_strategy = st.lists(st.tuples(st.sampled_from(sorted(APPS)), st.integers(0, 60 * 24 * 80)), min_size=1,
                           max_size=120)
ratings_strategy = st.dictionaries(st.sampled_from(sorted(APPS)),
                                   st.integers(0, 60).flatmap(lambda n: st.tuples(st.just(n), st.integers(n, 5 * n))))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=events_strategy, ratings=ratings_strategy, budgets=st.tuples(st.integers(0, 50_000), st.integers(0, 50_000)),
       data=st.data())
def test_settlement_is_deterministic_balanced_and_reproducible(app_ctx, source, events, ratings, budgets, data):
    setup_market(source, *budgets)
    shuffled = data.draw(st.permutations(events))
    first, second = next(_quarters), next(_quarters)
    record_events(first, events, ratings, source)
    record_events(second, shuffled, ratings, source)
    preview_first = services.settlement_preview(FINANCE, first)
    assert figures(preview_first) == figures(services.settlement_preview(FINANCE, second))

    posted_at = quarter_span(first).ends_at + timedelta(days=11)
    services.settlement_post(FINANCE, first, now=posted_at)
    runs = {r.order_id: r for r in services.settlement_runs(FINANCE, first) if r.order_id}
    for order_id, result in preview_first.orders.items():
        run = runs[order_id]
        assert {(line.app_id, line.amount_fen) for line in run.lines} == {(x.app_id, x.amount) for x in result.lines}
        assert run.total_fen == sum(line.amount_fen for line in run.lines) <= run.budget_fen
        if run.capped:
            assert run.total_fen == run.budget_fen
    # A preview after posting (the quarter is settled) reproduces the posted figures to the fen.
    assert figures(services.settlement_preview(FINANCE, first)) == figures(preview_first)

    totals = defaultdict(int)
    for entry_id, currency, amount in db.session.execute(
            sa.select(Posting.entry_id, Posting.currency, Posting.amount).join(JournalEntry)
            .where(JournalEntry.quarter_code == first)):
        totals[(entry_id, currency)] += amount
    assert all(total == 0 for total in totals.values())
    assert services.ledger_verify(FINANCE).ok
