from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.errors import Conflict, Forbidden, NotFound, ValidationError
from core.extensions import db
from core.time import utcnow
from tests.marketplace.citizen_world import *  # noqa: F403  (the `market` fixture)

DIMS = {"tangibility": 4, "reliability": 5, "responsiveness": 4, "assurance": 5, "empathy": 3}


def rating_count() -> int:
    from marketplace.ratings.models import Rating

    return db.session.scalar(sa.select(sa.func.count()).select_from(Rating))


def rate(citizen, txn, stars=5, **kw):
    from marketplace.ratings import services

    return services.rating_create(citizen, txn.id, stars=stars, dimensions=kw.pop("dimensions", DIMS),
                                  comment=kw.pop("comment", "快"), **kw)


def test_a_completed_case_is_rated_once_by_its_citizen(market):
    citizen = market.citizens["citizen"]
    txn = market.complete(citizen, market.apps["a"])
    rating = rate(citizen, txn, 4)
    assert rating.stars == 4 and rating.counts and rating.dimension_scores() == DIMS
    with pytest.raises(Conflict):
        rate(citizen, txn, 5)
    assert rating_count() == 1


def test_refused_without_a_completed_case_and_for_someone_elses(market):
    from marketplace.transactions import services as transactions

    citizen = market.citizens["citizen"]
    started = transactions.transaction_start(citizen, market.apps["a"].id)
    with pytest.raises(Conflict):
        rate(citizen, started)
    rejected = market.complete(market.citizen("wang"), market.apps["b"], decision="rejected")
    rate(market.citizens["wang"], rejected, 2)  # 不予许可 is 办结 too: the citizen rates how it went
    others = market.complete(market.citizen("zhao"), market.apps["a"])
    with pytest.raises(NotFound):
        rate(citizen, others)
    with pytest.raises(ValidationError):
        rate(market.citizens["zhao"], others, 6)
    assert rating_count() == 1


def test_editable_for_seven_days_only(market):
    from marketplace.ratings import services

    citizen = market.citizens["citizen"]
    rating = rate(citizen, market.complete(citizen, market.apps["a"]), 2)
    services.rating_update(citizen, rating.id, stars=3, dimensions=DIMS, comment="better",
                           now=rating.created_at + timedelta(days=6))
    assert rating.stars == 3
    with pytest.raises(Conflict):
        services.rating_update(citizen, rating.id, stars=5, dimensions=DIMS,
                               now=rating.created_at + timedelta(days=7, seconds=1))
    with pytest.raises(Forbidden):
        services.rating_update(market.citizen("other"), rating.id, stars=5, dimensions=DIMS)


def test_vendor_and_department_reply_others_may_not(market, world):
    from marketplace.accounts.models import User
    from marketplace.ratings import services

    citizen = market.citizens["citizen"]
    rating = rate(citizen, market.complete(citizen, market.apps["a"]), 2)
    services.rating_reply(db.session.get(User, world.ids["vendor_a"]), rating.id, "抱歉，已修复")
    services.rating_reply(db.session.get(User, world.ids["staff_a"]), rating.id, "已督促整改")
    services.rating_reply(db.session.get(User, world.ids["vendor_a"]), rating.id, "已修复，欢迎再试")
    assert {(r.side, r.text) for r in rating.replies} == {("vendor", "已修复，欢迎再试"), ("department", "已督促整改")}
    for who in ("vendor_b", "staff_b"):
        with pytest.raises(Forbidden):
            services.rating_reply(db.session.get(User, world.ids[who]), rating.id, "x")


def test_flag_puts_under_review_admin_hides_with_reason_and_keeps_it(market, world):
    from marketplace.accounts.models import User
    from marketplace.ratings import services
    from marketplace.ratings.models import Rating

    citizen = market.citizens["citizen"]
    rating = rate(citizen, market.complete(citizen, market.apps["a"]), 1)
    reporter = market.citizen("reporter")
    services.rating_flag(reporter, rating.id, "不实评价")
    assert rating.under_review and rating.counts, "a flag sends the rating to the moderators; it keeps counting"
    with pytest.raises(Conflict):
        services.rating_flag(reporter, rating.id, "again")
    with pytest.raises(Forbidden):
        services.rating_hide(reporter, rating.id, "no")
    admin = db.session.get(User, world.ids["admin"])
    assert [r.id for r in services.rating_review_queue(admin).items] == [rating.id]
    services.rating_hide(admin, rating.id, "辱骂性语言")
    kept = db.session.get(Rating, rating.id)
    assert kept.hidden_reason == "辱骂性语言" and kept.hidden_at is not None and not kept.counts
    assert services.rating_list_public(market.apps["a"].id).items == []
    assert services.rating_review_queue(admin).items == []
    with pytest.raises(Conflict):
        services.rating_hide(admin, rating.id, "twice")


