"""Choosing an app: every published app for a service item side by side, with the facts a citizen compares."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

import sqlalchemy as sa

from billing.formula import bayesian_rating, order_prior_mean
from billing.source import RatingStats
from core.extensions import db
from marketplace.catalogue.models import ServiceItem
from marketplace.catalogue.services import service_item_get
from marketplace.citizen.models import AppStatistics
from marketplace.orders.models import Order
from marketplace.ratings.models import DIMENSIONS
from marketplace.vendors.models import App, AppVersion
from marketplace.vendors.services import (
    app_get_published_by_slug,
    certified_at_by_app,
    published_apps_query,
)


@dataclass(frozen=True)
class AppChoice:
    app: App
    version: AppVersion
    rating: AppRatingSummary
    completed: int
    median_handling_seconds: int | None
    certified_at: datetime | None
    citizen_scopes: list[str]

    @property
    def vendor(self):
        return self.app.vendor


def app_choice_by_slug(slug: str) -> AppChoice:
    """One published app's comparison facts by its address name (public). Raises NotFound for an unpublished app."""
    return _choices([app_get_published_by_slug(slug)])[0]


def item_apps(code_or_id: str | int) -> tuple[ServiceItem, list[AppChoice]]:
    """The service item and every published app for it, best rated first (Bayesian average, then completed
    cases, then name). Public. Raises NotFound for an unknown item."""
    item = service_item_get(code_or_id)
    apps = list(db.session.scalars(published_apps_query().where(Order.service_item_id == item.id)))
    choices = _choices(apps)
    choices.sort(key=lambda c: (-c.rating.bayesian, -c.completed, c.app.name, c.app.id))
    return item, choices


def _choices(apps: list[App]) -> list[AppChoice]:
    """The comparison facts of ``apps``, in a fixed number of queries whatever the number of apps, cases and
    ratings: the kept statistics of every app of their orders (the Bayesian prior m is the order's mean over
    all its apps, as billing computes it), the live versions and the certification dates."""
    if not apps:
        return []
    ids = [a.id for a in apps]
    order_app_ids: dict[int, list[int]] = {}
    statistics: dict[int, AppStatistics] = {}
    for app_id, order_id, row in db.session.execute(
            sa.select(App.id, App.order_id, AppStatistics)
            .outerjoin(AppStatistics, AppStatistics.app_id == App.id)
            .where(App.order_id.in_({a.order_id for a in apps}))):
        order_app_ids.setdefault(order_id, []).append(app_id)
        if row is not None:
            statistics[app_id] = row
    summaries = rating_summaries(ids, order_app_ids=order_app_ids, statistics=statistics)
    certified = certified_at_by_app(ids)
    versions = {}
    for version in db.session.scalars(sa.select(AppVersion).where(AppVersion.app_id.in_(ids), AppVersion.live())
                                      .order_by(AppVersion.id)):
        versions[version.app_id] = version
    choices = []
    for app in apps:
        row = statistics.get(app.id)
        choices.append(AppChoice(app, versions[app.id], summaries[app.id], row.completed if row else 0,
                                 row.median_handling_seconds if row else None, certified.get(app.id),
                                 list(app.order.citizen_scopes)))
    return choices


# --- figures for choosing an app -----------------------------------------------------------------------

@dataclass(frozen=True)
class AppRatingSummary:
    app_id: int
    count: int
    stars_sum: int
    distribution: tuple[int, int, int, int, int]
    bayesian: Fraction
    dimensions: dict[str, Fraction | None]

    @property
    def mean(self) -> Fraction | None:
        return Fraction(self.stars_sum, self.count) if self.count else None

    @property
    def bayesian_tenths(self) -> int:
        """The Bayesian average in tenths of a star, rounded half to even (for display)."""
        return round(self.bayesian * 10)


def rating_summaries(app_ids: list[int], *, order_app_ids: dict[int, list[int]] | None = None,
                     statistics: dict | None = None) -> dict[int, AppRatingSummary]:
    """Counted ratings of each app, all time: count, distribution, the Bayesian average with billing's
    formula (C = 20, m = the mean of the app's order, or 4.0 with too few ratings), dimension means — read from
    the kept statistics (``marketplace.citizen.statistics``), not from the ratings.

    ``order_app_ids`` maps each order to all its apps (for m); by default every app of the apps' orders.
    ``statistics`` ({app_id: AppStatistics}) saves reading them when the caller has them for those apps.
    """
    if not app_ids:
        return {}
    if order_app_ids is None:
        orders = sa.select(App.order_id).where(App.id.in_(app_ids)).scalar_subquery()
        order_app_ids = defaultdict(list)
        for app_id, order_id in db.session.execute(sa.select(App.id, App.order_id).where(App.order_id.in_(orders))):
            order_app_ids[order_id].append(app_id)
    app_order = {a: order_id for order_id, apps in order_app_ids.items() for a in apps}
    every_app = sorted(set(app_order) | set(app_ids))
    if statistics is None:
        statistics = {row.app_id: row for row in db.session.scalars(
            sa.select(AppStatistics).where(AppStatistics.app_id.in_(every_app)))}
    stats = {a: RatingStats(a, row.ratings, row.stars_sum, row.distribution)
             for a, row in statistics.items() if row.ratings}
    result = {}
    for app_id in app_ids:
        order_id = app_order.get(app_id)
        prior = order_prior_mean([stats[a] for a in order_app_ids.get(order_id, [app_id]) if a in stats])
        s = stats.get(app_id) or RatingStats(app_id, 0, 0)
        row = statistics.get(app_id)
        dimensions = {name: (Fraction(getattr(row, f"{name}_sum"), s.count) if s.count else None)
                      for name in DIMENSIONS}
        result[app_id] = AppRatingSummary(app_id, s.count, s.stars_sum, tuple(s.distribution),
                                          bayesian_rating(s.stars_sum, s.count, prior), dimensions)
    return result
