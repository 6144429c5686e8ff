"""Choosing an app: every published app for a service item side by side, with the facts a citizen compares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, selectinload

from core.errors import NotFound
from core.extensions import db
from marketplace.billing_source import certified_at_by_app
from marketplace.catalogue.models import AppStatistics, ServiceItem
from marketplace.orders.models import Order
from marketplace.ratings.services import AppRatingSummary, rating_summaries
from marketplace.vendors.models import App, AppVersion


def published_apps_query():
    """Apps with a live version, of orders that are published and not archived; each app's vendor and order
    (with its service item) come in the same round trips, not one lazy load per app."""
    live = sa.select(AppVersion.id).where(AppVersion.app_id == App.id, AppVersion.live()).exists()
    return (sa.select(App).join(Order, App.order_id == Order.id)
            .where(live, Order.published_at.is_not(None), Order.archived_at.is_(None))
            .options(selectinload(App.vendor), contains_eager(App.order).joinedload(Order.service_item)))


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


def app_choice_get(app_id: int) -> AppChoice:
    """One published app's comparison facts (public). Raises NotFound for an unpublished app."""
    app = db.session.scalar(published_apps_query().where(App.id == app_id))
    if app is None:
        raise NotFound(f"app {app_id} is not published")
    return _choices([app])[0]


def app_choice_by_slug(slug: str) -> AppChoice:
    app = db.session.scalar(published_apps_query().where(App.slug == slug))
    if app is None:
        raise NotFound(f"no published app has the address name {slug!r}")
    return _choices([app])[0]


def item_apps(code_or_id: str | int) -> tuple[ServiceItem, list[AppChoice]]:
    """The service item and every published app for it, best rated first (Bayesian average, then completed
    cases, then name). Public. Raises NotFound for an unknown item."""
    from marketplace.catalogue.services import service_item_get

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
