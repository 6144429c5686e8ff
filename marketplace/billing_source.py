"""The marketplace's implementation of billing's ``SettlementSource``: orders' price terms, app facts and
rating statistics read from the marketplace tables. Plugged in by ``create_app``."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from fractions import Fraction

import sqlalchemy as sa

from billing.source import AppFacts, MultiplierPoint, OrderTerms, QuarterSpan, RatingStats
from core.extensions import db
from core.money import Money
from marketplace.catalogue.models import Department
from marketplace.orders.models import Order
from marketplace.ratings.models import Rating, counted_ratings
from marketplace.vendors.models import App, AppVersion, Vendor
from marketplace.vendors.services import certified_at_by_app


def multiplier_points(table: Sequence[Sequence[int]]) -> tuple[MultiplierPoint, ...]:
    """An order's ``rating_multipliers`` ([[stars×10, basis points], …]) as billing's exact points."""
    return tuple(MultiplierPoint(Fraction(int(tenths), 10), int(bp)) for tenths, bp in sorted(table))


def order_terms(order: Order, department_name: str = "") -> OrderTerms:
    return OrderTerms(order.id, order.department_id, Money(order.fee_per_transaction_fen, order.currency),
                      Money(order.quarterly_budget_fen, order.currency), multiplier_points(order.rating_multipliers),
                      order.award_eligible, order.title, department_name)


class MarketplaceSettlementSource:
    """Deterministic for a quarter and a moment: rating figures are read as of the moment billing froze the
    quarter's counted set; a rating can no longer be edited then (7 days after it was given, within the 10-day
    grace period), and a hiding after that moment does not change them."""

    def orders(self, span: QuarterSpan) -> Sequence[OrderTerms]:
        """Orders published before the quarter ended and not archived before it began."""
        rows = db.session.execute(
            sa.select(Order, Department.name).join(Department, Order.department_id == Department.id)
            .where(Order.published_at.is_not(None), Order.published_at < span.ends_at,
                   sa.or_(Order.archived_at.is_(None), Order.archived_at >= span.starts_at))
            .order_by(Order.id))
        return [order_terms(order, dept_name) for order, dept_name in rows]

    def _facts(self, query) -> list[AppFacts]:
        rows = db.session.execute(query.add_columns(Vendor.name).join(Vendor, App.vendor_id == Vendor.id)
                                  .order_by(App.id)).all()
        certified = certified_at_by_app([app.id for app, _ in rows])
        return [AppFacts(app.id, app.vendor_id, app.order_id, certified.get(app.id), app.name, vendor_name)
                for app, vendor_name in rows]

    def apps(self, app_ids: Collection[int]) -> Mapping[int, AppFacts]:
        if not app_ids:
            return {}
        return {f.app_id: f for f in self._facts(sa.select(App).where(App.id.in_(list(app_ids))))}

    def apps_of_orders(self, order_ids: Collection[int]) -> Sequence[AppFacts]:
        if not order_ids:
            return []
        published = sa.select(AppVersion.id).where(AppVersion.app_id == App.id, AppVersion.published_at.is_not(None))
        return self._facts(sa.select(App).where(App.order_id.in_(list(order_ids)), published.exists()))

    def rating_stats(self, span: QuarterSpan, app_ids: Collection[int], as_of: datetime) -> Mapping[int, RatingStats]:
        if not app_ids:
            return {}
        # A re-rating after ``as_of`` does not change what counted then: the level before it does.
        stars = sa.case((sa.and_(Rating.rerated_at.is_not(None), Rating.rerated_at >= as_of), Rating.first_stars),
                        else_=Rating.stars)
        rows = db.session.execute(
            sa.select(Rating.app_id, stars, sa.func.count())
            .where(Rating.app_id.in_(list(app_ids)), Rating.created_at >= span.starts_at,
                   Rating.created_at < span.ends_at, counted_ratings(as_of))
            .group_by(Rating.app_id, stars))
        distribution: dict[int, list[int]] = {}
        for app_id, stars, count in rows:
            distribution.setdefault(app_id, [0, 0, 0, 0, 0])[stars - 1] += int(count)
        return {app_id: RatingStats(app_id, sum(d), sum((i + 1) * c for i, c in enumerate(d)), tuple(d))
                for app_id, d in sorted(distribution.items())}

    def rating_exclusions(self, span: QuarterSpan, app_ids: Collection[int]) -> Mapping[int, tuple[int, int]]:
        """Per app, of the ratings given during ``span``, as they stand now: (hidden by a moderator — not counted,
        awaiting review — still counted). Published with the quarter's dataset next to the counted ones."""
        if not app_ids:
            return {}
        hidden = sa.func.sum(sa.case((Rating.hidden_at.is_not(None), 1), else_=0))
        review = sa.func.sum(sa.case((sa.and_(Rating.hidden_at.is_(None), Rating.under_review.is_(True)), 1), else_=0))
        rows = db.session.execute(
            sa.select(Rating.app_id, hidden, review)
            .where(Rating.app_id.in_(list(app_ids)), Rating.created_at >= span.starts_at,
                   Rating.created_at < span.ends_at)
            .group_by(Rating.app_id))
        return {app_id: (int(h or 0), int(r or 0)) for app_id, h, r in rows}

