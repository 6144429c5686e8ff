"""`govmarket demo seed`: the whole demo story, each step idempotent, with its timings.

1. the standing data (departments, items, orders, life events, vendors, accounts);
2. the six sample apps packaged, uploaded, certified in the sandbox, approved and published (four pass);
3. the past quarter of citizens' activity: cases, usage events, ratings, complaints, reported ratings;
   and some activity in the current quarter so far;
4. the past quarter settled by finance (preview, then post).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from billing import services as billing
from core.extensions import db
from core.time import utcnow
from marketplace.accounts.models import User
from marketplace.demo import apps as demo_apps
from marketplace.demo import history
from marketplace.demo.base import one, seed_base
from marketplace.demo.timeline import Timeline, timeline
from marketplace.vendors.models import Vendor

DEFAULT_CITIZENS = 400
FINANCE = "finance@govmarket.example.cn"


def _quiet(message: str = "", nl: bool = True) -> None:
    return None


@dataclass
class SeedResult:
    when: Timeline
    accounts: list[tuple[str, str, str]]
    apps: dict = field(default_factory=dict)  # folder -> App (all six)
    published: dict = field(default_factory=dict)  # folder -> App (the live ones)
    timings: dict[str, float] = field(default_factory=dict)
    settled: bool = False


class _Clock:
    def __init__(self, result: SeedResult, echo):
        self.result, self.echo = result, echo

    def __call__(self, name: str):
        clock = self

        class _Step:
            def __enter__(self):
                self.started = time.perf_counter()
                clock.echo(f"• {name}")

            def __exit__(self, *exc):
                seconds = time.perf_counter() - self.started
                clock.result.timings[name] = seconds
                if exc[0] is None:
                    clock.echo(f"  ({seconds:.1f} s)")

        return _Step()


def seed(*, citizens: int = DEFAULT_CITIZENS, story: bool = True, echo=_quiet, now=None) -> SeedResult:
    """Seed the demo. ``story=False`` seeds only the standing data (step 1). ``citizens`` is how many people
    use the apps in the past quarter. Idempotent: a second run finds everything and adds nothing."""
    when = timeline(now or utcnow())
    result = SeedResult(when, [])
    step = _Clock(result, echo)
    with step("departments, service items, open orders, vendors and accounts"):
        result.accounts = seed_base(when)
    if not story:
        return result
    with step("sample apps: packaged, uploaded, certified in the sandbox, approved and published"):
        result.apps = demo_apps.seed_apps(echo)
        result.published = demo_apps.published(result.apps)
    quarter = billing.quarter_get(_finance(), when.past.code, now=when.now)
    if quarter.status in {"settled", "closed"}:
        echo(f"• {when.past.code} is settled already: its history is complete")
    else:
        with step(f"citizens' activity in {when.past.code} (the past quarter) and {when.current.code} so far"):
            _history(result, citizens, echo)
        with step(f"settling {when.past.code}: preview, then post"):
            _settle(result, echo)
    result.settled = billing.quarter_get(_finance(), when.past.code, now=when.now).status in {"settled", "closed"}
    return result


def _finance() -> User:
    return one(User, email=FINANCE)


def _history(result: SeedResult, citizens: int, echo) -> None:
    when, live = result.when, result.published
    started = time.perf_counter()
    data = history.serving_dataset()
    cast = history.cast_resident_ids()
    past = history.plan_quarter(data, when.past, when.now, live, citizens=citizens, exclude=cast,
                                seed=f"demo:{when.past.code}:{citizens}")
    zhang = history.zhang_wei_case(live, when.past, when.now)
    if zhang is not None:
        past.cases.append(zhang)
        past.cases.sort(key=lambda c: c.started_at)
    history.add_story_details(past, random.Random(f"details:{when.past.code}"))  # noqa: S311
    # The current quarter so far: other people of the dataset, at a quieter pace.
    elapsed = (when.now - when.current.starts_at) / (when.past.ends_at - when.past.starts_at)
    current = history.plan_quarter(data, when.current, when.now - timedelta(hours=2), live,
                                   citizens=max(1, int(citizens * elapsed * 0.4)),
                                   exclude=cast | set(past.citizens), seed=f"demo:{when.current.code}:{citizens}")
    echo(f"  planned {len(past.citizens)} citizens, {len(past.cases)} cases in {when.past.code} and "
         f"{len(current.cases)} in {when.current.code} ({time.perf_counter() - started:.1f} s, mock dataset "
         f"{current_app.config['SERVING_DATASET']})")
    for plan, code in ((past, when.past.code), (current, when.current.code)):
        written = history.write_plan(plan, live, lambda n, total, code=code: echo(
            f"  {code}: {n}/{total} cases written", nl=True) if n == total or n % 200 == 0 else None)
        echo(f"  {code}: +{written.citizens} citizens, +{written.cases} cases ({written.completed} completed, each "
             f"with its usage event), +{written.ratings} ratings, +{written.complaints} complaints answered, "
             f"+{written.flags} ratings reported")
    replies = history.reply_to_low_ratings(live)
    if replies:
        echo(f"  vendors answered {replies} low ratings publicly")


def _settle(result: SeedResult, echo) -> None:
    finance, code = _finance(), result.when.past.code
    preview = billing.settlement_preview(finance, code)
    echo(f"  preview: {len(preview.orders)} orders, {len(preview.awards)} awards, total "
         f"{preview.total_fen / 100:,.2f} yuan")
    outcome = billing.settlement_post(finance, code)
    echo(f"  posted {len(outcome.posted)} settlement runs; {code} is "
         f"{'settled' if outcome.settled else 'not settled yet'}")
    # Each vendor's settlement account, as finance registers it from the contract (fictional numbers), so the
    # quarter's bank file (ISO 20022 pain.001) can be written; `make run` configures the paying treasury account.
    for vendor in db.session.scalars(sa.select(Vendor).order_by(Vendor.id)):
        billing.payee_set(finance, vendor.id, holder_name=vendor.name, credit_code=vendor.credit_code,
                          account_number=f"6222{vendor.id:0>12}", bank_code="102100099996",
                          bank_name="中国工商银行（示例）", now=result.when.now)
    echo("  registered the vendors' payee accounts for the bank file")
