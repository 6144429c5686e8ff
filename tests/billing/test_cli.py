import csv
import io

from billing import tasks
from tests.billing.conftest import Q3, record, usage_rows


def seed(source):
    source.add_order(1, fee=200, budget=1_000)
    source.add_app(11, 1, 101)
    source.add_app(12, 1, 102)
    record(usage_rows(1, 11, 101, 5) + usage_rows(1, 12, 102, 3))


def test_settle_previews_then_posts_with_progress_and_verify_passes(app, app_ctx, source, tmp_path):
    seed(source)
    runner = app.test_cli_runner()
    preview = runner.invoke(args=["billing", "settle", "--quarter", Q3])
    assert preview.exit_code == 0, preview.output
    assert "paid 10.00 (capped)" in preview.output and "nothing posted" in preview.output
    posted = runner.invoke(args=["billing", "settle", "--quarter", Q3, "--post"])
    assert posted.exit_code == 0, posted.output
    assert "[1/1] order 1" in posted.output and "settled=True" in posted.output
    again = runner.invoke(args=["billing", "settle", "--quarter", Q3, "--post"])
    assert "posted runs []" in again.output
    verify = runner.invoke(args=["ledger", "verify"])
    assert verify.exit_code == 0 and verify.output.startswith("ok: 2 entries")
    balance = runner.invoke(args=["ledger", "trial-balance", "--quarter", Q3])
    assert balance.output.splitlines()[-1].split()[-1] == "0.00"

    payouts = tmp_path / "payouts.csv"
    assert runner.invoke(args=["billing", "payouts", "--quarter", Q3, "--output", str(payouts)]).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(payouts.read_text())))
    assert sum(int(r["amount_fen"]) for r in rows) == 1_000
    bank = runner.invoke(args=["billing", "payouts", "--quarter", Q3, "--format", "pain001", "--output",
                               str(tmp_path / "payouts.xml")])
    assert bank.exit_code != 0 and "GOVMARKET_PAYOUT_DEBTOR_ACCOUNT" in bank.output, bank.output
    for fmt in ("csv", "pdf", "html"):
        out = tmp_path / f"report.{fmt}"
        result = runner.invoke(args=["billing", "report", "--quarter", Q3, "--format", fmt, "--output", str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 100
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")
    assert "<svg" in (tmp_path / "report.html").read_text()


def test_errors_are_explained_and_exit_non_zero(app, app_ctx, source):
    seed(source)
    result = app.test_cli_runner().invoke(args=["billing", "settle", "--quarter", "2026-3"])
    assert result.exit_code == 2 and "write it like 2026Q3" in result.output
    close = app.test_cli_runner().invoke(args=["billing", "close", "--quarter", Q3])
    assert close.exit_code == 2 and "post its settlement first" in close.output


def test_the_scheduled_job_settles_due_quarters_once(app_ctx, source):
    seed(source)
    assert tasks.due_quarters(tasks.quarter_span("2026Q4").starts_at) == []  # Q3 still in its grace period
    after_grace = tasks.quarter_span("2026Q4").starts_at + tasks.GRACE_PERIOD
    assert tasks.due_quarters(after_grace) == [Q3]
    assert tasks.settle_due_quarters(after_grace.isoformat()) == [Q3]
    assert tasks.due_quarters(after_grace) == []
    assert tasks.settle_due_quarters(after_grace.isoformat()) == []


def test_rq_schedules_the_settlement_at_the_grace_end_once(app, app_ctx):
    from redis import Redis
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    from core.queue import RQJobQueue
    from tests.services import require_redis

    url = require_redis()
    previous = app.extensions["job_queue"]
    app.extensions["job_queue"] = RQJobQueue(url)
    now = tasks.quarter_span("2031Q2").starts_at
    try:
        job_id = tasks.schedule_next_settlement(now)
        assert job_id == "billing-settle-2031Q2"
        assert tasks.schedule_next_settlement(now) == job_id  # idempotent
        registry = ScheduledJobRegistry(tasks.QUEUE, connection=Redis.from_url(url))
        assert job_id in registry.get_job_ids()
        scheduled = registry.get_scheduled_time(job_id)
        assert scheduled == tasks.quarter_span("2031Q2").ends_at + tasks.GRACE_PERIOD
    finally:
        Job.fetch("billing-settle-2031Q2", connection=Redis.from_url(url)).delete()
        app.extensions["job_queue"] = previous


def test_cli_refuses_a_float_order_id(app, app_ctx, source):
    result = app.test_cli_runner().invoke(args=["billing", "settle", "--quarter", Q3, "--order", "1.5"])
    assert result.exit_code == 2 and "not a valid integer" in result.output
