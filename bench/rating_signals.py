"""Manipulation signals, measured: a quarter of organic ratings with injected attacks, judged by the rules that run
in production (``marketplace.ratings.signals``), streaming in time order as the platform sees them.

Prints JSON: per attack type its ratings, recall (share flagged by any rule) and the precision of the rule meant
for it; the false-positive rate on organic ratings; the time per rating. Deterministic for a seed.

    .venv/bin/python bench/rating_signals.py                 # seed 7, a 91-day quarter
    .venv/bin/python bench/rating_signals.py --seeds 1 2 3   # several quarters, one line each
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from marketplace.accounts.staff_traces import STAFF_TRACE_DAYS
from marketplace.ratings import signals
from marketplace.ratings.signals import AppBaseline, RatingFacts

START = datetime(2026, 7, 1, tzinfo=UTC)
DAYS = 91
# Share of a day's ratings in each hour (Beijing time shifted to UTC does not matter for the rules).
HOURS = [0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.5, 2.6, 3.4, 3.6, 3.0, 2.0, 2.4, 3.2, 3.5, 3.1, 2.4, 1.8, 2.0, 2.2,
         1.6, 0.9, 0.4]
STAFF_PER_VENDOR = (4, 12)
WORKS_FROM_HOME = 0.5  # share of staff who log in to the vendor console from home as well as from the office
RULE_FOR = {"burst": "burst", "bombing": "bombing", "ring": "ring", "device": "device", "staff": "staff"}


@dataclass(frozen=True)
class App:
    app_id: int
    vendor_id: int
    per_day: float
    quality: float  # mean stars of organic ratings


@dataclass(frozen=True)
class Staffer:
    home: str  # the home network, from the same pool as every household's
    works_from_home: bool  # logs in to the vendor console from home too


@dataclass
class Rated:
    facts: RatingFacts
    attack: str  # "" for organic


class World:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.ids = iter(range(1, 10**9))
        self.citizens = iter(range(1, 10**9))
        self.uas = [f"UA-{n}" for n in range(40)]
        self.apps = []
        for n in range(12):  # 4 orders × 3 competing apps; vendors 1–6 own two apps each in different orders
            per_day = (140.0, 35.0, 3.0)[n % 3] if n < 9 else 6.0
            self.apps.append(App(n + 1, n % 6 + 1, per_day, self.rng.uniform(3.4, 4.6)))
        self.offices = {v: f"office-{v}" for v in range(1, 7)}
        # Each vendor's staff and the console logins the platform records (marketplace.accounts.staff_traces), from
        # a generator of their own so that the organic quarter and the other attacks stay those of the seed.
        staff_rng = random.Random(f"{seed}-staff")
        self.staff = {v: [Staffer(f"net-{staff_rng.randrange(20000)}", staff_rng.random() < WORKS_FROM_HOME)
                          for _ in range(staff_rng.randint(*STAFF_PER_VENDOR))] for v in range(1, 7)}
        self.staff_rng = staff_rng
        self.logins: dict[int, dict[str, list[datetime]]] = {}
        for vendor, staffers in self.staff.items():
            # The office: every working day, since before the quarter. A home: on about one day a week, for those who
            # work from home at all.
            seen = {self.offices[vendor]: [START - timedelta(days=1)] + [
                START + timedelta(days=d, hours=9) for d in range(DAYS) if d % 7 < 5]}
            for staffer in staffers:
                if staffer.works_from_home:
                    seen.setdefault(staffer.home, []).extend(
                        START + timedelta(days=d, hours=staff_rng.uniform(8, 22)) for d in range(DAYS)
                        if staff_rng.random() < 1 / 7)
            self.logins[vendor] = {net: sorted(times) for net, times in seen.items()}

    def staff_networks(self, vendor: int, now: datetime) -> set[str]:
        """The vendor's staff networks the platform has seen within its retention before ``now``."""
        since = now - timedelta(days=STAFF_TRACE_DAYS)
        return {net for net, times in self.logins.get(vendor, {}).items()
                if (i := bisect.bisect_left(times, now)) and times[i - 1] >= since}

    def network(self) -> str:
        return f"net-{self.rng.randrange(20000)}"

    def stars(self, quality: float) -> int:
        return max(1, min(5, round(self.rng.gauss(quality, 1.0))))

    def organic(self) -> list[Rated]:
        rows = []
        households: list[tuple[str, str]] = []
        for app in self.apps:
            for day in range(DAYS):
                count = self._poisson(app.per_day * (1.3 if day % 7 in (0, 1, 2, 3) else 0.6))
                for _ in range(count):
                    at = START + timedelta(days=day, hours=self._hour(), seconds=self.rng.randrange(3600))
                    # A quarter of citizens register to do the case; the others have had an account for a while.
                    created = at - (timedelta(hours=self.rng.uniform(0.2, 48)) if self.rng.random() < 0.25
                                    else timedelta(days=self.rng.uniform(4, 900)))
                    if households and self.rng.random() < 0.03:  # a household sharing one phone
                        ua, net = self.rng.choice(households)
                    else:
                        ua, net = self.rng.choice(self.uas), self.network()
                        households.append((ua, net))
                    rows.append(Rated(self._facts(app, next(self.citizens), self.stars(app.quality), at, created,
                                                  ua, net), ""))
        return rows

    def attacks(self) -> list[Rated]:
        rows: list[Rated] = []
        small = [a for a in self.apps if a.per_day < 50]
        popular = [a for a in self.apps if a.per_day >= 50]
        for _ in range(6):  # a burst of 5★ from accounts made for it
            app, at = self.rng.choice(small + popular[:1]), self._moment()
            for _ in range(self.rng.randint(12, 40)):
                t = at + timedelta(minutes=self.rng.uniform(0, 75))
                rows.append(Rated(self._facts(app, next(self.citizens), 5, t, t - timedelta(hours=self.rng.uniform(0.1, 20)),
                                              self.rng.choice(self.uas), self.network()), "burst"))
        for _ in range(4):  # a ring: the same aged accounts rate the same apps within hours
            apps, at = self.rng.sample(self.apps, self.rng.randint(3, 4)), self._moment()
            for citizen in [next(self.citizens) for _ in range(self.rng.randint(5, 8))]:
                created = at - timedelta(days=self.rng.uniform(30, 400))
                ua, net = self.rng.choice(self.uas), self.network()
                for app in apps:
                    t = at + timedelta(hours=self.rng.uniform(0, 14))
                    rows.append(Rated(self._facts(app, citizen, 5, t, created, ua, net), "ring"))
        for _ in range(5):  # one device, many accounts
            app, at = self.rng.choice(self.apps), self._moment()
            ua, net = self.rng.choice(self.uas), self.network()
            for _ in range(self.rng.randint(4, 8)):
                t = at + timedelta(hours=self.rng.uniform(0, 72))
                rows.append(Rated(self._facts(app, next(self.citizens), 5, t, t - timedelta(days=self.rng.uniform(1, 300)),
                                              ua, net), "device"))
        for vendor in (1, 3, 5):  # a vendor's staff rate their own apps, mostly from the office, else from home
            own = [a for a in self.apps if a.vendor_id == vendor]
            for _ in range(self.rng.randint(6, 15)):
                t = self._moment()
                staffer = self.staff_rng.choice(self.staff[vendor])
                if self.rng.random() < 0.95:
                    net = self.offices[vendor]
                else:
                    self.network()  # drawn as before, so that the attacks after this one stay the seed's
                    net = staffer.home
                rows.append(Rated(self._facts(self.rng.choice(own), next(self.citizens), 5, t,
                                              t - timedelta(days=self.rng.uniform(5, 600)), self.rng.choice(self.uas),
                                              net), "staff"))
        for _ in range(4):  # review bombing of a competitor's app: 1★ from accounts old and new
            app, at = self.rng.choice(self.apps[:9]), self._moment()
            for _ in range(self.rng.randint(15, 30)):
                t = at + timedelta(hours=self.rng.uniform(0, 4))
                created = t - timedelta(days=self.rng.uniform(0.1, 300))
                rows.append(Rated(self._facts(app, next(self.citizens), 1, t, created, self.rng.choice(self.uas),
                                              self.network()), "bombing"))
        return rows

    def _facts(self, app, citizen, stars, at, created, ua, net) -> RatingFacts:
        return RatingFacts(next(self.ids), app.app_id, app.vendor_id, citizen, stars, at, created, f"{ua}|{net}", net)

    def _hour(self) -> int:
        return self.rng.choices(range(24), weights=HOURS)[0]

    def _moment(self) -> datetime:
        return START + timedelta(days=self.rng.uniform(15, DAYS - 2), hours=0)

    def _poisson(self, mean: float) -> int:
        # Knuth for small means, normal approximation above.
        if mean > 30:
            return max(0, round(self.rng.gauss(mean, mean ** 0.5)))
        limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1