def test_who_may_flag_and_appeal(market, world):
    """Citizens and the department flag; only the rated app's vendor appeals; a competitor gets 403 for both."""
    from marketplace.accounts.models import User
    from marketplace.ratings import services

    citizen = market.citizens["citizen"]
    rating = rate(citizen, market.complete(citizen, market.apps["a"]), 1)  # app a: vendor A, department A
    user = {name: db.session.get(User, world.ids[name]) for name in ("vendor_a", "vendor_b", "staff_a", "staff_b")}
    for who in ("vendor_a", "vendor_b", "staff_b"):
        with pytest.raises(Forbidden):
            services.rating_flag(user[who], rating.id, "fake")
    for who in ("vendor_b", "staff_a"):
        with pytest.raises(Forbidden):
            services.rating_appeal(user[who], rating.id, "fake")
    services.rating_flag(user["staff_a"], rating.id, "与本事项无关")
    appeal = services.rating_appeal(user["vendor_a"], rating.id, "该办件已按时办结，评价与事实不符")
    assert appeal.kind == "appeal" and rating.counts
    assert sorted(f.kind for f in rating.flags) == ["appeal", "flag"]


def test_competitors_flag_and_appeal_answer_403_over_the_api(market, world):
    citizen = market.citizens["citizen"]
    rating = rate(citizen, market.complete(citizen, market.apps["a"]), 1)
    for who, action in (("vendor_b", "appeal"), ("vendor_b", "flag"), ("vendor_a", "flag")):
        response = world.call(who, "POST", f"/api/ratings/{rating.id}/{action}", json={"reason": "fake"})
        assert response.status_code == 403, (who, action, response.json)
    response = world.call("vendor_a", "POST", f"/api/ratings/{rating.id}/appeal", json={"reason": "不实"})
    assert response.status_code == 201 and response.json["kind"] == "appeal"


def test_flags_are_rate_limited_per_account(market):
    from core.errors import TooManyRequests
    from marketplace.ratings import services
    from marketplace.ratings.services import FLAG_LIMIT, FLAG_WINDOW

    now = utcnow()
    made = []
    for i in range(FLAG_LIMIT + 1):
        c = market.citizen(f"r{i}")
        made.append(rate(c, market.complete(c, market.apps["a"]), 1, now=now - timedelta(minutes=30 - i)))
    busy = market.citizen("busy")
    for r in made[:FLAG_LIMIT]:
        services.rating_flag(busy, r.id, "spam", now=now)
    with pytest.raises(TooManyRequests) as refused:
        services.rating_flag(busy, made[-1].id, "spam", now=now)
    assert refused.value.status == 429
    services.rating_flag(market.citizen("other"), made[-1].id, "spam", now=now)  # the limit is per account
    services.rating_flag(busy, made[-1].id, "spam", now=now + FLAG_WINDOW + timedelta(seconds=1))


def test_a_flagged_rating_keeps_counting_and_resolving_keeps_it(market, world):
    from marketplace.accounts.models import User
    from marketplace.citizen.choice import rating_summaries
    from marketplace.ratings import services

    citizen = market.citizens["citizen"]
    rating = rate(citizen, market.complete(citizen, market.apps["a"]), 5)
    services.rating_flag(market.citizen("x"), rating.id, "looks fake")
    summary = rating_summaries([market.apps["a"].id])[market.apps["a"].id]
    assert summary.count == 1
    services.rating_review_resolve(db.session.get(User, world.ids["admin"]), rating.id, "checked: genuine")
    summary = rating_summaries([market.apps["a"].id])[market.apps["a"].id]
    assert summary.count == 1 and summary.distribution == (0, 0, 0, 0, 1) and not rating.under_review


