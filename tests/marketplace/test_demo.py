"""`govmarket demo seed` on a fresh database: the sample apps certified for real in the sandbox (bubblewrap), a past
quarter of citizens' activity written through the services, and that quarter settled; a second run adds nothing."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.auth import SYSTEM
from core.errors import ValidationError
from core.time import utcnow
from tests.services import require_bwrap

pytestmark = pytest.mark.real_jobs


def _row_counts() -> dict[str, int]:
    from core.extensions import db

    tables = sorted(sa.inspect(db.session.connection()).get_table_names())
    return {t: db.session.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar() for t in tables}


@pytest.fixture
def bwrap_sandbox(app, monkeypatch):
    require_bwrap()
    monkeypatch.setitem(app.config, "SANDBOX_BACKEND", "bwrap")
    monkeypatch.setitem(app.config, "SANDBOX_RUNS", "/run/govmarket-sandbox-test")


class SeederKilled(BaseException):
    """What a killed `make run` looks like to the seeder: nothing after it runs, no except-Exception catches it."""


def test_seed_resumes_after_a_killed_first_start_reaches_a_settled_quarter_and_adds_nothing_again(
        app_ctx, bwrap_sandbox, monkeypatch, tmp_path):
    import socket

    from billing import services as billing
    from billing.models import UsageEvent
    from core.extensions import db
    from marketplace.accounts.models import User
    from marketplace.citizen.statistics import kept_statistics, raw_statistics
    from marketplace.demo.base import vendor_email
    from marketplace.demo.data import SAMPLE_APPS
    from marketplace.demo.seed import seed
    from marketplace.ratings.models import Rating, counted_ratings
    from marketplace.transactions.services import published_version
    from marketplace.vendors import services as vendors
    from sandbox import harness, tasks

    # The first start is killed while it certifies the third sample app: its run is left 'testing' by a worker
    # that no longer exists (a pid that cannot be alive), as after Ctrl-C or an OOM kill of `make run`.
    real_certify, calls = harness.certify, []

    def killed_on_the_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise SeederKilled
        return real_certify(*args, **kwargs)

    monkeypatch.setattr(harness, "certify", killed_on_the_third)
    monkeypatch.setattr(tasks, "this_worker", lambda: f"{socket.gethostname()}:999999999.0")
    with pytest.raises(SeederKilled):
        seed(citizens=30, echo=lambda message="", nl=True: None)
    monkeypatch.setattr(harness, "certify", real_certify)

    lines: list[str] = []
    result = seed(citizens=30, echo=lambda message="", nl=True: lines.append(message))
    past = result.when.past
    output = "".join(lines)
    assert "certifying 食安通" not in output, "the second start re-certified an app the first one finished"
    assert "certifying 易食证 (food-yishi, bwrap) again … 24/27 passed" in output, output
    assert "certifying 卡宝" in output and "19/19 passed" in output

    finance = db.session.scalar(sa.select(User).where(User.email == "finance@govmarket.example.cn"))
    assert result.settled
    assert billing.quarter_get(finance, past.code).status == "settled"
    assert billing.quarter_get(finance, result.when.current.code).status == "open"
    verify = billing.ledger_verify(finance)
    assert verify.ok and verify.entries_checked >= 4, verify.problems

    passing = {a.folder for a in SAMPLE_APPS if a.passes}
    assert set(result.published) == passing
    for sample in SAMPLE_APPS:
        app = result.apps[sample.folder]
        if sample.passes:
            usage = db.session.scalar(sa.select(sa.func.count()).select_from(UsageEvent).where(
                UsageEvent.app_id == app.id, UsageEvent.settle_quarter_code == past.code,
                UsageEvent.is_late.is_(False)))
            rated = db.session.scalar(sa.select(sa.func.count()).select_from(Rating).where(
                Rating.app_id == app.id, Rating.created_at >= past.starts_at, Rating.created_at < past.ends_at,
                counted_ratings()))
            assert usage > 0 and rated > 0, (sample.folder, usage, rated)
            continue
        # The buggy apps failed certification, stay off the market, and their vendor sees why.
        assert published_version(app.id) is None
        [row] = app.versions
        assert vendors.version_status(row) == "failed"
        developer = db.session.scalar(sa.select(User).where(User.email == vendor_email(sample.vendor)))
        report = vendors.version_report(developer, row.id)
        assert report["view"] == "vendor" and report["state"] == "failed" and report["report"]["hidden"]

    report = billing.finance_report(finance, past.code)
    assert {row.app_id for row in report.apps if row.paid_fen > 0} == {result.published[f].id for f in passing}
    public = billing.transparency_report(None, past.code)
    assert public is not None and public.paid_fen == report.paid_fen > 0
    # The published dataset alone, fed to the standard-library script under a plain `python -I`, reproduces
    # every payout, award and ledger entry of the demo's settled quarter to the fen.
    from billing.dataset import RECOMPUTE_SCRIPT, as_json

    published = billing.transparency_dataset(None, past.code)
    assert "@" not in as_json(published), "no staff e-mail address is published"
    dataset_file = tmp_path / "dataset.json"
    dataset_file.write_text(as_json(published), encoding="utf-8")
    recomputed = subprocess.run([sys.executable, "-I", str(RECOMPUTE_SCRIPT), str(dataset_file)], capture_output=True,
                                text=True, timeout=60, cwd=tmp_path, check=False)
    assert recomputed.returncode == 0 and recomputed.stdout.splitlines()[-1].startswith("OK"), recomputed.stdout
    assert sum(a["paid_fen"] for o in published["orders"] for a in o["apps"]) == report.paid_fen
    # Every paid vendor has a payee account, so the quarter's bank file is written and is valid pain.001.
    import xmlschema

    from tests.billing.test_payments import TREASURY, XSD

    bank_file = billing.payout_bank_file(finance, past.code, config=TREASURY)
    xmlschema.XMLSchema(str(XSD)).validate(bank_file.decode("utf-8"))
    for folder in passing:
        sample = next(a for a in SAMPLE_APPS if a.folder == folder)
        developer = db.session.scalar(sa.select(User).where(User.email == vendor_email(sample.vendor)))
        statement = billing.vendor_statement(developer, developer.vendor_id, past.code)
        assert statement.balance.minor > 0

    # The seed writes its history through the services, so the catalogue's kept statistics count all of it.
    assert kept_statistics() == raw_statistics()
    assert kept_statistics()[1], "the seeded completed cases are counted per service item"

    before = _row_counts()
    again = seed(citizens=30)
    assert again.settled and _row_counts() == before
    assert kept_statistics() == raw_statistics()


def test_orders_are_dated_before_the_quarter_they_are_settled_in(app_ctx):
    from core.extensions import db
    from marketplace.demo.seed import seed
    from marketplace.orders.models import Order

    result = seed(story=False)
    orders = db.session.scalars(sa.select(Order)).all()
    assert {o.slug for o in orders} == {"food-licence", "social-security-card"}
    assert all(o.status == "open" and o.published_at < result.when.past.starts_at for o in orders)
    assert len(result.accounts) == 12  # admin, finance, auditor, two department staff, six vendors, a citizen


def test_an_order_cannot_be_published_in_the_future(world):
    from marketplace.orders import services as orders

    with pytest.raises(ValidationError, match="not in the future"):
        orders.order_publish(SYSTEM, world.ids["draft_a"], now=utcnow() + timedelta(days=1))
