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


def test_rating_stats_of_the_quarter_exclude_hidden_ones_and_count_flagged_ones(market, world):
    from marketplace.accounts.models import User
    from marketplace.ratings import services as ratings

    stars = [5, 4, 2, 1]
    made = []
    for i, s in enumerate(stars):
        c = market.citizen(f"q{i}")
        txn = market.complete(c, market.apps["a"])
        made.append(ratings.rating_create(c, txn.id, stars=s, dimensions=DIMS, now=utcnow() - timedelta(minutes=9 - i)))
    admin = db.session.get(User, world.ids["admin"])
    ratings.rating_hide(admin, made[3].id, "abuse")
    ratings.rating_flag(market.citizen("reporter"), made[2].id, "suspicious")
    later = utcnow() + timedelta(days=1)
    stats = settlement_source().rating_stats(this_quarter(), [market.apps["a"].id, market.apps["b"].id], later)
    assert set(stats) == {market.apps["a"].id}
    a = stats[market.apps["a"].id]
    assert (a.count, a.stars_sum, a.distribution) == (3, 11, (0, 1, 0, 1, 1)), "flagged counts, hidden does not"
    # As of a moment before the hiding the hidden rating counted; before the second rating was given, only the first.
    before = settlement_source().rating_stats(this_quarter(), [market.apps["a"].id],
                                              made[3].hidden_at - timedelta(seconds=1))[market.apps["a"].id]
    assert (before.count, before.stars_sum) == (4, 12)
    assert settlement_source().rating_stats(this_quarter(), [market.apps["a"].id],
                                            made[1].created_at)[market.apps["a"].id].count == 1
    assert settlement_source().rating_stats(quarter_span("2020Q1"), [market.apps["a"].id], later) == {}


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
    ratings.rating_flag(market.citizen("reporter"), made[2].id, "suspicious")  # under review, and still counted
    source = settlement_source()
    assert source.rating_exclusions(this_quarter(), [market.apps["a"].id]) == {market.apps["a"].id: (1, 1)}
    assert source.rating_stats(this_quarter(), [market.apps["a"].id], utcnow() + timedelta(days=1))[
        market.apps["a"].id].count == 3
    assert source.rating_exclusions(quarter_span("2020Q1"), [market.apps["a"].id]) == {}


def test_preview_post_and_recompute_agree_whatever_the_moderation_between_them(market, world):
    """Flags and appeals change nothing; a hiding after the order was posted is outside the frozen counted set, so a
    fresh preview still equals the posted run, and recompute confirms it."""
    from billing import services as billing
    from marketplace.accounts.models import User
    from marketplace.ratings import services as ratings

    span, order_a = this_quarter(), world.ids["order_a"]
    app_a, app_b = market.apps["a"], market.apps["b"]
    made = {}
    for i, (app, stars) in enumerate([(app_a, 5), (app_a, 5), (app_a, 4), (app_b, 1), (app_b, 2), (app_b, 5)]):
        c = market.citizen(f"m{i}")
        txn = market.complete(c, app)
        made[i] = ratings.rating_create(c, txn.id, stars=stars, dimensions=DIMS, now=utcnow() - timedelta(minutes=20 - i))

    def amounts(settlement) -> dict[int, int]:
        return {line.app_id: line.amount for line in settlement.lines}

    before = amounts(billing.settlement_preview(None, span.code, order_ids=[order_a]).orders[order_a])
    assert before[app_a.id] != before[app_b.id], "the ratings must move the money for this test to mean anything"
    # Vendor B appeals its own app's 1★, a citizen flags app A's 5★: both go to the queue and keep counting.
    ratings.rating_appeal(db.session.get(User, world.ids["vendor_b"]), made[3].id, "办件已按时办结")
    ratings.rating_flag(market.citizen("reporter"), made[0].id, "刷好评")
    assert amounts(billing.settlement_preview(None, span.code, order_ids=[order_a]).orders[order_a]) == before

    posted_at = span.ends_at + timedelta(days=1)  # within the grace period: posting freezes the order's ratings
    outcome = billing.settlement_post(None, span.code, order_ids=[order_a], now=posted_at)
    run = billing.settlement_run_get(None, outcome.posted[0])
    assert {line.app_id: line.amount_fen for line in run.lines} == before

    # The moderator hides the flagged 5★ after the posting: the hiding is real for display …
    admin = db.session.get(User, world.ids["admin"])
    hidden = ratings.rating_hide(admin, made[0].id, "刷好评，已核实", now=posted_at + timedelta(hours=2))
    now_counted = settlement_source().rating_stats(span, [app_a.id], hidden.hidden_at + timedelta(seconds=1))
    assert now_counted[app_a.id].count == 2
    # … but the posted quarter's set was frozen: a fresh preview and the recompute agree with the posting.
    assert amounts(billing.settlement_preview(None, span.code, order_ids=[order_a]).orders[order_a]) == before
    check = billing.settlement_recompute(None, run.id)
    assert check.snapshot_intact and check.figures_match, check.differences


def test_a_hiding_after_the_freeze_is_listed_as_the_next_quarters_adjustment(market, world, app):
    from billing.calendar import GRACE_PERIOD
    from marketplace.accounts.models import User
    from marketplace.ratings import services as ratings

    span = this_quarter()
    admin = db.session.get(User, world.ids["admin"])
    made = []
    for i, stars in enumerate((5, 1)):
        c = market.citizen(f"adj{i}")
        made.append(ratings.rating_create(c, market.complete(c, market.apps["a"]).id, stars=stars, dimensions=DIMS,
                                          now=utcnow() - timedelta(minutes=5 - i)))
    grace_end = span.ends_at + GRACE_PERIOD
    ratings.rating_hide(admin, made[0].id, "刷好评", now=grace_end - timedelta(hours=1))  # before the freeze: no adjustment
    ratings.rating_hide(admin, made[1].id, "辱骂", now=grace_end + timedelta(hours=1))  # after it: paid, so adjusted
    next_quarter = quarter_span_after(span)
    found = ratings.rating_adjustments(admin, next_quarter, now=grace_end + timedelta(days=1))
    assert [(a.rating_id, a.stars, a.rated_quarter) for a in found] == [(made[1].id, 1, span.code)]
    assert ratings.rating_adjustments(admin, span.code, now=grace_end + timedelta(days=1)) == []
    out = app.test_cli_runner().invoke(args=["ratings", "adjustments", "--quarter", next_quarter])
    assert f"rating {made[1].id}\t" in out.output and "1 rating adjustments" in out.output, out.output


def quarter_span_after(span) -> str:
    year, q = int(span.code[:4]), int(span.code[-1])
    return f"{year + q // 4}Q{q % 4 + 1}"
