"""The manipulation rules as pure functions (``marketplace.ratings.signals``): each judged against the rated app's
own traffic — its time of day, its levels, its life so far."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from marketplace.ratings import signals
from marketplace.ratings.signals import AppBaseline, RatingFacts

START = datetime(2026, 7, 1, tzinfo=UTC)
_ids = count(1)


def facts(at, stars=5, *, young=True, citizen=None, network="", app_id=1, vendor_id=1) -> RatingFacts:
    rating_id = next(_ids)
    age = timedelta(hours=5) if young else timedelta(days=300)
    return RatingFacts(rating_id, app_id, vendor_id, citizen or rating_id, stars, at, at - age, network=network)


def history(days: int, *, hours: range, per_hour: int, stars=5) -> list[RatingFacts]:
    """``per_hour`` young-account ratings with ``stars`` in each of ``hours`` of each of ``days`` days."""
    return [facts(START + timedelta(days=d, hours=h, minutes=60 * k / per_hour), stars)
            for d in range(days) for h in hours for k in range(per_hour)]


def burst_baseline(rows: list[RatingFacts], new: RatingFacts) -> AppBaseline:
    """What ``services._burst_baseline`` counts, over in-memory rows."""
    windows, span = signals.rhythm_windows(new.at, min(r.at for r in rows))
    return AppBaseline(sum(1 for r in rows if r.young and r.stars == new.stars
                           and any(start <= r.at < end for start, end in windows)), span)


def cluster(at: datetime, n: int, stars=5) -> list[RatingFacts]:
    return [facts(at + timedelta(minutes=5 * i), stars) for i in range(n)]


def test_a_cluster_at_the_apps_own_busy_hour_is_ordinary_and_the_same_at_night_is_a_burst():
    past = history(14, hours=range(9, 18), per_hour=2)  # new citizens rate 5★ by day, never at night
    day = START + timedelta(days=14, hours=10)
    night = START + timedelta(days=14, hours=3)
    by_day, at_night = cluster(day, 9), cluster(night, 9)
    assert signals.burst(by_day[-1], by_day, burst_baseline(past, by_day[-1])) == set()
    assert signals.burst(at_night[-1], at_night, burst_baseline(past, at_night[-1])) == {r.rating_id for r in at_night}


def test_the_baseline_is_of_the_bursts_own_level():
    """New citizens rate this app 4★ all day; nine 4★ in an hour are ordinary, nine 5★ are not."""
    past = history(14, hours=range(24), per_hour=2, stars=4)
    at = START + timedelta(days=14, hours=10)
    fours, fives = cluster(at, 9, 4), cluster(at, 9, 5)
    assert signals.burst(fours[-1], fours, burst_baseline(past, fours[-1])) == set()
    assert signals.burst(fives[-1], fives, burst_baseline(past, fives[-1])) == {r.rating_id for r in fives}


def test_rhythm_windows_are_the_same_hours_of_each_past_day_since_the_first_rating():
    now = START + timedelta(days=20, hours=12)
    windows, span = signals.rhythm_windows(now, START)
    assert len(windows) == 14 and span == 14 * timedelta(hours=3)
    assert windows[0] == (now - timedelta(days=1, hours=2), now - timedelta(days=1) + timedelta(hours=1))
    windows, span = signals.rhythm_windows(now, now - timedelta(days=3, hours=2))  # three days old: three days
    assert len(windows) == 3 and span == 3 * timedelta(hours=3)
    windows, span = signals.rhythm_windows(now, now - timedelta(days=3))  # the third day cut at its first rating
    assert len(windows) == 3 and span == 2 * timedelta(hours=3) + timedelta(hours=1)
    # Younger than a day: its whole life, as if its busiest hour carried PEAK_FACTOR times its mean.
    windows, span = signals.rhythm_windows(now, now - timedelta(hours=7))
    assert windows == [(now - timedelta(hours=7), now - timedelta(hours=1))]
    assert span == timedelta(hours=6) / signals.PEAK_FACTOR


def test_a_new_apps_one_star_rate_is_its_own_not_spread_over_a_fortnight():
    """Two days old with twelve 1★ a day: eight 1★ in six hours is near its ordinary rate, not bombing."""
    now = START + timedelta(days=2)
    start, end, span = signals.bombing_span(now, START)
    assert (start, end, span) == (START, now - signals.BOMBING_WINDOW, timedelta(hours=42))
    ones = [facts(now - timedelta(minutes=40 * i), 1) for i in range(8)]
    assert signals.bombing(ones[0], ones, AppBaseline(21, span)) == set()  # 12 a day over those 42 hours
    assert signals.bombing(ones[0], ones, AppBaseline(21, signals.BASELINE)) != set()  # the fortnight's reading
    assert signals.bombing_span(now, now - timedelta(hours=7))[2] == signals.MIN_SPAN


def test_staff_ratings_lifting_their_own_vendors_app_from_its_networks_or_linked_accounts():
    at = START
    assert signals.staff(facts(at, 5, network="office"), {"office"}, ()) != set()
    assert signals.staff(facts(at, 4, citizen=77), (), {77}) != set()
    assert signals.staff(facts(at, 3, network="office"), {"office"}, ()) == set()  # lifts nothing
    assert signals.staff(facts(at, 5, network="elsewhere", citizen=78), {"office"}, {77}) == set()
    assert signals.staff(facts(at, 5), {""}, ()) == set()  # no network known for the rating: no match on ""
