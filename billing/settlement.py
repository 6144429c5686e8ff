"""Settlement of a quarter: gathering its inputs, computing with the published formula, snapshots.

A snapshot is the complete input of one run (the order's terms, usage counts, rating statistics and
the formula's parameters) as canonical JSON; its sha256 is stored with the run, and ``recompute``
rebuilds the figures from the snapshot alone so anyone can check a posted run.

The ratings an order's settlement counts are those that counted at the moment its counted set froze
(``ratings_frozen_at``): when the quarter's grace period closes, or when the order's settlement was posted if
that came first. Moderation after that moment changes neither the posted run nor any later preview of the
quarter (it is an adjustment in the next quarter, docs/finance.md), so preview, posting and recompute agree.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

import sqlalchemy as sa

from billing import formula
from billing.calendar import GRACE_PERIOD
from billing.models import SettlementRun, UsageEvent
from billing.source import AppFacts, MultiplierPoint, OrderTerms, QuarterSpan, RatingStats, settlement_source
from core.extensions import db
from core.money import CURRENCY, Money
from core.time import utcnow


@dataclass
class QuarterInputs:
    span: QuarterSpan
    orders: dict[int, OrderTerms]
    usage: dict[int, list[formula.AppUsage]]  # order_id -> usage per app
    apps: dict[int, AppFacts]
    order_apps: dict[int, list[int]]  # order_id -> every app of the order (for its prior mean)
    ratings: dict[int, RatingStats]
    unpriced_usage: dict[int, int] = field(default_factory=dict)  # order_id -> events of orders without terms
    ratings_as_of: dict[int, datetime] = field(default_factory=dict)  # order_id -> when its counted ratings froze


def usage_counts(quarter_code: str, order_ids: list[int] | None = None) -> dict[int, list[formula.AppUsage]]:
    """Per order, per app: unflagged usage paid in this quarter, split into its own and late events."""
    t = UsageEvent.__table__
    late = sa.func.sum(sa.case((t.c.is_late, 1), else_=0))
    query = (sa.select(t.c.order_id, t.c.app_id, t.c.vendor_id, sa.func.count(), late)
             .where(t.c.settle_quarter_code == quarter_code, t.c.flagged_at.is_(None))
             .group_by(t.c.order_id, t.c.app_id, t.c.vendor_id))
    if order_ids is not None:
        query = query.where(t.c.order_id.in_(order_ids))
    usage: dict[int, list[formula.AppUsage]] = defaultdict(list)
    for order_id, app_id, vendor_id, count, late_count in db.session.execute(query):
        late_count = int(late_count or 0)
        usage[order_id].append(formula.AppUsage(app_id, vendor_id, int(count) - late_count, late_count))
    return usage


def ratings_frozen_at(span: QuarterSpan, order_ids, now: datetime) -> dict[int, datetime]:
    """Per order, the moment the quarter's counted ratings froze for it: the end of the grace period, or the
    posting of the order's settlement if earlier; ``now`` while neither has happened (a preview)."""
    grace_ends_at = span.ends_at + GRACE_PERIOD
    posted = dict(db.session.execute(
        sa.select(SettlementRun.order_id, SettlementRun.posted_at)
        .where(SettlementRun.quarter_code == span.code, SettlementRun.order_id.in_(list(order_ids)))).all())
    return {oid: min(grace_ends_at, posted.get(oid) or now) for oid in order_ids}


def gather(span: QuarterSpan, order_ids: list[int] | None = None, *, now: datetime | None = None) -> QuarterInputs:
    """Read everything a settlement of ``span`` depends on (no writes); ``now`` is the moment of the preview or
    the posting (the ratings of an order not yet posted and still in its grace period count as of then)."""
    now = now or utcnow()
    source = settlement_source()
    orders = {o.order_id: o for o in source.orders(span) if order_ids is None or o.order_id in order_ids}
    usage = usage_counts(span.code, None if order_ids is None else list(order_ids))
    unpriced = {oid: sum(u.completed + u.late for u in rows) for oid, rows in usage.items() if oid not in orders}
    usage = {oid: rows for oid, rows in usage.items() if oid in orders}
    apps = {a.app_id: a for a in source.apps_of_orders(sorted(orders))}
    seen = {u.app_id for rows in usage.values() for u in rows} - set(apps)
    if seen:
        apps.update(source.apps(sorted(seen)))
    order_apps: dict[int, list[int]] = defaultdict(list)
    for app in apps.values():
        if app.order_id in orders:
            order_apps[app.order_id].append(app.app_id)
    as_of = ratings_frozen_at(span, sorted(orders), now)
    apps_by_moment: dict[datetime, list[int]] = defaultdict(list)
    for app in apps.values():
        apps_by_moment[as_of.get(app.order_id, min(span.ends_at + GRACE_PERIOD, now))].append(app.app_id)
    ratings: dict[int, RatingStats] = {}
    for moment, app_ids in sorted(apps_by_moment.items()):
        ratings.update(source.rating_stats(span, sorted(app_ids), moment))
    return QuarterInputs(span, orders, usage, apps, {k: sorted(v) for k, v in order_apps.items()}, ratings, unpriced,
                         as_of)