def test_same_device_cluster_goes_to_moderation_and_keeps_counting(market):
    from marketplace.citizen.choice import rating_summaries
    from marketplace.ratings.services import DEVICE_ACCOUNTS, device_fingerprint

    device = device_fingerprint("Mozilla/5.0 Phone", "10.1.2.3")
    assert device == device_fingerprint("Mozilla/5.0 Phone", "10.1.2.200")  # same /24
    assert device != device_fingerprint("Mozilla/5.0 Phone", "10.1.3.3")
    ratings = [rate(c, market.complete(c, market.apps["a"]), 5, device_hash=device)
               for c in (market.citizen(f"sock{i}") for i in range(DEVICE_ACCOUNTS))]
    assert all(r.under_review and r.counts and {s.kind for s in r.signals} == {"device"} for r in ratings)
    assert rating_summaries([market.apps["a"].id])[market.apps["a"].id].count == DEVICE_ACCOUNTS


def _organic_history(market, app, *, days: int, per_day: int, now):
    """``days`` × ``per_day`` ratings of ``app`` from freshly made accounts before ``now``, written as rows (the
    traffic the app's own baseline is measured from), with the levels of a well-liked app: 5★ 40 %, 4★ 30 %,
    3★ 15 %, 2★ 10 %, 1★ 5 %."""
    from marketplace.ratings.models import Rating
    from marketplace.transactions.models import Transaction

    citizen = market.citizen("regular")
    levels = [5] * 8 + [4] * 6 + [3] * 3 + [2] * 2 + [1]
    rows = []
    for n in range(days * per_day):
        at = now - timedelta(hours=2) - timedelta(days=days) * (n + 1) / (days * per_day)
        txn = Transaction(case_number=f"GMHIST{app.id}{n:06d}", citizen_id=citizen.id, app_id=app.id,
                          order_id=app.order_id, service_item_id=app.order.service_item_id, status="completed",
                          started_at=at, submitted_at=at, completed_at=at, usage_key=f"hist:{app.id}:{n}")
        rows.append(txn)
        rows.append(Rating(transaction=txn, citizen_id=citizen.id, app_id=app.id, order_id=app.order_id,
                           vendor_id=app.vendor_id, stars=levels[n % len(levels)], created_at=at, updated_at=at,
                           young_account=True,
                           **{d: 4 for d in DIMS}))
    db.session.add_all(rows)
    db.session.commit()


def test_a_burst_from_new_accounts_is_signalled_relative_to_the_apps_own_traffic(market):
    """Eight 5★ ratings from accounts made today within ten minutes (what the old fixed rule called a burst): a
    burst for an app that rarely gets new raters, ordinary traffic for a popular app that gets a hundred a day.
    Both keep counting."""
    small_raters, popular_raters = [market.citizen(f"b{i}") for i in range(8)], [market.citizen(f"p{i}") for i in range(8)]
    now = utcnow() + timedelta(minutes=1)  # the accounts were made just before
    popular, small = market.apps["a"], market.apps["b"]
    _organic_history(market, popular, days=14, per_day=100, now=now)
    on_small = [rate(c, market.complete(c, small), 5, now=now + timedelta(minutes=i)) for i, c in enumerate(small_raters)]
    assert all("burst" in {s.kind for s in r.signals} and r.counts for r in on_small)
    on_popular = [rate(c, market.complete(c, popular), 5, now=now + timedelta(minutes=i))
                  for i, c in enumerate(popular_raters)]
    assert all(not r.signals and not r.under_review for r in on_popular), "a popular app's organic traffic"


def test_review_bombing_is_signalled(market):
    raters = [market.citizen(f"x{i}") for i in range(6)]
    now = utcnow()
    bombs = [rate(c, market.complete(c, market.apps["b"]), 1, now=now + timedelta(minutes=20 * i))
             for i, c in enumerate(raters)]
    assert all("bombing" in {s.kind for s in r.signals} for r in bombs)


