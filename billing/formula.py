"""The published settlement formula (docs/finance.md), as pure functions over exact numbers.

Ratings and multipliers are exact rationals (``fractions.Fraction``); money is integer fen and is
rounded exactly once per operation, by the rule named in ``ROUNDING_RULES`` (recorded with every run).
The award ranking uses a logarithm, which is irrational: it is computed with ``decimal`` at a fixed
precision (correctly rounded, so identical on every machine) and used for ranking only, never money.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction
from itertools import pairwise

from billing.source import MultiplierPoint, OrderTerms, RatingStats
from core.errors import ValidationError
from core.money import Money

FORMULA_VERSION = "govmarket-settlement-1"
PRIOR_WEIGHT = 20  # C: how many "virtual" ratings at the prior mean every app starts with
MIN_RATINGS_FOR_ORDER_MEAN = 20  # an order with fewer ratings in the quarter uses DEFAULT_PRIOR_MEAN
DEFAULT_PRIOR_MEAN = Fraction(4)
AWARD_MIN_COMPLETED = 100
AWARD_MIN_RATINGS = 30
AWARD_PRIZES_FEN = (10_000_000, 5_000_000, 3_000_000)  # 100,000 / 50,000 / 30,000 yuan
AWARD_SCORE_PRECISION = 50  # significant decimal digits of the award score
BP = 10_000  # basis points in ×1.0

ROUNDING_RULES = {
    "bayesian_rating": "EXACT_RATIONAL (no rounding)",
    "rating_multiplier": "EXACT_RATIONAL (linear interpolation between table points, clamped; no rounding)",
    "order_payout": (
        "LARGEST_REMAINDER_HALF_EVEN_TOTAL: total = min(budget, round_half_even(sum of exact amounts)); "
        "each app gets floor(total × exact_i / sum); leftover fen go one each to the largest remainders, "
        "ties by more completed transactions, then lower app id"
    ),
    "award_score": f"DECIMAL_{AWARD_SCORE_PRECISION}_HALF_EVEN (ranking only, never money)",
    "award_prize": "FIXED_PRIZES (integer fen, no rounding)",
}


def parameters() -> dict:
    """The parameters a run depends on, stored in its snapshot."""
    return {
        "formula_version": FORMULA_VERSION,
        "prior_weight": PRIOR_WEIGHT,
        "min_ratings_for_order_mean": MIN_RATINGS_FOR_ORDER_MEAN,
        "default_prior_mean": str(DEFAULT_PRIOR_MEAN),
        "award_min_completed": AWARD_MIN_COMPLETED,
        "award_min_ratings": AWARD_MIN_RATINGS,
        "award_prizes_fen": list(AWARD_PRIZES_FEN),
        "award_score_precision": AWARD_SCORE_PRECISION,
        "rounding_rules": dict(ROUNDING_RULES),
    }


# --- ratings -------------------------------------------------------------------------------------------

def order_prior_mean(stats: Sequence[RatingStats]) -> Fraction:
    """m: the order's mean star rating over the quarter, or DEFAULT_PRIOR_MEAN with too few ratings."""
    count = sum(s.count for s in stats)
    if count < MIN_RATINGS_FOR_ORDER_MEAN:
        return DEFAULT_PRIOR_MEAN
    return Fraction(sum(s.stars_sum for s in stats), count)


def bayesian_rating(stars_sum: int, count: int, prior_mean: Fraction, prior_weight: int = PRIOR_WEIGHT) -> Fraction:
    """(C·m + Σstars) / (C + n): ten five-star ratings do not beat a thousand 4.6s."""
    return (prior_weight * prior_mean + stars_sum) / (prior_weight + count)


def rating_multiplier(rating: Fraction, table: Sequence[MultiplierPoint]) -> Fraction:
    """The order's multiplier at ``rating`` (×1 = Fraction(1)): linear between points, flat outside."""
    points = list(table)
    if rating <= points[0].stars:
        return Fraction(points[0].multiplier_bp, BP)
    for low, high in pairwise(points):
        if rating <= high.stars:
            share = (rating - low.stars) / (high.stars - low.stars)
            return (low.multiplier_bp + share * (high.multiplier_bp - low.multiplier_bp)) / BP
    return Fraction(points[-1].multiplier_bp, BP)


def round_half_even(value: Fraction) -> int:
    return round(value)  # Fraction.__round__ rounds half to even, exactly


# --- allocation ----------------------------------------------------------------------------------------

