"""The comparison does not mislead: no star value below the minimum count, an order by a rule the page states, and
the prior never lifting an app with few ratings above one with enough."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.formula import bayesian_rating
from marketplace.citizen.choice import AppRatingSummary, comparison_key, rating_lower_bound
from tests.marketplace.citizen_world import *  # noqa: F403  (the `market` fixture)

N = 10
DIMS = {"tangibility": 3, "reliability": 3, "responsiveness": 3, "assurance": 3, "empathy": 3}

apps_strategy = st.lists(
    st.tuples(st.lists(st.integers(0, 30), min_size=5, max_size=5),  # counts of 1..5 stars
              st.integers(0, 2000)),  # completed cases
    min_size=2, max_size=8)
priors = st.fractions(min_value=1, max_value=5)


def ordered(apps, prior: Fraction) -> list[int]:
    summaries = []
    for i, (dist, completed) in enumerate(apps):
        n, total = sum(dist), sum((k + 1) * c for k, c in enumerate(dist))
        summary = AppRatingSummary(i, n, total, tuple(dist), bayesian_rating(total, n, prior), {})
        summaries.append((summary, completed))
    return [s.app_id for s, completed in
            sorted(summaries, key=lambda x: comparison_key(x[0], x[1], f"app{x[0].app_id}", x[0].app_id, N))]


@given(apps_strategy, priors, priors)
def test_the_prior_never_lifts_an_app_with_too_few_ratings_above_one_with_enough(apps, prior, other_prior):
    order = ordered(apps, prior)
    enough = [sum(apps[i][0]) >= N for i in order]
    assert enough == sorted(enough, reverse=True), "every app with enough ratings comes before every app without"
    assert order == ordered(apps, other_prior), "the order does not depend on the prior at all"


@given(st.lists(st.integers(0, 30), min_size=5, max_size=5))
def test_the_lower_bound_is_within_the_stars_and_below_the_mean(dist):
    bound = rating_lower_bound(tuple(dist))
    n = sum(dist)
    if not n:
        assert bound is None
        return
    mean = sum((k + 1) * c for k, c in enumerate(dist)) / n
    assert 1.0 <= bound <= mean + 1e-9


def test_more_ratings_of_the_same_mean_rank_higher():
    few, many = (0, 0, 0, 5, 5), (0, 0, 0, 50, 50)
    assert rating_lower_bound(many) > rating_lower_bound(few)


def test_the_page_shows_too_few_ratings_and_orders_by_the_written_rule(client, market):
    from marketplace.ratings import services as ratings

    app_a, app_b = market.apps["a"], market.apps["b"]
    for i in range(12):  # app A: popular, but nobody rated it
        market.complete(market.citizen(f"a{i}"), app_a)
    for i in range(N):  # app B: fewer cases, ten middling ratings
        c = market.citizen(f"b{i}")
        ratings.rating_create(c, market.complete(c, app_b).id, stars=3, dimensions=DIMS)
    apps = client.get("/api/service-items/item-a/apps").json
    assert [a["slug"] for a in apps] == ["rival-b", "app-a"]
    assert apps[0]["bayesian_rating"] is not None and apps[0]["rating_lower_bound"] == "3.00"
    assert apps[1]["bayesian_rating"] is None and apps[1]["ratings"] == 0

    page = client.get("/services/items/item-a", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    card_a = page[page.index('id="app-app-a"'):]
    facts_a = card_a[card_a.index('<dl class="facts">'):card_a.index("</dl>")]
    assert "评价不足" in facts_a and "★" not in facts_a
    assert page.index('id="app-rival-b"') < page.index('id="app-app-a"')
    assert 'id="order-rule"' in page
    english = client.get("/services/items/item-a", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Too few ratings" in english and "lower bound of their rating" in english


@pytest.mark.parametrize("count", [N - 1, N])
def test_stars_appear_from_the_minimum_count(client, market, count):
    from marketplace.ratings import services as ratings

    for i in range(count):
        c = market.citizen(f"r{i}")
        ratings.rating_create(c, market.complete(c, market.apps["a"]).id, stars=5, dimensions=DIMS)
    page = client.get("/services/apps/app-a", headers={"Accept-Language": "en"}).get_data(as_text=True)
    facts = page[page.index('id="app-facts"'):page.index("</dl>")]
    assert ("Too few ratings" in facts) == (count < N)
    assert ("★" in facts) == (count >= N)