class AppHistory:
    """One app's ratings in time order, with running counts for the baselines."""

    def __init__(self):
        self.times: list[datetime] = []
        self.rows: list[RatingFacts] = []
        self.young: dict[int, list[int]] = {stars: [0] for stars in range(1, 6)}  # young-account ratings by stars
        self.ones: list[int] = [0]

    def add(self, r: RatingFacts) -> None:
        self.times.append(r.at)
        self.rows.append(r)
        for stars, counts in self.young.items():
            counts.append(counts[-1] + (r.young and r.stars == stars))
        self.ones.append(self.ones[-1] + (r.stars == 1))

    def since(self, moment: datetime) -> list[RatingFacts]:
        return self.rows[bisect.bisect_right(self.times, moment):]

    def _count(self, counts: list[int], start: datetime, end: datetime) -> int:
        return counts[bisect.bisect_left(self.times, end)] - counts[bisect.bisect_left(self.times, start)]

    def burst_baseline(self, new: RatingFacts) -> AppBaseline:
        counts = self.young[new.stars]
        windows, span = signals.rhythm_windows(new.at, self.times[0])
        return AppBaseline(sum(self._count(counts, start, end) for start, end in windows), span)

    def bombing_baseline(self, now: datetime) -> AppBaseline:
        start, end, span = signals.bombing_span(now, self.times[0])
        return AppBaseline(self._count(self.ones, start, end) if end > start else 0, span)


