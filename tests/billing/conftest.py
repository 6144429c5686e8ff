"""Billing test fixtures.

``FixtureSettlementSource`` is a test double for the *marketplace's* data only (orders with their price
schedules, apps, ratings), held in plain Python fixtures. Everything billing owns (usage events, the
ledger, runs, quarters) is real and lives in the test database.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction

import pytest
import sqlalchemy as sa

from billing.source import EXTENSION_KEY, AppFacts, MultiplierPoint, OrderTerms, QuarterSpan, RatingStats
from core.extensions import db
from core.money import Money
from tests.conftest import TEST_DATABASE

DEFAULT_TABLE = (MultiplierPoint(Fraction(1), 5000), MultiplierPoint(Fraction(3), 8000),
                 MultiplierPoint(Fraction(4), 10000), MultiplierPoint(Fraction(5), 12000))
Q3 = "2026Q3"
AFTER_Q3 = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)  # inside Q3's grace period
IN_Q3 = datetime(2026, 8, 15, 2, 0, tzinfo=UTC)


@dataclass
class FixtureSettlementSource:
    """Marketplace data for tests: orders by quarter, apps, rating statistics by (quarter, app)."""

    order_terms: dict[int, OrderTerms] = field(default_factory=dict)
    app_facts: dict[int, AppFacts] = field(default_factory=dict)
    ratings: dict[tuple[str, int], RatingStats] = field(default_factory=dict)
    excluded: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)  # (hidden, under review)
    # (quarter, app ids, as_of) of every rating_stats call: which moment the settlement counted ratings at
    rating_queries: list[tuple[str, tuple[int, ...], datetime]] = field(default_factory=list)

    def add_order(self, order_id: int, *, department_id: int = 1, fee: int = 200, budget: int = 10_000_000,
                  table=DEFAULT_TABLE, award_eligible: bool = True, title: str = "") -> OrderTerms:
        terms = OrderTerms(order_id, department_id, Money(fee), Money(budget), table, award_eligible,
                           title or f"Order {order_id}", f"Department {department_id}")
        self.order_terms[order_id] = terms
        return terms

    def add_app(self, app_id: int, order_id: int, vendor_id: int, certified_at: datetime | None = None,
                name: str = "", vendor_name: str = "") -> AppFacts:
        facts = AppFacts(app_id, vendor_id, order_id, certified_at or datetime(2026, 1, 1, tzinfo=UTC),
                         name or f"App {app_id}", vendor_name or f"Vendor {vendor_id}")
        self.app_facts[app_id] = facts
        return facts

    def rate(self, app_id: int, count: int, stars_sum: int, quarter: str = Q3) -> None:
        self.ratings[(quarter, app_id)] = RatingStats(app_id, count, stars_sum)

    # the SettlementSource Protocol
    def orders(self, span: QuarterSpan):
        return [self.order_terms[k] for k in sorted(self.order_terms)]

    def apps(self, app_ids: Collection[int]):
        return {a: self.app_facts[a] for a in app_ids if a in self.app_facts}

    def apps_of_orders(self, order_ids: Collection[int]):
        return [a for _, a in sorted(self.app_facts.items()) if a.order_id in set(order_ids)]

    def rating_stats(self, span: QuarterSpan, app_ids: Collection[int], as_of: datetime):
        self.rating_queries.append((span.code, tuple(app_ids), as_of))
        return {a: self.ratings[(span.code, a)] for a in app_ids if (span.code, a) in self.ratings}

    # optional (billing.dataset.RatingExclusions)
    def rating_exclusions(self, span: QuarterSpan, app_ids: Collection[int]):
        return {a: self.excluded[(span.code, a)] for a in app_ids if (span.code, a) in self.excluded}


@dataclass
class Actor:
    role: str
    id: int = 1
    department_id: int | None = None
    vendor_id: int | None = None

    @property
    def label(self) -> str:
        return f"{self.role}#{self.id}"


FINANCE = Actor("finance", 7)
AUDITOR = Actor("auditor", 8)
ADMIN = Actor("admin", 9)


@pytest.fixture
def source(app):
    double = FixtureSettlementSource()
    previous = app.extensions.get(EXTENSION_KEY)
    app.extensions[EXTENSION_KEY] = double
    yield double
    if previous is None:
        app.extensions.pop(EXTENSION_KEY, None)
    else:
        app.extensions[EXTENSION_KEY] = previous


def usage_rows(order_id: int, app_id: int, vendor_id: int, count: int, *, prefix: str = "",
               occurred_at: datetime = IN_Q3) -> list[dict]:
    return [{"idempotency_key": f"{prefix}{order_id}-{app_id}-{i}", "order_id": order_id, "app_id": app_id,
             "vendor_id": vendor_id, "transaction_ref": f"T{app_id}-{i}", "occurred_at": occurred_at}
            for i in range(count)]


def record(rows: list[dict], now: datetime = AFTER_Q3):
    from billing import services

    results = []
    for start in range(0, len(rows), services.MAX_BATCH):
        results += services.usage_record_batch(ADMIN, rows[start:start + services.MAX_BATCH], now=now)
    return results


def disable_guards():
    """What an attacker with database access would do first: switch off the append-only triggers."""
    if TEST_DATABASE == "postgres":
        # Inside a test's transaction the deferred completeness checks of its entries are still pending, and
        # PostgreSQL alters no table with pending trigger events: run them now.
        db.session.execute(sa.text("SET CONSTRAINTS ALL IMMEDIATE"))
        for table in ("billing_journal_entries", "billing_postings", "billing_ledger_head"):
            db.session.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    else:
        names = db.session.scalars(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'billing_%'"))
        for name in list(names):
            db.session.execute(sa.text(f"DROP TRIGGER {name}"))
