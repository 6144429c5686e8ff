"""The branches of the published formula, each through a real settlement (usage events in the database, a preview
and a posting): the allocation's zero-weight and tie branches, unrated apps, the minimum rating count for an
order's own mean, and apps rated exactly at the prior. docs/finance.md states each rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing import formula, services, settlement
from billing.calendar import GRACE_PERIOD, quarter_span
from billing.source import MultiplierPoint, RatingStats
from tests.billing.conftest import AFTER_Q3, DEFAULT_TABLE, FINANCE, Q3, record, usage_rows

ZERO_TABLE = (MultiplierPoint(Fraction(1), 0), MultiplierPoint(Fraction(5), 0))


def paid(preview, order_id: int = 1) -> dict[int, int]:
    return {line.app_id: line.amount for line in preview.orders[order_id].lines}


def posted(order_id: int = 1) -> dict[int, int]:
    services.settlement_post(FINANCE, Q3, now=AFTER_Q3)
    run = next(r for r in services.settlement_runs(FINANCE, Q3) if r.order_id == order_id)
    return {line.app_id: line.amount_fen for line in run.lines}


def test_apps_with_zero_weight_are_listed_and_paid_nothing(app_ctx, source):
    # Every multiplier 0: usage exists, the demand is 0, nothing is paid and nothing is posted to the vendors.
    source.add_order(1, fee=200, budget=10_000, table=ZERO_TABLE)
    source.add_app(11, 1, 101)
    source.add_app(12, 1, 102)
    record(usage_rows(1, 11, 101, 3) + usage_rows(1, 12, 102, 2))
    preview = services.settlement_preview(FINANCE, Q3)
    assert (preview.orders[1].demand, preview.orders[1].total) == (0, 0)
    assert paid(preview) == {11: 0, 12: 0}
    assert posted() == {11: 0, 12: 0}


def test_a_free_order_pays_nothing(app_ctx, source):
    source.add_order(1, fee=0, budget=10_000)
    source.add_app(11, 1, 101)
    record(usage_rows(1, 11, 101, 3))
    assert paid(services.settlement_preview(FINANCE, Q3)) == {11: 0}


def test_equal_remainders_go_first_to_the_app_with_more_transactions(app_ctx, source):
    # Unrated apps at the prior (×1): weights 1 × 100 and 3 × 100, capped at 10 fen → exact shares 2.5 and 7.5;
    # floors 2 + 7 leave one fen, the remainders tie at ½, and app 12 has more transactions. Lower id would pick 11.
    source.add_order(1, fee=100, budget=10)
    source.add_app(11, 1, 101)
    source.add_app(12, 1, 102)
    record(usage_rows(1, 11, 101, 1) + usage_rows(1, 12, 102, 3))
    preview = services.settlement_preview(FINANCE, Q3)
    assert preview.orders[1].capped
    assert paid(preview) == {11: 2, 12: 8}
    assert posted() == {11: 2, 12: 8}


def test_equal_remainders_and_transactions_go_to_the_lower_app_id(app_ctx, source):
    # Three equal apps share 10 fen: 3⅓ each, the leftover fen to the lowest app id.
    source.add_order(1, fee=100, budget=10)
    for app_id in (30, 10, 20):
        source.add_app(app_id, 1, 100 + app_id)
        record(usage_rows(1, app_id, 100 + app_id, 2))
    assert paid(services.settlement_preview(FINANCE, Q3)) == {10: 4, 20: 3, 30: 3}


def test_leftover_fen_go_to_the_largest_remainders_first(app_ctx, source):
    # Weights 1, 2, 4 (× 100 fen) capped at 10: exact 10/7, 20/7, 40/7 → floors 1, 2, 5, remainders 3/7, 6/7, 5/7;
    # two leftover fen to the apps with 6/7 and 5/7 (not to the one with the most transactions first).
    source.add_order(1, fee=100, budget=10)
    for app_id, count in ((11, 1), (12, 2), (13, 4)):
        source.add_app(app_id, 1, 100 + app_id)
        record(usage_rows(1, app_id, 100 + app_id, count))
    assert paid(services.settlement_preview(FINANCE, Q3)) == {11: 1, 12: 3, 13: 6}


def test_the_uncapped_total_rounds_half_to_even(app_ctx, source):
    # 49/12 stars → ×61/60; 3 × 10 fen × 61/60 = 30.5 fen, rounded half to even: 30 (half up would give 31).
    source.add_order(1, fee=10, budget=10_000)
    source.add_app(11, 1, 101)
    source.rate(11, 4, 18)
    record(usage_rows(1, 11, 101, 3))
    preview = services.settlement_preview(FINANCE, Q3)
    assert preview.orders[1].demand == Fraction(61, 2)
    assert (preview.orders[1].total, preview.orders[1].capped) == (30, False)


def test_an_unrated_app_is_paid_exactly_at_the_prior(app_ctx, source):
    # No ratings: the app's rating is the prior itself (4 → ×1.0), so 100 transactions × 200 fen = 20,000 fen exactly.
    source.add_order(1, fee=200, budget=10_000_000)
    source.add_app(11, 1, 101)
    record(usage_rows(1, 11, 101, 100))
    preview = services.settlement_preview(FINANCE, Q3)
    line = preview.orders[1].lines[0]
    assert (line.ratings, line.stars_sum, line.bayesian_rating, line.multiplier) == (0, 0, 4, 1)
    assert line.amount == 20_000


def test_an_order_with_exactly_the_minimum_rating_count_uses_its_own_mean(app_ctx, source):
    # 20 five-star ratings (the minimum): m = 5, so the rated app stands at (20 × 5 + 100) / 40 = 5 → ×1.2, and
    # the unrated one at the order's mean 5 too.
    assert formula.MIN_RATINGS_FOR_ORDER_MEAN == 20
    source.add_order(1, fee=100, budget=10_000_000)
    source.add_app(11, 1, 101)
    source.add_app(12, 1, 102)
    source.rate(11, 20, 100)
    record(usage_rows(1, 11, 101, 10) + usage_rows(1, 12, 102, 10))
    result = services.settlement_preview(FINANCE, Q3).orders[1]
    assert result.prior_mean == 5
    assert [(x.bayesian_rating, x.multiplier, x.amount) for x in result.lines] == [(5, Fraction(6, 5), 1200)] * 2


def test_an_order_one_rating_short_of_the_minimum_uses_the_default_prior(app_ctx, source):
    # 19 five-star ratings: m = 4 (the default), the rated app at (80 + 95) / 39 = 175/39 stars.
    source.add_order(1, fee=100, budget=10_000_000)
    source.add_app(11, 1, 101)
    source.add_app(12, 1, 102)
    source.rate(11, 19, 95)
    record(usage_rows(1, 11, 101, 10) + usage_rows(1, 12, 102, 10))
    result = services.settlement_preview(FINANCE, Q3).orders[1]
    assert result.prior_mean == 4
    rated, unrated = result.lines
    assert (rated.bayesian_rating, rated.multiplier) == (Fraction(175, 39), 1 + Fraction(19, 39) / 5)
    assert (unrated.bayesian_rating, unrated.multiplier, unrated.amount) == (4, 1, 1000)


def test_the_order_mean_counts_apps_without_usage(app_ctx, source):
    # App 13 has ratings but no transactions: its 20 one-star ratings still make the order's mean.
    source.add_order(1, fee=100, budget=10_000_000)
    source.add_app(11, 1, 101)
    source.add_app(13, 1, 103)
    source.rate(13, 20, 20)
    record(usage_rows(1, 11, 101, 10))
    result = services.settlement_preview(FINANCE, Q3).orders[1]
    assert result.prior_mean == 1
    assert [(x.app_id, x.bayesian_rating, x.multiplier, x.amount) for x in result.lines] == [(11, 1, Fraction(1, 2), 500)]


def test_an_app_rated_exactly_at_the_prior_keeps_the_prior(app_ctx, source):
    # 40 ratings averaging exactly 4.0: the order's own mean m is 4 (40 ≥ 20 ratings) and the app stays at 4 (×1).
    source.add_order(1, fee=100, budget=10_000_000)
    source.add_app(11, 1, 101)
    source.rate(11, 40, 160)
    record(usage_rows(1, 11, 101, 10))
    line = services.settlement_preview(FINANCE, Q3).orders[1].lines[0]
    assert (line.bayesian_rating, line.multiplier, line.amount) == (4, 1, 1000)


def test_allocation_refuses_what_cannot_be_split():
    with pytest.raises(ValueError, match="cannot allocate 5 fen over zero weights"):
        formula.allocate_largest_remainder(5, {1: Fraction(0), 2: Fraction(0)}, tiebreak=lambda k: (k,))
    with pytest.raises(ValueError, match="cannot allocate a negative total -1"):
        formula.allocate_largest_remainder(-1, {1: Fraction(1)}, tiebreak=lambda k: (k,))
    assert formula.allocate_largest_remainder(0, {1: Fraction(0), 2: Fraction(3)}, tiebreak=lambda k: (k,)) == {1: 0, 2: 0}
    assert formula.allocate_largest_remainder(7, {1: Fraction(0), 2: Fraction(3)}, tiebreak=lambda k: (k,)) == {1: 0, 2: 7}


# --- properties -----------------------------------------------------------------------------------------

# Fractions built from two integers: cheap to draw, so the shared CI machine never trips the slow-input check.
fractions = st.builds(Fraction, st.integers(0, 10**6), st.integers(1, 1000))
weights = st.dictionaries(st.integers(1, 50), fractions, min_size=1, max_size=12)


@settings(deadline=None)
@given(total=st.integers(0, 10**9), weights=weights)
def test_allocations_sum_to_the_total_and_are_never_negative(total, weights):
    if total and sum(weights.values()) == 0:
        with pytest.raises(ValueError):
            formula.allocate_largest_remainder(total, weights, tiebreak=lambda k: (k,))
        return
    parts = formula.allocate_largest_remainder(total, weights, tiebreak=lambda k: (k,))
    assert set(parts) == set(weights)
    assert sum(parts.values()) == total
    assert all(part >= 0 for part in parts.values())
    assert all(part == 0 for key, part in parts.items() if weights[key] == 0)


@st.composite
def snapshots(draw):
    apps = draw(st.lists(st.integers(1, 30), min_size=1, max_size=6, unique=True))
    usage = [[a, 100 + a, draw(st.integers(0, 500)), draw(st.integers(0, 20))] for a in sorted(apps)]
    ratings = []
    for a in sorted(apps):
        count = draw(st.integers(0, 40))
        if count:
            ratings.append([a, count, draw(st.integers(count, 5 * count)), [0, 0, 0, 0, 0]])
    order = {"order_id": 1, "department_id": 1, "currency": "CNY", "fee_fen": draw(st.integers(0, 1000)),
             "quarterly_budget_fen": draw(st.integers(0, 200_000)),
             "multiplier_table": [[str(p.stars), p.multiplier_bp] for p in DEFAULT_TABLE], "award_eligible": True}
    return {"kind": "order", "order": order, "usage": usage, "order_apps": sorted(apps), "ratings": ratings}


@settings(max_examples=60, deadline=None)
@given(snapshots())
def test_settling_the_same_snapshot_twice_gives_the_same_figures(snapshot):
    first = formula_bytes(snapshot)
    assert formula_bytes(snapshot) == first
    result = settlement.settle_order_snapshot(snapshot)
    assert sum(line.amount for line in result.lines) == result.total <= snapshot["order"]["quarterly_budget_fen"]
    assert all(line.amount >= 0 for line in result.lines)


def formula_bytes(snapshot) -> bytes:
    result = settlement.settle_order_snapshot(snapshot)
    return repr([(x.app_id, x.bayesian_rating, x.multiplier, x.exact_amount, x.amount) for x in result.lines]).encode()


def test_ratings_with_an_unknown_app_are_ignored_for_the_mean(app_ctx, source):
    # The rating statistics of an app of another order do not enter this order's mean.
    source.add_order(1, fee=100, budget=10_000_000)
    source.add_order(2, fee=100, budget=10_000_000)
    source.add_app(11, 1, 101)
    source.add_app(21, 2, 102)
    source.rate(21, 40, 40)
    record(usage_rows(1, 11, 101, 10))
    assert services.settlement_preview(FINANCE, Q3).orders[1].prior_mean == 4


def test_rating_stats_refuse_negative_counts():
    with pytest.raises(Exception, match="non-negative integer"):
        RatingStats(1, -1, 0)


def test_two_apps_of_one_vendor_in_one_order_are_paid_separately(app_ctx, source):
    source.add_order(1, fee=100, budget=10_000_000)
    source.add_app(11, 1, 101)
    source.add_app(12, 1, 101)
    record(usage_rows(1, 11, 101, 2) + usage_rows(1, 12, 101, 3))
    assert paid(services.settlement_preview(FINANCE, Q3)) == {11: 200, 12: 300}


def test_usage_of_an_app_no_longer_listed_under_its_order_keeps_its_facts(app_ctx, source):
    # App 12 earned in order 1, then its facts moved to another order: it is still paid in order 1 and its
    # certification date still breaks award ties.
    source.add_order(1, fee=100, budget=10_000_000)
    source.add_app(11, 1, 101)
    source.add_app(12, 1, 102, certified_at=datetime(2026, 2, 3, tzinfo=UTC))
    record(usage_rows(1, 11, 101, 1) + usage_rows(1, 12, 102, 2))
    source.add_app(12, 9, 102, certified_at=datetime(2026, 2, 3, tzinfo=UTC))
    preview = services.settlement_preview(FINANCE, Q3)
    assert paid(preview) == {11: 100, 12: 200}
    assert [c[0::6] for c in preview.awards_snapshot["candidates"]] == [[11, "2026-01-01T00:00:00+00:00"],
                                                                         [12, "2026-02-03T00:00:00+00:00"]]


def test_ratings_count_as_of_the_moment_they_froze_for_each_order(app_ctx, source):
    # Ratings count as they stood when the order's set froze: its posting, or the end of the grace period, or the
    # moment of a preview while neither has come. A posting of the same order in another quarter freezes nothing here.
    span = quarter_span(Q3)
    grace_ends = span.ends_at + GRACE_PERIOD
    source.add_order(1)
    source.add_order(2)
    source.add_app(11, 1, 101)
    source.add_app(21, 2, 201)
    source.add_app(91, 2, 901)
    record(usage_rows(1, 11, 101, 1) + usage_rows(2, 91, 901, 1))
    source.add_app(91, 9, 901)  # its usage stays in order 2; it is now listed under an order without terms
    services.settlement_post(FINANCE, "2026Q2", order_ids=[1], now=datetime(2026, 7, 2, tzinfo=UTC))

    def asked(now):
        source.rating_queries.clear()
        settlement.gather(span, now=now)
        return {app: (code, moment) for code, apps, moment in source.rating_queries for app in apps}

    assert asked(AFTER_Q3) == {11: (Q3, AFTER_Q3), 21: (Q3, AFTER_Q3), 91: (Q3, AFTER_Q3)}
    late = grace_ends + timedelta(days=3)
    assert asked(late) == {11: (Q3, grace_ends), 21: (Q3, grace_ends), 91: (Q3, grace_ends)}
    services.settlement_post(FINANCE, Q3, order_ids=[1], now=AFTER_Q3)
    assert asked(late) == {11: (Q3, AFTER_Q3), 21: (Q3, grace_ends), 91: (Q3, grace_ends)}
    assert settlement.ratings_frozen_at(span, [1, 2], late) == {1: AFTER_Q3, 2: grace_ends}
