"""Manipulation signals: the rules, as pure functions of a new rating and what the platform knows around it.

The same functions judge ratings in production (``services.detect_signals`` reads their inputs from the database)
and in the benchmark (``bench/rating_signals.py`` keeps them in memory), so the figures in bench/README.md are the
figures of the rules that run. A signal only sends ratings to the moderators' queue: they keep counting for
display and pay until a moderator hides them.

Rules, each relative to the rated app's own traffic where traffic matters:

- **burst** — ratings of one app with the same stars from young accounts (created less than ``YOUNG_ACCOUNT``
  before rating) within ``BURST_WINDOW``, more than the app's own young-account ratings with those stars at the
  same hours of the previous ``BASELINE`` days explain (``rhythm_windows``: the window's hour and
  ``RHYTHM_MARGIN`` either side, each day since the app's first rating; ``surprising``: at least ``BURST_MIN``
  and above the Poisson mean plus 5 standard deviations plus ``BURST_MARGIN``); those ratings are flagged. A
  popular app gets more new citizens every hour, and more at its own busy hours than at night, so it needs a
  bigger burst to fire then; and an app most new citizens rate 4★ needs more 4★ than 5★ to fire.
- **bombing** — 1★ ratings of one app within ``BOMBING_WINDOW``, surprising against the app's own 1★ rate over
  ``BASELINE`` (or its life, if shorter: ``bombing_span``); those 1★ ratings are flagged.
- **ring** — at least ``RING_MEMBERS`` accounts that each rated the same ``RING_APPS`` or more apps within
  ``RING_WINDOW`` of each other's ratings (the same people rating the same apps together).
- **device** — ``DEVICE_ACCOUNTS`` or more accounts rating one app from the same device fingerprint (user agent
  and network prefix) within ``DEVICE_WINDOW``.
- **staff** — a rating that lifts the rated app (``STAFF_MIN_STARS`` or more) from a network its vendor's members
  log in from, or from a citizen account that logged in from a browser one of them uses
  (``marketplace.accounts.staff_traces``, kept ``STAFF_TRACE_DAYS``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

YOUNG_ACCOUNT = timedelta(days=3)
BASELINE = timedelta(days=14)
BURST_WINDOW, BURST_MIN = timedelta(hours=1), 5
# The burst window slides over every moment of the day, so chance clusters reach further into a Poisson tail
# than one fixed window would: a wider margin than bombing's keeps organic clusters quiet.
BURST_MARGIN = 5
RHYTHM_MARGIN = timedelta(hours=1)  # the burst baseline's hours of each day: the window's and one either side
PEAK_FACTOR = 3  # until an app has a day of history: its busiest hour carries about three times its mean rate
BOMBING_WINDOW, BOMBING_MIN = timedelta(hours=6), 6
MIN_SPAN = timedelta(days=1)  # an app's history shorter than this is taken as this long
RING_WINDOW, RING_APPS, RING_MEMBERS = timedelta(days=1), 3, 4
DEVICE_WINDOW, DEVICE_ACCOUNTS = timedelta(days=7), 3
STAFF_MIN_STARS = 4  # staff lift their own app; their lower ratings of it move nothing in their favour
KINDS = ("burst", "bombing", "ring", "device", "staff")


@dataclass(frozen=True)
class RatingFacts:
    """What the rules see of one rating."""

    rating_id: int
    app_id: int
    vendor_id: int
    citizen_id: int
    stars: int
    at: datetime
    account_created_at: datetime
    device: str = ""  # fingerprint: user agent + network prefix
    network: str = ""  # the network prefix alone (in production its keyed hash, as the staff traces keep it)

    @property
    def young(self) -> bool:
        return self.at - self.account_created_at < YOUNG_ACCOUNT


@dataclass(frozen=True)
class AppBaseline:
    """An app's own traffic the rule compares its window with: ``ratings`` over ``span``. For the burst rule its
    young-account ratings with the new rating's stars in ``rhythm_windows``, over their span; for the bombing
    rule its 1★ ratings in ``bombing_span``."""

    ratings: int = 0
    span: timedelta = BASELINE


def rhythm_windows(now: datetime, since: datetime) -> tuple[list[tuple[datetime, datetime]], timedelta]:
    """The burst baseline's spans ``[start, end)`` and their length: on each of the ``BASELINE`` days before ``now``,
    the hours of the burst window and ``RHYTHM_MARGIN`` either side — the app's own traffic at this time of day —
    from ``since`` (its first rating) on. An app with less than one such day of history has no rhythm yet: its
    whole history stands in, counted as if its busiest hour carried ``PEAK_FACTOR`` times its mean rate."""
    day = timedelta(days=1)
    windows = [(max(now - k * day - BURST_WINDOW - RHYTHM_MARGIN, since), now - k * day + RHYTHM_MARGIN)
               for k in range(1, BASELINE // day + 1)]
    windows = [(start, end) for start, end in windows if end > start]
    span = sum((end - start for start, end in windows), timedelta(0))
    if span >= BURST_WINDOW + 2 * RHYTHM_MARGIN:
        return windows, span
    end = now - BURST_WINDOW
    return ([(since, end)], (end - since) / PEAK_FACTOR) if end > since else ([], timedelta(0))


def bombing_span(now: datetime, since: datetime) -> tuple[datetime, datetime, timedelta]:
    """The bombing baseline: ``[start, end)`` — ``BASELINE`` before the rule's window, from ``since`` (the app's first
    rating) on — and the span its count is spread over, at least ``MIN_SPAN``: a new app's 1★ rate is its own, not
    its first days' count spread over a fortnight it did not exist."""
    end = now - BOMBING_WINDOW
    start = max(end - BASELINE, since)
    return start, end, max(end - start, MIN_SPAN)


