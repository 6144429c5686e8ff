"""Choosing an app: every published app for a service item side by side, with the facts a citizen compares."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from core.errors import NotFound
from core.extensions import db
from marketplace.billing_source import certified_at_by_app
from marketplace.catalogue.models import ServiceItem
from marketplace.orders.models import Order
from marketplace.ratings.services import AppRatingSummary, rating_summaries
from marketplace.transactions.models import Transaction
from marketplace.vendors.models import App, AppVersion

MEDIAN_SAMPLE = 1000  # the median handling time is taken over an app's latest completed cases


def live_version_clause():
    """SQL condition: the version is published and not superseded, suspended or withdrawn."""
    return sa.and_(AppVersion.published_at.is_not(None), AppVersion.superseded_at.is_(None),
                   AppVersion.suspended_at.is_(None), AppVersion.withdrawn_at.is_(None))


def published_apps_query():
    """Apps with a live version, of orders that are published and not archived."""
    live = sa.select(AppVersion.id).where(AppVersion.app_id == App.id, live_version_clause()).exists()
    return (sa.select(App).join(Order, App.order_id == Order.id)
            .where(live, Order.published_at.is_not(None), Order.archived_at.is_(None)))


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
    if not apps:
        return []
    ids = [a.id for a in apps]
    # m is the order's mean over all its apps, as billing computes it.
    order_app_ids: dict[int, list[int]] = {}
    for app_id, order_id in db.session.execute(sa.select(App.id, App.order_id)
                                               .where(App.order_id.in_({a.order_id for a in apps}))):
        order_app_ids.setdefault(order_id, []).append(app_id)
    summaries = rating_summaries(ids, order_app_ids=order_app_ids)
    completed = dict(db.session.execute(
        sa.select(Transaction.app_id, sa.func.count()).where(Transaction.app_id.in_(ids),
                                                             Transaction.status == "completed")
        .group_by(Transaction.app_id)).all())
    certified = certified_at_by_app(ids)
    versions = {}
    for version in db.session.scalars(sa.select(AppVersion).where(AppVersion.app_id.in_(ids), live_version_clause())
                                      .order_by(AppVersion.id)):
        versions[version.app_id] = version
    return [AppChoice(app, versions[app.id], summaries[app.id], int(completed.get(app.id, 0)),
                      median_handling_seconds(app.id), certified.get(app.id), list(app.order.citizen_scopes))
            for app in apps]


def median_handling_seconds(app_id: int) -> int | None:
    """Median time from start to completion over the app's latest ``MEDIAN_SAMPLE`` completed cases."""
    rows = db.session.execute(sa.select(Transaction.started_at, Transaction.completed_at)
                              .where(Transaction.app_id == app_id, Transaction.status == "completed")
                              .order_by(Transaction.completed_at.desc()).limit(MEDIAN_SAMPLE)).all()
    if not rows:
        return None
    return int(statistics.median((done - start).total_seconds() for start, done in rows))