def test_a_ring_rating_the_same_apps_together_is_signalled(market, world):
    from marketplace.accounts.models import User
    from marketplace.vendors import services as vendors
    from tests.marketplace.citizen_world import publish

    # A third app (vendor B, another order): the ring rates the same three apps within a day.
    third = vendors.app_create(db.session.get(User, world.ids["vendor_b"]), order_id=world.ids["order_b"],
                               name="B two", slug="b-two")
    publish(third)
    apps = [market.apps["a"], market.apps["b"], third]
    honest = market.citizen("honest")
    honest_ratings = [rate(honest, market.complete(honest, app), 4) for app in apps[:2]]
    ratings = []
    for i in range(4):
        c = market.citizen(f"ring{i}")
        ratings += [rate(c, market.complete(c, app), 5) for app in apps]
    assert all("ring" in {s.kind for s in r.signals} and r.counts for r in ratings)
    assert all("ring" not in {s.kind for s in r.signals} for r in honest_ratings)


def test_summary_uses_billings_bayesian_average(market):
    from fractions import Fraction

    from marketplace.citizen.choice import rating_summaries

    for i in range(3):
        c = market.citizen(f"r{i}")
        rate(c, market.complete(c, market.apps["a"]), 5, now=utcnow() + timedelta(hours=i))
    summary = rating_summaries([market.apps["a"].id])[market.apps["a"].id]
    # Too few ratings in the order: m = 4.0; (20·4 + 15) / 23.
    assert summary.bayesian == Fraction(95, 23)
    assert summary.dimensions["empathy"] == 3


def test_a_bad_rating_opens_a_follow_up_and_the_citizen_re_rates_once(market, world, client):
    from marketplace.accounts.models import User
    from marketplace.ratings import services
    from marketplace.ratings.services import FOLLOW_UP_DEADLINE
    from tests.marketplace.webpages import login, submit, text

    citizen = market.citizens["citizen"]
    txn = market.complete(citizen, market.apps["a"])
    bad = services.rating_create(citizen, txn.id, stars=2)  # 不满意, one tap, no dimensions
    assert bad.follow_up is not None and bad.follow_up.due_at - bad.created_at == FOLLOW_UP_DEADLINE
    assert bad.dimension_scores() == dict.fromkeys(DIMS)
    good = rate(market.citizen("happy"), market.complete(market.citizen("happy"), market.apps["a"]), 4)
    assert good.follow_up is None
    with pytest.raises(Conflict):
        services.rating_rerate(citizen, bad.id, stars=4)  # not answered, not overdue
    with pytest.raises(Forbidden):
        services.rating_follow_up_answer(db.session.get(User, world.ids["vendor_b"]), bad.id, "x")
    services.rating_follow_up_answer(db.session.get(User, world.ids["vendor_a"]), bad.id, "已修复上传失败的问题")

    login(client, "citizen")
    page = text(client.get(f"/my/cases/{txn.case_number}?lang=zh_CN"))
    assert "已修复上传失败的问题" in page and 'id="rerate-form"' in page
    assert submit(client, f"/my/cases/{txn.case_number}", {"stars": "4"},
                  action=f"/my/cases/{txn.case_number}/rerate").status_code == 302
    db.session.expire_all()
    again = db.session.get(type(bad), bad.id)
    assert (again.first_stars, again.stars) == (2, 4) and again.rerated_at is not None
    with pytest.raises(Conflict):
        services.rating_rerate(citizen, bad.id, stars=5)  # once
    assert 'id="rerate-form"' not in text(client.get(f"/my/cases/{txn.case_number}"))


def test_a_re_rating_after_the_freeze_leaves_the_frozen_figures(market, world):
    from billing.calendar import quarter_span
    from billing.source import settlement_source
    from marketplace.accounts.models import User
    from marketplace.ratings import services

    now = utcnow()
    span = quarter_span(f"{now.year}Q{(now.month - 1) // 3 + 1}")
    citizen = market.citizens["citizen"]
    bad = services.rating_create(citizen, market.complete(citizen, market.apps["a"]).id, stars=1,
                                 now=now - timedelta(minutes=5))
    services.rating_follow_up_answer(db.session.get(User, world.ids["vendor_a"]), bad.id, "已整改")
    services.rating_rerate(citizen, bad.id, stars=5, now=now + timedelta(hours=1))
    frozen = settlement_source().rating_stats(span, [market.apps["a"].id], now)[market.apps["a"].id]
    later = settlement_source().rating_stats(span, [market.apps["a"].id], now + timedelta(hours=2))[market.apps["a"].id]
    assert (frozen.stars_sum, later.stars_sum) == (1, 5)