def allocate_largest_remainder(
    total: int, weights: Mapping[Hashable, Fraction], tiebreak: Callable[[Hashable], tuple]
) -> dict[Hashable, int]:
    """Split ``total`` fen in proportion to ``weights`` (Hamilton's method): the parts sum to ``total``
    exactly. ``tiebreak(key)`` orders equal remainders (smaller first gets the fen)."""
    if total < 0:
        raise ValueError(f"cannot allocate a negative total {total}")
    weight_sum = sum(weights.values(), Fraction(0))
    if total == 0 or weight_sum == 0:
        if total and weight_sum == 0:
            raise ValueError(f"cannot allocate {total} fen over zero weights")
        return {key: 0 for key in weights}
    shares = {key: total * w / weight_sum for key, w in weights.items()}
    parts = {key: share.numerator // share.denominator for key, share in shares.items()}
    leftover = total - sum(parts.values())
    order = sorted(weights, key=lambda key: (-(shares[key] - parts[key]), tiebreak(key)))
    for key in order[:leftover]:
        parts[key] += 1
    return parts


# --- one order -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AppUsage:
    app_id: int
    vendor_id: int
    completed: int  # usage events of the quarter, flagged ones excluded
    late: int = 0  # events of earlier quarters received too late for their own run (adjustment)


@dataclass(frozen=True)
class PayoutLine:
    app_id: int
    vendor_id: int
    completed: int
    late: int
    ratings: int
    stars_sum: int
    bayesian_rating: Fraction
    multiplier: Fraction
    exact_amount: Fraction  # fen, before the budget cap and rounding
    amount: int  # fen paid


@dataclass(frozen=True)
class OrderSettlement:
    order_id: int
    department_id: int
    currency: str
    prior_mean: Fraction
    demand: Fraction  # exact fen the usage would earn without a cap
    budget: int
    total: int
    capped: bool
    lines: tuple[PayoutLine, ...]


def settle_order(terms: OrderTerms, usage: Sequence[AppUsage], ratings: Mapping[int, RatingStats],
                 order_rating_stats: Sequence[RatingStats]) -> OrderSettlement:
    """Usage × fee × rating multiplier per app, capped at the order's quarterly budget.

    ``ratings`` are the stats of the apps being paid; ``order_rating_stats`` those of every app of the
    order (they define the prior mean m).
    """
    prior = order_prior_mean(order_rating_stats)
    fee = terms.fee.minor
    rows = []
    for u in sorted(usage, key=lambda u: u.app_id):
        if u.completed < 0 or u.late < 0:
            raise ValidationError(f"app {u.app_id}: negative usage count")
        if u.completed + u.late == 0:
            continue
        stats = ratings.get(u.app_id) or RatingStats(u.app_id, 0, 0)
        rating = bayesian_rating(stats.stars_sum, stats.count, prior)
        multiplier = rating_multiplier(rating, terms.multiplier_table)
        rows.append((u, stats, rating, multiplier, (u.completed + u.late) * fee * multiplier))
    demand = sum((r[4] for r in rows), Fraction(0))
    budget = terms.quarterly_budget.minor
    total = min(budget, round_half_even(demand))
    by_app = {r[0].app_id: r for r in rows}
    amounts = allocate_largest_remainder(
        total, {app_id: r[4] for app_id, r in by_app.items()},
        tiebreak=lambda app_id: (-(by_app[app_id][0].completed + by_app[app_id][0].late), app_id),
    )
    lines = tuple(
        PayoutLine(u.app_id, u.vendor_id, u.completed, u.late, stats.count, stats.stars_sum, rating, multiplier,
                   exact, amounts[u.app_id])
        for u, stats, rating, multiplier, exact in rows
    )
    return OrderSettlement(terms.order_id, terms.department_id, terms.currency, prior, demand, budget, total,
                           demand > budget, lines)


# --- awards --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AwardCandidate:
    app_id: int
    vendor_id: int
    order_id: int
    completed: int
    ratings: int
    bayesian_rating: Fraction
    certified_at: datetime | None


@dataclass(frozen=True)
class Award:
    rank: int
    candidate: AwardCandidate
    score: Decimal
    prize: Money


def award_score(rating: Fraction, completed: int) -> Decimal:
    """bayesian_rating × ln(1 + completed), computed with 10 guard digits and rounded to
    AWARD_SCORE_PRECISION significant digits, so mathematically equal scores compare equal."""
    work = Context(prec=AWARD_SCORE_PRECISION + 10, rounding=ROUND_HALF_EVEN)
    ln = work.ln(Decimal(1 + completed))
    score = work.multiply(work.divide(Decimal(rating.numerator), Decimal(rating.denominator)), ln)
    return Context(prec=AWARD_SCORE_PRECISION, rounding=ROUND_HALF_EVEN).plus(score)


def award_eligible(candidate: AwardCandidate) -> bool:
    return candidate.completed >= AWARD_MIN_COMPLETED and candidate.ratings >= AWARD_MIN_RATINGS


def rank_awards(candidates: Sequence[AwardCandidate], currency: str) -> list[Award]:
    """The top three eligible apps across the platform; ties by more transactions, earlier certification,
    then lower app id (an app never certified sorts last among equals)."""
    def key(c: AwardCandidate):
        certified = (0, c.certified_at) if c.certified_at else (1, None)
        return (-award_score(c.bayesian_rating, c.completed), -c.completed, certified, c.app_id)

    eligible = sorted((c for c in candidates if award_eligible(c)), key=key)
    return [Award(rank, c, award_score(c.bayesian_rating, c.completed), Money(prize, currency))
            for rank, (c, prize) in enumerate(zip(eligible, AWARD_PRIZES_FEN, strict=False), start=1)]
