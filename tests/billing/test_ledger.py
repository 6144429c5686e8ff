"""The ledger's guarantees against a database with real commits: the database itself refuses edits,
deletions and unbalanced entries; verification names altered, removed and inserted rows; two concurrent
posts yield one; a crash in the middle of posting leaves nothing behind."""

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from billing import services
from billing.models import Account, JournalEntry, LedgerHead, Posting, SettlementRun, UsageEvent
from billing.source import EXTENSION_KEY
from core.extensions import db
from tests.billing.conftest import AFTER_Q3, FINANCE, Q3, FixtureSettlementSource, disable_guards, usage_rows
from tests.conftest import TEST_DATABASE, make_app, upgrade

SYSTEM_NOW = AFTER_Q3


@pytest.fixture
def committed(fresh_database_url, tmp_path):
    """An app on its own migrated database where commits are real, with two orders and usage recorded."""
    application = make_app(fresh_database_url, tmp_path)
    upgrade(application)
    source = FixtureSettlementSource()
    source.add_order(1, department_id=10, fee=200, budget=10_000_000)
    source.add_order(2, department_id=20, fee=150, budget=2_000)
    for app_id, order_id, vendor_id in ((11, 1, 101), (12, 1, 102), (21, 2, 101)):
        source.add_app(app_id, order_id, vendor_id)
    source.rate(11, 30, 130)
    application.extensions[EXTENSION_KEY] = source
    with application.app_context():
        services.usage_record_batch(None, usage_rows(1, 11, 101, 30) + usage_rows(1, 12, 102, 5)
                                    + usage_rows(2, 21, 101, 40), now=SYSTEM_NOW)
        yield application
        db.session.remove()
        db.engine.dispose()


def posted_state():
    return (db.session.scalar(sa.select(sa.func.count()).select_from(SettlementRun)),
            db.session.scalar(sa.select(sa.func.count()).select_from(JournalEntry)),
            db.session.scalar(sa.select(sa.func.count()).select_from(Posting)),
            db.session.get(LedgerHead, 1).seq)


def refused(statement, params=None):
    with pytest.raises(sa.exc.DBAPIError) as info:
        db.session.execute(sa.text(statement), params or {})
        db.session.commit()
    db.session.rollback()
    return str(info.value)


def test_the_database_refuses_edits_and_deletions_of_the_ledger(committed):
    services.settlement_post(FINANCE, Q3, now=SYSTEM_NOW)
    assert "append-only" in refused("UPDATE billing_postings SET amount = amount + 1")
    assert "append-only" in refused("DELETE FROM billing_postings")
    assert "append-only" in refused("UPDATE billing_journal_entries SET memo = 'edited'")
    assert "append-only" in refused("DELETE FROM billing_journal_entries")
    assert "append-only" in refused("UPDATE billing_settlement_lines SET amount_fen = 0")
    assert "ledger head" in refused("UPDATE billing_ledger_head SET seq = seq - 1")
    assert services.ledger_verify(FINANCE).ok


def test_the_database_refuses_an_unbalanced_or_incomplete_entry(committed):
    services.settlement_post(FINANCE, Q3, order_ids=[1], now=SYSTEM_NOW)
    treasury = db.session.scalar(sa.select(Account).where(Account.code == "treasury"))
    now = datetime.now(UTC)

    def entry(seq, count):
        db.session.execute(sa.text(
            "INSERT INTO billing_journal_entries (seq, quarter_code, kind, memo, posting_count, created_at, created_by,"
            " prev_hash, hash) VALUES (:seq, '2026Q3', 'adjustment', 'sneaky', :count, :now, 'x', :h, :h2)"),
            {"seq": seq, "count": count, "now": now if TEST_DATABASE == "postgres" else now.replace(tzinfo=None),
             "h": "0" * 64, "h2": f"{seq:064d}"})
        return db.session.scalar(sa.select(JournalEntry.id).where(JournalEntry.seq == seq))

    def posting(entry_id, line, amount):
        db.session.execute(sa.text(
            "INSERT INTO billing_postings (entry_id, line_no, account_id, amount, currency, memo)"
            " VALUES (:e, :l, :a, :amount, 'CNY', '')"), {"e": entry_id, "l": line, "a": treasury.id, "amount": amount})

    with pytest.raises(sa.exc.DBAPIError, match="balance"):
        entry_id = entry(1000, 2)
        posting(entry_id, 1, 500)
        posting(entry_id, 2, -499)
        db.session.commit()
    db.session.rollback()
    with pytest.raises(sa.exc.DBAPIError, match="postings"):
        entry_id = entry(1001, 2)
        posting(entry_id, 1, 500)
        posting(entry_id, 2, -500)
        posting(entry_id, 3, 0)
        db.session.commit()
    db.session.rollback()
    if TEST_DATABASE == "postgres":  # the deferred trigger catches an entry committed without its postings
        with pytest.raises(sa.exc.DBAPIError, match="declares"):
            entry(1002, 2)
            db.session.commit()
        db.session.rollback()
    assert services.ledger_verify(FINANCE).ok