def judge(rows: list[Rated], staff_networks) -> dict[int, set[str]]:
    """Stream the ratings in time order through the rules; every rating id → the kinds that flagged it."""
    flagged: dict[int, set[str]] = defaultdict(set)
    apps: dict[int, AppHistory] = defaultdict(AppHistory)
    by_citizen: dict[int, list[RatingFacts]] = defaultdict(list)
    by_device: dict[tuple[int, str], list[RatingFacts]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.facts.at, r.facts.rating_id)):
        new = row.facts
        history = apps[new.app_id]
        history.add(new)
        by_citizen[new.citizen_id].append(new)
        by_device[(new.app_id, new.device)].append(new)
        found = {
            "burst": signals.burst(new, history.since(new.at - signals.BURST_WINDOW), history.burst_baseline(new)),
            "bombing": signals.bombing(new, history.since(new.at - signals.BOMBING_WINDOW),
                                       history.bombing_baseline(new.at)),
            "device": signals.device(new, by_device[(new.app_id, new.device)]),
            "staff": signals.staff(new, staff_networks(new.vendor_id, new.at), ()),
        }
        mine = {r.app_id for r in by_citizen[new.citizen_id] if new.at - r.at <= signals.RING_WINDOW}
        if len(mine) >= signals.RING_APPS:
            co = [r for app_id in mine for r in apps[app_id].since(new.at - signals.RING_WINDOW)]
            found["ring"] = signals.ring(new, co)
        for kind, ids in found.items():
            for rating_id in ids:
                flagged[rating_id].add(kind)
    return flagged


def measure(seed: int) -> dict:
    world = World(seed)
    organic, attacks = world.organic(), world.attacks()
    rows = organic + attacks
    started = time.perf_counter()
    flagged = judge(rows, world.staff_networks)
    seconds = time.perf_counter() - started
    by_type: dict[str, list[Rated]] = defaultdict(list)
    for row in attacks:
        by_type[row.attack].append(row)
    kind_of = {row.facts.rating_id: row.attack for row in rows}
    result = {"seed": seed, "ratings": len(rows), "organic": len(organic),
              "organic_flagged": sum(1 for r in organic if flagged.get(r.facts.rating_id)),
              "attacks": {}}
    result["organic_false_positive_rate"] = round(result["organic_flagged"] / len(organic), 5)
    for attack, members in sorted(by_type.items()):
        rule = RULE_FOR[attack]
        by_rule = [rid for rid, kinds in flagged.items() if rule in kinds]
        hits = sum(1 for r in members if flagged.get(r.facts.rating_id))
        result["attacks"][attack] = {
            "ratings": len(members), "recall": round(hits / len(members), 3),
            "rule": rule, "rule_flagged": len(by_rule),
            "rule_precision": round(sum(1 for rid in by_rule if kind_of[rid] == attack) / len(by_rule), 3)
            if by_rule else None,
        }
    result["microseconds_per_rating"] = round(seconds / len(rows) * 1e6, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7])
    args = parser.parse_args()
    for seed in args.seeds:
        print(json.dumps(measure(seed), ensure_ascii=False))


if __name__ == "__main__":
    main()