def surprising(count: int, expected: float, minimum: int, margin: int = 3) -> bool:
    """Whether ``count`` events are beyond what a Poisson rate with mean ``expected`` explains: at least ``minimum``
    and the mean plus 5 standard deviations plus ``margin``."""
    return count >= max(minimum, expected + 5 * math.sqrt(expected) + margin)


def burst(new: RatingFacts, app_window: Iterable[RatingFacts], baseline: AppBaseline) -> set[int]:
    """``app_window``: the app's ratings in (new.at − BURST_WINDOW, new.at], the new one included; ``baseline``: its
    young-account ratings with ``new.stars`` in the windows ``rhythm_windows`` gives, over the span it gives."""
    young = [r for r in app_window if r.young and r.stars == new.stars and new.at - r.at < BURST_WINDOW]
    expected = baseline.ratings * (BURST_WINDOW / baseline.span) if baseline.span else 0.0
    fired = new.young and surprising(len(young), expected, BURST_MIN, BURST_MARGIN)
    return {r.rating_id for r in young} if fired else set()


def bombing(new: RatingFacts, app_window: Iterable[RatingFacts], baseline: AppBaseline) -> set[int]:
    """``app_window``: the app's ratings in (new.at − BOMBING_WINDOW, new.at], the new one included; ``baseline``:
    its 1★ ratings in the span ``bombing_span`` gives."""
    if new.stars != 1:
        return set()
    ones = [r for r in app_window if r.stars == 1 and new.at - r.at < BOMBING_WINDOW]
    expected = baseline.ratings * (BOMBING_WINDOW / baseline.span)
    return {r.rating_id for r in ones} if surprising(len(ones), expected, BOMBING_MIN) else set()


def ring(new: RatingFacts, co_ratings: Iterable[RatingFacts]) -> set[int]:
    """``co_ratings``: ratings within RING_WINDOW of the new one of the apps its citizen rated in that window (the
    citizen's own included). Fires when RING_MEMBERS accounts share RING_APPS or more of those apps."""
    apps_by_citizen: dict[int, set[int]] = defaultdict(set)
    rows = [r for r in co_ratings if abs(new.at - r.at) <= RING_WINDOW]
    for r in rows:
        apps_by_citizen[r.citizen_id].add(r.app_id)
    mine = apps_by_citizen.get(new.citizen_id, set())
    if len(mine) < RING_APPS:
        return set()
    members = {c for c, apps in apps_by_citizen.items() if len(apps & mine) >= RING_APPS}
    if len(members) < RING_MEMBERS:
        return set()
    return {r.rating_id for r in rows if r.citizen_id in members and r.app_id in mine}


def device(new: RatingFacts, same_device: Iterable[RatingFacts]) -> set[int]:
    """``same_device``: the app's ratings with the new one's fingerprint within DEVICE_WINDOW."""
    if not new.device:
        return set()
    rows = [r for r in same_device if r.device == new.device and new.at - r.at < DEVICE_WINDOW]
    return {r.rating_id for r in rows} if len({r.citizen_id for r in rows}) >= DEVICE_ACCOUNTS else set()


def staff(new: RatingFacts, networks: Collection[str], citizens: Collection[int]) -> set[int]:
    """``networks``, ``citizens``: the rated app's vendor's staff networks and linked citizen accounts."""
    linked = (new.network and new.network in networks) or new.citizen_id in citizens
    return {new.rating_id} if linked and new.stars >= STAFF_MIN_STARS else set()