def test_verify_names_an_altered_posting(committed):
    services.settlement_post(FINANCE, Q3, now=SYSTEM_NOW)
    assert services.ledger_verify(FINANCE).ok
    disable_guards()
    target = db.session.scalar(sa.select(JournalEntry).where(JournalEntry.kind == "settlement").order_by(JournalEntry.seq))
    db.session.execute(sa.text("UPDATE billing_postings SET amount = amount + 100 WHERE entry_id = :e AND line_no = 2"),
                       {"e": target.id})
    db.session.execute(sa.text("UPDATE billing_postings SET amount = amount - 100 WHERE entry_id = :e AND line_no = 1"),
                       {"e": target.id})
    db.session.commit()
    report = services.ledger_verify(FINANCE)
    assert not report.ok
    assert any(f"entry #{target.seq} " in p and "altered" in p for p in report.problems), report.problems
    assert all(f"#{target.seq} " in p for p in report.problems)  # the balanced edit is pinned to that entry only


def test_verify_names_a_removed_entry(committed):
    services.settlement_post(FINANCE, Q3, now=SYSTEM_NOW)
    disable_guards()
    victim = db.session.scalar(sa.select(JournalEntry).where(JournalEntry.seq == 2))
    db.session.execute(sa.text("DELETE FROM billing_postings WHERE entry_id = :e"), {"e": victim.id})
    db.session.execute(sa.text("DELETE FROM billing_journal_entries WHERE id = :e"), {"e": victim.id})
    db.session.commit()
    report = services.ledger_verify(FINANCE)
    assert any("entries #2 are missing" in p for p in report.problems), report.problems
    # A longer gap is named as a range.
    victim = db.session.scalar(sa.select(JournalEntry).where(JournalEntry.seq == 3))
    db.session.execute(sa.text("DELETE FROM billing_postings WHERE entry_id = :e"), {"e": victim.id})
    db.session.execute(sa.text("DELETE FROM billing_journal_entries WHERE id = :e"), {"e": victim.id})
    db.session.commit()
    report = services.ledger_verify(FINANCE)
    assert any(p.startswith("entries #2–#3 are missing: the chain jumps to entry #4") for p in report.problems), \
        report.problems


def test_verify_names_a_removed_newest_entry(committed):
    services.settlement_post(FINANCE, Q3, now=SYSTEM_NOW)
    disable_guards()
    last_id, last_seq = db.session.execute(sa.select(JournalEntry.id, JournalEntry.seq)
                                           .order_by(JournalEntry.seq.desc()).limit(1)).one()
    # Remove the newest entry: the head still remembers it.
    db.session.execute(sa.text("DELETE FROM billing_postings WHERE entry_id = :e"), {"e": last_id})
    db.session.execute(sa.text("DELETE FROM billing_journal_entries WHERE id = :e"), {"e": last_id})
    db.session.commit()
    report = services.ledger_verify(FINANCE)
    assert any(f"entries after #{last_seq - 1} were removed" in p for p in report.problems), report.problems
    assert any(p.startswith(f"the chain ends at entry #{last_seq - 1} (") and f"records #{last_seq} (" in p
               for p in report.problems), report.problems


def test_verify_names_a_forged_entry_inserted_in_the_middle(committed):
    services.settlement_post(FINANCE, Q3, now=SYSTEM_NOW)
    disable_guards()
    # Make room at #2 (in two steps so the unique seq never collides), then forge an entry there.
    db.session.execute(sa.text("UPDATE billing_journal_entries SET seq = seq + 1000 WHERE seq >= 2"))
    db.session.execute(sa.text("UPDATE billing_journal_entries SET seq = seq - 999 WHERE seq >= 1000"))
    second = db.session.scalar(sa.select(JournalEntry).where(JournalEntry.seq == 3))
    db.session.execute(sa.text(
        "INSERT INTO billing_journal_entries (seq, quarter_code, kind, memo, posting_count, created_at, created_by,"
        " prev_hash, hash) SELECT 2, quarter_code, kind, 'forged', posting_count, created_at, created_by, prev_hash,"
        " :h FROM billing_journal_entries WHERE id = :e"), {"h": "f" * 64, "e": second.id})
    db.session.commit()
    report = services.ledger_verify(FINANCE)
    assert any("entry #2 " in p and "altered" in p for p in report.problems), report.problems
    assert any("entry #3 " in p and "does not link" in p for p in report.problems), report.problems


