"""Department analytics: for each service item of a department and each app serving it, usage over time,
rating trends, dimension scores, the worst-rated dimensions and complaint themes."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from core.errors import NotFound
from core.extensions import db
from core.time import utcnow
from marketplace.analytics import authz
from marketplace.catalogue.models import Department, ServiceItem
from marketplace.complaints.models import Complaint
from marketplace.orders.models import Order
from marketplace.ratings.models import DIMENSIONS, Rating, counted_ratings
from marketplace.transactions.models import Transaction
from marketplace.vendors.models import App

LOCAL = ZoneInfo("Asia/Shanghai")
MONTHS = 12


def month_labels(now: datetime, months: int = MONTHS) -> list[str]:
    """The last ``months`` months as 'YYYY-MM' in local time, oldest first."""
    local = now.astimezone(LOCAL)
    year, month = local.year, local.month
    labels = []
    for _ in range(months):
        labels.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return labels[::-1]


def _month(moment: datetime) -> str:
    return moment.astimezone(LOCAL).strftime("%Y-%m")


def _window_start(labels: list[str]) -> datetime:
    year, month = (int(x) for x in labels[0].split("-"))
    return datetime(year, month, 1, tzinfo=LOCAL)


@dataclass
class Subject:
    """The figures for one service item or one app."""

    key: str
    name: str
    usage: dict[str, int] = field(default_factory=dict)  # month -> completed cases
    rating_trend: dict[str, Fraction | None] = field(default_factory=dict)  # month -> mean stars
    ratings: int = 0
    stars_mean: Fraction | None = None
    dimensions: dict[str, Fraction | None] = field(default_factory=dict)
    complaint_themes: Counter = field(default_factory=Counter)

    @property
    def completed(self) -> int:
        return sum(self.usage.values())

    @property
    def worst_dimensions(self) -> list[tuple[str, Fraction]]:
        """Dimensions with ratings, lowest mean first."""
        scored = [(name, value) for name, value in self.dimensions.items() if value is not None]
        return sorted(scored, key=lambda kv: (kv[1], DIMENSIONS.index(kv[0])))


@dataclass
class DepartmentAnalytics:
    department: Department
    months: list[str]
    items: list[tuple[Subject, list[Subject]]]  # (item, its apps)


def analytics_department(actor, department_id: int, *, now: datetime | None = None,
                         months: int = MONTHS) -> DepartmentAnalytics:
    """Analytics of one department's service items and the apps serving them over the last ``months``.
    Staff of that department, admins and auditors. Raises Forbidden for other departments' staff."""
    authz.analytics_department(actor, department_id)
    department = db.session.get(Department, department_id)
    if department is None:
        raise NotFound(f"department {department_id} does not exist")
    now = now or utcnow()
    labels = month_labels(now, months)
    since = _window_start(labels)
    items = list(db.session.scalars(sa.select(ServiceItem).where(ServiceItem.department_id == department_id)
                                    .order_by(ServiceItem.code)))
    apps = list(db.session.scalars(sa.select(App).join(Order, App.order_id == Order.id)
                                   .where(Order.department_id == department_id).order_by(App.name, App.id)))
    item_of_app = {a.id: a.order.service_item_id for a in apps}
    subjects = {("item", i.id): Subject(f"item:{i.code}", i.name) for i in items}
    subjects.update({("app", a.id): Subject(f"app:{a.slug}", a.name) for a in apps})

    def both(app_id):
        return subjects[("app", app_id)], subjects[("item", item_of_app[app_id])]

    app_ids = list(item_of_app)
    usage: dict[tuple, Counter] = defaultdict(Counter)
    for app_id, completed_at in db.session.execute(
            sa.select(Transaction.app_id, Transaction.completed_at)
            .where(Transaction.app_id.in_(app_ids), Transaction.status == "completed",
                   Transaction.completed_at >= since)):
        for subject in both(app_id):
            usage[subject.key][_month(completed_at)] += 1

    stars: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    totals: dict[str, list[int]] = defaultdict(lambda: [0] * (2 + 2 * len(DIMENSIONS)))  # n, Σ, Σ dims, n dims
    columns = [Rating.app_id, Rating.created_at, Rating.stars, *(getattr(Rating, d) for d in DIMENSIONS)]
    for app_id, created_at, value, *dims in db.session.execute(
            sa.select(*columns).where(Rating.app_id.in_(app_ids), counted_ratings())):
        for subject in both(app_id):
            row = totals[subject.key]
            row[0] += 1
            row[1] += value
            for i, d in enumerate(dims):
                if d is not None:  # the dimensions are optional
                    row[2 + i] += d
                    row[2 + len(DIMENSIONS) + i] += 1
            if created_at >= since:
                cell = stars[subject.key][_month(created_at)]
                cell[0] += 1
                cell[1] += value

    for app_id, theme in db.session.execute(sa.select(Complaint.app_id, Complaint.theme)
                                            .where(Complaint.app_id.in_(app_ids))):
        for subject in both(app_id):
            subject.complaint_themes[theme] += 1

    for subject in subjects.values():
        subject.usage = {m: usage[subject.key].get(m, 0) for m in labels}
        subject.rating_trend = {m: (Fraction(stars[subject.key][m][1], stars[subject.key][m][0])
                                    if stars[subject.key][m][0] else None) for m in labels}
        count, total, *dim_figures = totals[subject.key]
        dim_sums, dim_counts = dim_figures[:len(DIMENSIONS)], dim_figures[len(DIMENSIONS):]
        subject.ratings = count
        subject.stars_mean = Fraction(total, count) if count else None
        subject.dimensions = {d: (Fraction(dim_sums[i], dim_counts[i]) if dim_counts[i] else None)
                              for i, d in enumerate(DIMENSIONS)}

    grouped = [(subjects[("item", i.id)], [subjects[("app", a.id)] for a in apps if item_of_app[a.id] == i.id])
               for i in items]
    return DepartmentAnalytics(department, labels, grouped)
