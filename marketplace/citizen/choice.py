"""Choosing an app: every published app for a service item side by side, with the facts a citizen compares.

The order of the comparison is the rule the page states under the list (``citizen/item.html``, docs/citizens.md):

1. apps with at least ``RATINGS_MIN_SHOWN`` (default 10) counted ratings, by the **lower bound of their rating**
   — the mean of their own stars minus 1.96 standard errors (95 % confidence), so that a few ratings count for
   less than many — then by completed cases;
2. then apps with fewer ratings ("评价不足": no star value is shown for them), by completed cases.

Nothing of the order's Bayesian prior enters the order: the prior alone never lifts an app with few ratings above
one with enough. The Bayesian average stays what billing pays on, shown only from the minimum count.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from math import sqrt

import sqlalchemy as sa
from flask import current_app

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

DEFAULT_MIN_SHOWN = 10
CONFIDENCE_Z = 1.96  # 95 % two-sided normal quantile


def min_ratings_shown() -> int:
    """The configured minimum of counted ratings before an app shows a star value (``RATINGS_MIN_SHOWN``)."""
    return int(current_app.config.get("RATINGS_MIN_SHOWN", DEFAULT_MIN_SHOWN))


def rating_lower_bound(distribution: tuple[int, ...]) -> float | None:
    """The mean of the stars minus ``CONFIDENCE_Z`` standard errors of the mean, within 1–5; None without ratings.
    Uses only the app's own ratings (no prior)."""
    n = sum(distribution)
    if not n:
        return None
    mean = sum((i + 1) * c for i, c in enumerate(distribution)) / n
    if n == 1:
        return 1.0
    variance = sum(c * ((i + 1) - mean) ** 2 for i, c in enumerate(distribution)) / (n - 1)
    return max(1.0, min(5.0, mean - CONFIDENCE_Z * sqrt(variance / n)))


def comparison_key(rating: AppRatingSummary, completed: int, name: str, app_id: int, min_shown: int) -> tuple:
    """Sort key of the comparison: enough ratings first, by the rating's lower bound; then by completed cases."""
    enough = rating.count >= min_shown
    bound = rating_lower_bound(rating.distribution) if enough else 0.0
    return (0 if enough else 1, -(bound or 0.0), -completed, name, app_id)


@dataclass(frozen=True)
class AppChoice:
    app: App
    version: AppVersion
    rating: AppRatingSummary
    completed: int
    median_handling_seconds: int | None
    certified_at: datetime | None
    citizen_scopes: list[str]
    min_shown: int = DEFAULT_MIN_SHOWN

    @property
    def vendor(self):
        return self.app.vendor

    @property
    def rating_shown(self) -> bool:
        """Whether the app has enough counted ratings to show a star value."""
        return self.rating.count >= self.min_shown

    @property
    def lower_bound(self) -> float | None:
        return rating_lower_bound(self.rating.distribution) if self.rating_shown else None


def app_choice_by_slug(slug: str) -> AppChoice:
    """One published app's comparison facts by its address name (public). Raises NotFound for an unpublished app."""
    return _choices([app_get_published_by_slug(slug)])[0]


def item_apps(code_or_id: str | int) -> tuple[ServiceItem, list[AppChoice]]:
    """The service item and every published app for it in the comparison's order (``comparison_key``: apps with
    enough ratings first, by their rating's lower bound, then completed cases). Public. Raises NotFound for an
    unknown item."""
    item = service_item_get(code_or_id)
    apps = list(db.session.scalars(published_apps_query().where(Order.service_item_id == item.id)))
    choices = _choices(apps)
    choices.sort(key=lambda c: comparison_key(c.rating, c.completed, c.app.name, c.app.id, c.min_shown))
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
    min_shown = min_ratings_shown()
    for app in apps:
        row = statistics.get(app.id)
        choices.append(AppChoice(app, versions[app.id], summaries[app.id], row.completed if row else 0,
                                 row.median_handling_seconds if row else None, certified.get(app.id),
                                 list(app.order.citizen_scopes), min_shown))
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
        dimensions = {name: (Fraction(getattr(row, f"{name}_sum"), getattr(row, f"{name}_count"))
                             if s.count and getattr(row, f"{name}_count") else None) for name in DIMENSIONS}
        result[app_id] = AppRatingSummary(app_id, s.count, s.stars_sum, tuple(s.distribution),
                                          bayesian_rating(s.stars_sum, s.count, prior), dimensions)
    return result