def test_a_crash_in_the_middle_of_posting_leaves_nothing_posted(committed):
    before = posted_state()

    def crash(step, detail):
        if step == "entries_written":
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        services.settlement_post(FINANCE, Q3, order_ids=[1], now=SYSTEM_NOW, progress=crash)
    db.session.rollback()
    assert posted_state() == before
    assert services.ledger_verify(FINANCE).ok
    outcome = services.settlement_post(FINANCE, Q3, now=SYSTEM_NOW)
    assert outcome.settled and len(outcome.posted) == 3
    assert services.ledger_verify(FINANCE).ok


def test_closed_quarter_is_frozen_by_the_database(committed):
    services.settlement_post(FINANCE, Q3, now=SYSTEM_NOW)
    services.quarter_close(FINANCE, Q3, now=SYSTEM_NOW)
    assert "closed" in refused("UPDATE billing_usage_events SET flag_reason = 'late edit' WHERE id = 1")
    assert "closed" in refused("UPDATE billing_quarters SET closed_at = NULL")
    # A new event settled in the closed quarter (PostgreSQL: one check per INSERT statement, over all its rows).
    assert "closed" in refused("INSERT INTO billing_usage_events (idempotency_key, order_id, app_id, vendor_id,"
                               " transaction_ref, occurred_at, received_at, quarter_code, settle_quarter_code, is_late)"
                               " SELECT 'late-' || idempotency_key, order_id, app_id, vendor_id, transaction_ref,"
                               " occurred_at, received_at, quarter_code, settle_quarter_code, is_late"
                               " FROM billing_usage_events")
    assert "closed" in refused("INSERT INTO billing_settlement_lines (run_id, app_id, vendor_id, order_id, completed,"
                               " late, ratings, stars_sum, bayesian_rating, multiplier, amount_fen, currency)"
                               " SELECT id, 99, 99, 1, 1, 0, 0, 0, '4', '1', 100, 'CNY' FROM billing_settlement_runs"
                               " LIMIT 1")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UsageEvent).where(UsageEvent.flag_reason.is_not(None))) == 0


def test_overlapping_concurrent_batches_count_each_event_once(committed):
    # Two connections report overlapping batches at once. PostgreSQL: the second COPY waits on the first's
    # uncommitted keys, fails on them once it commits, and its batch goes in through the staging table instead.
    barrier = threading.Barrier(2)
    results, errors = {}, []
    batches = {"a": usage_rows(1, 11, 101, 3000, prefix="c"), "b": usage_rows(1, 11, 101, 4500, prefix="c")[1500:]}

    def report(name):
        with committed.app_context():
            try:
                barrier.wait()
                results[name] = services.usage_record_batch(None, batches[name], now=SYSTEM_NOW)
            except Exception as exc:  # surfaced by the assertion below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=report, args=(name,)) for name in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    accepted = [r.idempotency_key for name in batches for r in results[name] if r.status == "accepted"]
    duplicates = [r.idempotency_key for name in batches for r in results[name] if r.status == "duplicate"]
    assert sorted(accepted) == sorted(row["idempotency_key"] for row in usage_rows(1, 11, 101, 4500, prefix="c"))
    assert len(duplicates) == 1500
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UsageEvent)
                             .where(UsageEvent.idempotency_key.like("c%"))) == 4500


def test_two_concurrent_posts_yield_one(committed):
    # Two threads, two real connections. PostgreSQL: row lock on the quarter; SQLite: BEGIN IMMEDIATE.
    barrier = threading.Barrier(2)
    results, errors = [], []

    def post():
        with committed.app_context():
            try:
                barrier.wait()
                results.append(services.settlement_post(FINANCE, Q3, order_ids=[1], now=SYSTEM_NOW))
            except Exception as exc:  # surfaced by the assertion below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert sorted(len(r.posted) for r in results) == [0, 1]
    assert {tuple(r.posted or r.already_posted) for r in results} == {tuple(results[0].posted or results[0].already_posted)}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SettlementRun)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(JournalEntry)) == 2
    assert services.ledger_verify(FINANCE).ok
