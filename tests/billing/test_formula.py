from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing import formula
from billing.source import MultiplierPoint, OrderTerms, RatingStats
from core.errors import ValidationError
from core.money import Money
from tests.billing.conftest import DEFAULT_TABLE


def test_ten_five_star_ratings_do_not_beat_a_thousand_four_point_sixes():
    prior = Fraction(4)
    few = formula.bayesian_rating(50, 10, prior)
    many = formula.bayesian_rating(4600, 1000, prior)
    assert few < many
    assert formula.bayesian_rating(0, 0, prior) == prior


def test_order_mean_is_the_prior_unless_too_few_ratings():
    assert formula.order_prior_mean([RatingStats(1, 19, 19 * 5)]) == Fraction(4)
    assert formula.order_prior_mean([RatingStats(1, 10, 50), RatingStats(2, 10, 30)]) == Fraction(80, 20)


@pytest.mark.parametrize(("rating", "expected"), [
    (Fraction(1), Fraction(1, 2)), (Fraction(0), Fraction(1, 2)), (Fraction(2), Fraction(65, 100)),
    (Fraction(3), Fraction(8, 10)), (Fraction(7, 2), Fraction(9, 10)), (Fraction(4), Fraction(1)),
    (Fraction(46, 10), Fraction(112, 100)), (Fraction(5), Fraction(12, 10)), (Fraction(6), Fraction(12, 10)),
])
def test_multiplier_is_linear_between_table_points_and_flat_outside(rating, expected):
    assert formula.rating_multiplier(rating, DEFAULT_TABLE) == expected


def test_floats_are_refused_in_the_multiplier_table_and_in_prices():
    with pytest.raises(ValidationError, match="float"):
        MultiplierPoint(4.5, 10000)
    with pytest.raises(ValidationError, match="integer number of basis points"):
        MultiplierPoint(Fraction(4), 1.0)
    with pytest.raises(TypeError, match="integer number of fen"):
        Money(2.0)
    with pytest.raises(ValidationError, match="must be Money"):
        OrderTerms(1, 1, 200, Money(1000), DEFAULT_TABLE)


# Positive fractions built from two integers: st.fractions().filter() is slow enough to trip the health check
# on the shared CI machine.
@settings(deadline=None)
@given(total=st.integers(0, 10**12),
       weights=st.lists(st.builds(Fraction, st.integers(1, 10**9), st.integers(1, 1000)), min_size=1, max_size=40))
def test_largest_remainder_allocations_sum_exactly_and_stay_within_one_fen(total, weights):
    keyed = dict(enumerate(weights))
    parts = formula.allocate_largest_remainder(total, keyed, tiebreak=lambda k: (k,))
    assert sum(parts.values()) == total
    weight_sum = sum(weights)
    for key, weight in keyed.items():
        exact = total * weight / weight_sum
        assert exact - 1 < parts[key] <= exact + 1


def test_equal_remainders_go_to_the_tiebreak_first():
    parts = formula.allocate_largest_remainder(10, {7: Fraction(1), 3: Fraction(1), 5: Fraction(1)},
                                               tiebreak=lambda k: (k,))
    assert parts == {3: 4, 5: 3, 7: 3}


@st.composite
def order_cases(draw):
    budget = draw(st.integers(0, 10**9))
    fee = draw(st.integers(0, 10**5))
    apps = draw(st.lists(st.tuples(st.integers(0, 10**5), st.integers(0, 500), st.integers(0, 4)),
                         min_size=1, max_size=12))
    usage = [formula.AppUsage(i + 1, 100 + i, completed, 0) for i, (completed, _, _) in enumerate(apps)]
    ratings = {i + 1: RatingStats(i + 1, n, n * (1 + extra)) for i, (_, n, extra) in enumerate(apps)}
    terms = OrderTerms(1, 1, Money(fee), Money(budget), DEFAULT_TABLE)
    return terms, usage, ratings


@given(order_cases())
def test_order_total_never_exceeds_budget_and_equals_it_when_capped(case):
    terms, usage, ratings = case
    result = formula.settle_order(terms, usage, ratings, list(ratings.values()))
    paid = sum(line.amount for line in result.lines)
    assert paid == result.total <= terms.quarterly_budget.minor
    if result.capped:
        assert paid == terms.quarterly_budget.minor
    else:
        assert paid == formula.round_half_even(result.demand)
    assert all(line.amount >= 0 for line in result.lines)


def candidate(app_id, completed=500, ratings=40, rating=Fraction(4), certified=datetime(2026, 1, 1, tzinfo=UTC)):
    return formula.AwardCandidate(app_id, 900 + app_id, 1, completed, ratings, rating, certified)


def test_awards_need_minimum_usage_and_ratings_and_rank_by_the_published_score():
    winners = formula.rank_awards([
        candidate(1, completed=99), candidate(2, ratings=29), candidate(3, completed=1000, rating=Fraction(9, 2)),
        candidate(4, completed=1000), candidate(5, completed=200, rating=Fraction(5)), candidate(6),
    ], "CNY")
    assert [w.candidate.app_id for w in winners] == [3, 4, 5]
    assert [w.prize.minor for w in winners] == [10_000_000, 5_000_000, 3_000_000]
    assert winners[0].score > winners[1].score > winners[2].score


def test_award_ties_break_by_transactions_then_certification_then_app_id():
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
    # Mathematically equal scores: 2 × ln(10201) = 4 × ln(101), since 10201 = 101².
    a = candidate(10, completed=100, rating=Fraction(4))
    b = candidate(11, completed=10200, rating=Fraction(2))
    assert formula.award_score(a.bayesian_rating, 100) == formula.award_score(b.bayesian_rating, 10200)
    assert [w.candidate.app_id for w in formula.rank_awards([a, b], "CNY")] == [11, 10]
    c = candidate(12, completed=500, certified=late)
    d = candidate(13, completed=500, certified=early)
    e = candidate(9, completed=500, certified=late)
    ranked = [w.candidate.app_id for w in formula.rank_awards([c, d, e], "CNY")]
    assert ranked == [13, 9, 12]


def test_an_order_whose_demand_equals_its_budget_is_not_capped():
    terms = OrderTerms(1, 1, Money(200), Money(1000), DEFAULT_TABLE)
    usage = [formula.AppUsage(1, 101, 5)]  # unrated at the prior 4: ×1, 5 × 200 = 1000 fen, exactly the budget
    exact = formula.settle_order(terms, usage, {}, [])
    assert (exact.demand, exact.total, exact.capped) == (1000, 1000, False)
    over = formula.settle_order(terms, [formula.AppUsage(1, 101, 6)], {}, [])
    assert (over.demand, over.total, over.capped) == (1200, 1000, True)


def test_prizes_are_paid_in_the_currency_asked_for():
    winners = formula.rank_awards([candidate(1), candidate(2, completed=600)], "EUR")
    assert [(w.rank, w.candidate.app_id, w.prize) for w in winners] == [
        (1, 2, Money(10_000_000, "EUR")), (2, 1, Money(5_000_000, "EUR"))]