# --- snapshots -----------------------------------------------------------------------------------------

def canonical_sha256(document: dict) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _terms_doc(t: OrderTerms) -> dict:
    return {"order_id": t.order_id, "department_id": t.department_id, "currency": t.currency,
            "fee_fen": t.fee.minor, "quarterly_budget_fen": t.quarterly_budget.minor,
            "multiplier_table": [[str(p.stars), p.multiplier_bp] for p in t.multiplier_table],
            "award_eligible": t.award_eligible, "title": t.title, "department_name": t.department_name}


def _terms_from(doc: dict) -> OrderTerms:
    return OrderTerms(doc["order_id"], doc["department_id"], Money(doc["fee_fen"], doc["currency"]),
                      Money(doc["quarterly_budget_fen"], doc["currency"]),
                      tuple(MultiplierPoint(Fraction(s), bp) for s, bp in doc["multiplier_table"]),
                      doc["award_eligible"], doc.get("title", ""), doc.get("department_name", ""))


def _ratings_doc(stats: RatingStats) -> list:
    return [stats.app_id, stats.count, stats.stars_sum, list(stats.distribution)]


def order_snapshot(inputs: QuarterInputs, order_id: int) -> dict:
    usage = sorted(inputs.usage.get(order_id, []), key=lambda u: (u.app_id, u.vendor_id))
    app_ids = sorted(set(inputs.order_apps.get(order_id, [])) | {u.app_id for u in usage})
    return {
        "kind": "order",
        "quarter": {"code": inputs.span.code, "starts_at": _iso(inputs.span.starts_at),
                    "ends_at": _iso(inputs.span.ends_at)},
        "parameters": formula.parameters(),
        "order": _terms_doc(inputs.orders[order_id]),
        "usage": [[u.app_id, u.vendor_id, u.completed, u.late] for u in usage],
        "order_apps": sorted(inputs.order_apps.get(order_id, [])),
        "ratings": [_ratings_doc(inputs.ratings[a]) for a in app_ids if a in inputs.ratings],
    }


def settle_order_snapshot(snapshot: dict) -> formula.OrderSettlement:
    """The order's settlement computed from its snapshot alone."""
    terms = _terms_from(snapshot["order"])
    usage = [formula.AppUsage(a, v, c, late) for a, v, c, late in snapshot["usage"]]
    ratings = {r[0]: RatingStats(r[0], r[1], r[2], tuple(r[3])) for r in snapshot["ratings"]}
    order_apps = set(snapshot["order_apps"])
    return formula.settle_order(terms, usage, ratings, [s for a, s in sorted(ratings.items()) if a in order_apps])


def award_candidates(inputs: QuarterInputs, settlements: dict[int, formula.OrderSettlement]) -> list:
    candidates = []
    for order_id, result in sorted(settlements.items()):
        if not inputs.orders[order_id].award_eligible:
            continue
        for line in result.lines:
            facts = inputs.apps.get(line.app_id)
            candidates.append(formula.AwardCandidate(
                line.app_id, line.vendor_id, order_id, line.completed, line.ratings, line.bayesian_rating,
                facts.certified_at if facts else None))
    return candidates


def awards_snapshot(inputs: QuarterInputs, candidates: list[formula.AwardCandidate]) -> dict:
    return {
        "kind": "awards",
        "quarter": {"code": inputs.span.code, "starts_at": _iso(inputs.span.starts_at),
                    "ends_at": _iso(inputs.span.ends_at)},
        "parameters": formula.parameters(),
        "currency": CURRENCY,
        "candidates": [[c.app_id, c.vendor_id, c.order_id, c.completed, c.ratings, str(c.bayesian_rating),
                        _iso(c.certified_at)] for c in sorted(candidates, key=lambda c: c.app_id)],
    }


def rank_awards_snapshot(snapshot: dict) -> list[formula.Award]:
    candidates = [formula.AwardCandidate(a, v, o, c, r, Fraction(b), datetime.fromisoformat(t) if t else None)
                  for a, v, o, c, r, b, t in snapshot["candidates"]]
    return formula.rank_awards(candidates, snapshot["currency"])


@dataclass
class QuarterPreview:
    span: QuarterSpan
    orders: dict[int, formula.OrderSettlement]
    order_snapshots: dict[int, dict]
    awards: list[formula.Award]
    awards_snapshot: dict
    inputs: QuarterInputs

    @property
    def total_fen(self) -> int:
        return sum(o.total for o in self.orders.values()) + sum(a.prize.minor for a in self.awards)


def compute(inputs: QuarterInputs) -> QuarterPreview:
    """Every order's settlement and the awards, each from its own snapshot (so preview = recompute)."""
    snapshots = {oid: order_snapshot(inputs, oid) for oid in sorted(inputs.orders)}
    settlements = {oid: settle_order_snapshot(snap) for oid, snap in snapshots.items()}
    candidates = award_candidates(inputs, settlements)
    award_snap = awards_snapshot(inputs, candidates)
    return QuarterPreview(inputs.span, settlements, snapshots, rank_awards_snapshot(award_snap), award_snap, inputs)
