from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import sqlalchemy as sa

from billing.calendar import quarter_span
from billing.source import MultiplierPoint, settlement_source
from core.extensions import db
from core.time import utcnow
from tests.marketplace.citizen_world import *  # noqa: F403  (the `market` fixture)

DIMS = {"tangibility": 4, "reliability": 4, "responsiveness": 4, "assurance": 4, "empathy": 4}


def this_quarter():
    now = utcnow()
    return quarter_span(f"{now.year}Q{(now.month - 1) // 3 + 1}")


def test_the_app_factory_plugs_the_marketplace_source_in(app_ctx):
    from marketplace.billing_source import MarketplaceSettlementSource

    assert isinstance(settlement_source(), MarketplaceSettlementSource)


def test_orders_with_their_price_terms_and_multiplier_table(market, world):
    source = settlement_source()
    terms = {t.order_id: t for t in source.orders(this_quarter())}
    assert world.ids["order_a"] in terms and world.ids["draft_a"] not in terms  # drafts have no terms in effect
    order_a = terms[world.ids["order_a"]]
    assert order_a.fee.minor == 200 and order_a.quarterly_budget.minor == 1_000_000
    assert order_a.multiplier_table[0] == MultiplierPoint(Fraction(1), 5000)
    assert order_a.multiplier_table[-1] == MultiplierPoint(Fraction(5), 12000)
    assert order_a.department_name == "甲局"
    # A quarter that ended before the order was published has no terms for it.
    assert world.ids["order_a"] not in {t.order_id for t in source.orders(quarter_span("2020Q1"))}


def test_app_facts_with_certification_date_and_published_apps_of_orders(market, world):
    source = settlement_source()
    facts = source.apps([market.apps["a"].id, 999_999])
    assert set(facts) == {market.apps["a"].id}
    a = facts[market.apps["a"].id]
    assert (a.vendor_id, a.order_id, a.vendor_name) == (world.ids["org_a"], world.ids["order_a"], "Vendor A")
    assert a.certified_at is not None
    of_order = {f.app_id for f in source.apps_of_orders([world.ids["order_a"]])}
    assert of_order == {market.apps["a"].id, market.apps["b"].id}  # the unpublished draft is not paid


def test_rating_stats_of_the_quarter_exclude_hidden_and_flagged(market, world):
    from marketplace.accounts.models import User
    from marketplace.ratings import services as ratings

    stars = [5, 4, 2, 1]
    made = []
    for i, s in enumerate(stars):
        c = market.citizen(f"q{i}")
        txn = market.complete(c, market.apps["a"])
        made.append(ratings.rating_create(c, txn.id, stars=s, dimensions=DIMS, now=utcnow() + timedelta(hours=i)))
    admin = db.session.get(User, world.ids["admin"])
    ratings.rating_hide(admin, made[3].id, "abuse")
    ratings.rating_flag(admin, made[2].id, "suspicious")
    stats = settlement_source().rating_stats(this_quarter(), [market.apps["a"].id, market.apps["b"].id])
    assert set(stats) == {market.apps["a"].id}
    a = stats[market.apps["a"].id]
    assert (a.count, a.stars_sum, a.distribution) == (2, 9, (0, 0, 0, 1, 1))
    assert settlement_source().rating_stats(quarter_span("2020Q1"), [market.apps["a"].id]) == {}


def test_settlement_preview_pays_completed_cases_through_the_real_source(market, world):
    from billing import services as billing
    from billing.models import UsageEvent

    for i in range(3):
        market.complete(market.citizen(f"p{i}"), market.apps["a"])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UsageEvent)) == 3
    preview = billing.settlement_preview(None, this_quarter().code, order_ids=[world.ids["order_a"]])
    line = next(line for line in preview.orders[world.ids["order_a"]].lines if line.app_id == market.apps["a"].id)
    # No ratings: m = 4.0 and the Bayesian average 4.0 → ×1.0; 3 cases × 200 fen.
    assert (line.completed, line.ratings, line.amount) == (3, 0, 600)


def test_certification_date_comes_from_the_first_certified_sandbox_run(market):
    from datetime import UTC, datetime

    from marketplace.vendors.services import certified_at_by_app
    from sandbox.models import CertificationRun

    version = market.apps["b"].versions[0]
    approved = version.approved_at
    assert certified_at_by_app([market.apps["b"].id])[market.apps["b"].id] == approved
    certified = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    db.session.add(CertificationRun(app_version_id=version.id, bundle_sha256="0" * 64, suite_version="1",
                                    suite_sha256="0" * 64, suite={}, job_id=f"t-{version.id}", state="certified",
                                    finished_at=certified))
    db.session.commit()
    assert certified_at_by_app([market.apps["b"].id])[market.apps["b"].id] == certified
    assert settlement_source().apps([market.apps["b"].id])[market.apps["b"].id].certified_at == certified


def test_rating_exclusions_count_the_quarters_hidden_and_under_review_ratings(market, world):
    from marketplace.accounts.models import User
    from marketplace.ratings import services as ratings

    made = []
    for i, s in enumerate([5, 4, 2, 1]):
        c = market.citizen(f"x{i}")
        txn = market.complete(c, market.apps["a"])
        made.append(ratings.rating_create(c, txn.id, stars=s, dimensions=DIMS, now=utcnow() + timedelta(hours=i)))
    admin = db.session.get(User, world.ids["admin"])
    ratings.rating_hide(admin, made[3].id, "abuse")
    ratings.rating_flag(admin, made[2].id, "suspicious")
    source = settlement_source()
    assert source.rating_exclusions(this_quarter(), [market.apps["a"].id]) == {market.apps["a"].id: (1, 1)}
    assert source.rating_exclusions(quarter_span("2020Q1"), [market.apps["a"].id]) == {}
