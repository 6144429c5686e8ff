"""The ledger's rules one by one, on the rolled-back test database: amounts in integer fen, account codes,
balanced entries per currency, what verify says about each kind of damage, balances and statements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from billing import ledger
from billing.models import GENESIS_HASH, JournalEntry, LedgerHead
from core.errors import ValidationError
from core.extensions import db
from tests.billing.conftest import disable_guards

NOW = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("value", [1.0, Decimal("1"), "1", True, None])
def test_amounts_must_be_integer_fen(value):
    with pytest.raises(ValidationError) as raised:
        ledger.fen(value, "posting 1 amount")
    assert raised.value.message == (
        f"posting 1 amount must be an integer number of fen (1 yuan = 100 fen), got {type(value).__name__} {value!r}; "
        "floats are never accepted for money")


def test_integral_amounts_become_plain_ints():
    class Fen(int):
        pass

    assert type(ledger.fen(Fen(5), "x")) is int
    assert ledger.fen(-7, "x") == -7


def test_account_codes(app_ctx):
    assert ledger.account(ledger.TREASURY, "CNY").code == "treasury"
    assert ledger.account(ledger.TREASURY, "USD").code == "treasury:USD"
    assert ledger.account(ledger.AWARD_POOL, "CNY").code == "award_pool"
    assert ledger.account(ledger.AWARD_POOL, "USD").code == "award_pool:USD"
    budget = ledger.account("department_budget", "CNY", order_id=4, department_id=2, name="Budget of 开餐馆")
    assert (budget.code, budget.kind, budget.name, budget.order_id, budget.department_id, budget.currency) == (
        "department_budget:order:4", "department_budget", "Budget of 开餐馆", 4, 2, "CNY")
    vendor = ledger.account("vendor_payable", "CNY", vendor_id=9)
    assert (vendor.code, vendor.name, vendor.vendor_id) == ("vendor_payable:vendor:9", "vendor_payable:vendor:9", 9)
    assert ledger.account("vendor_payable", "CNY", vendor_id=9, name="other name").id == vendor.id
    assert len(ledger.account("vendor_payable", "CNY", vendor_id=10, name="n" * 400).name) == 300
    with pytest.raises(ValidationError) as raised:
        ledger.account("petty_cash", "CNY")
    assert raised.value.message == "unknown account kind 'petty_cash'"
    with pytest.raises(ValidationError) as raised:
        ledger.account("vendor_payable", "USD", vendor_id=9)
    assert raised.value.message == "account vendor_payable:vendor:9 is kept in CNY, cannot post USD to it"


def test_an_entry_needs_two_postings_that_balance_per_currency(app_ctx):
    a = ledger.account(ledger.TREASURY, "CNY")
    b = ledger.account(ledger.AWARD_POOL, "CNY")
    x = ledger.account(ledger.TREASURY, "USD")
    y = ledger.account(ledger.AWARD_POOL, "USD")
    with pytest.raises(ValidationError) as raised:
        ledger.check_balanced([ledger.PostingSpec(a, 0)])
    assert raised.value.message == "a journal entry needs at least two postings, got 1"
    ledger.check_balanced([ledger.PostingSpec(a, 0), ledger.PostingSpec(b, 0)])
    with pytest.raises(ValidationError) as raised:
        ledger.check_balanced([ledger.PostingSpec(a, 5), ledger.PostingSpec(b, -4), ledger.PostingSpec(x, -2),
                               ledger.PostingSpec(y, 1)])
    assert raised.value.message == "postings must sum to zero per currency; they are off by CNY +1 fen, USD -1 fen"
    with pytest.raises(ValidationError, match="off by CNY"):  # balanced overall, not per currency
        ledger.check_balanced([ledger.PostingSpec(a, 5), ledger.PostingSpec(y, -5)])
    with pytest.raises(ValidationError, match="posting 2 amount must be an integer"):
        ledger.check_balanced([ledger.PostingSpec(a, 5), ledger.PostingSpec(b, -5.0)])


def append(amount: int = 100, **kwargs) -> JournalEntry:
    treasury = ledger.account(ledger.TREASURY, "CNY")
    pool = ledger.account(ledger.AWARD_POOL, "CNY")
    defaults = dict(quarter_code="2026Q3", kind="award_funding", memo="pool", created_by="finance#7", now=NOW)
    return ledger.entry_append(postings=[ledger.PostingSpec(pool, amount, app_id=3, memo="in"),
                                         ledger.PostingSpec(treasury, -amount)], **{**defaults, **kwargs})


def test_appending_stores_what_it_hashes_and_moves_the_head(app_ctx):
    first = append(100, now=NOW.astimezone(UTC) + timedelta(hours=8))
    second = append(50, reason="why", reverses_entry_id=first.id, settlement_run_id=None)
    head = db.session.get(LedgerHead, 1)
    assert (head.seq, head.hash) == (2, second.hash)
    assert (first.seq, first.prev_hash, second.seq, second.prev_hash) == (1, GENESIS_HASH, 2, first.hash)
    assert (second.reason, second.reverses_entry_id, second.posting_count) == ("why", first.id, 2)
    assert [(p.line_no, p.amount, p.app_id, p.memo, p.currency) for p in sorted(first.postings, key=lambda p: p.line_no)] \
        == [(1, 100, 3, "in", "CNY"), (2, -100, None, "", "CNY")]
    assert ledger.verify().ok


def test_verify_reports_the_head_and_counts(app_ctx):
    empty = ledger.verify()
    assert empty.as_dict() == {"ok": True, "entries_checked": 0, "head_seq": 0, "head_hash": GENESIS_HASH,
                               "problems": []}
    entries = [append(n) for n in (1, 2, 3)]
    progress = []
    report = ledger.verify(progress=progress.append)
    assert report.as_dict() == {"ok": True, "entries_checked": 3, "head_seq": 3, "head_hash": entries[-1].hash,
                                "problems": []}
    assert progress == []  # reported every 1000 entries


def test_trial_balance_and_statement(app_ctx):
    append(100, quarter_code="2026Q3")
    append(30, quarter_code="2026Q4")
    pool, treasury = ledger.account(ledger.AWARD_POOL, "CNY"), ledger.account(ledger.TREASURY, "CNY")
    rows = [(r.account_id, r.code, r.kind, r.name, r.currency, r.debits, r.credits, r.balance)
            for r in ledger.trial_balance()]
    assert rows == [(pool.id, "award_pool", "award_pool", "award_pool", "CNY", 130, 0, 130),
                    (treasury.id, "treasury", "treasury", "treasury", "CNY", 0, 130, -130)]
    q3 = {r.code: (r.debits, r.credits, r.balance) for r in ledger.trial_balance("2026Q3")}
    assert q3 == {"award_pool": (100, 0, 100), "treasury": (0, 100, -100)}
    lines = ledger.account_statement(treasury.id)
    assert [(x.entry_seq, x.quarter_code, x.amount, x.balance, x.memo) for x in lines] == [
        (1, "2026Q3", -100, -100, "pool"), (2, "2026Q4", -30, -130, "pool")]
    assert [(x.amount, x.balance, x.memo, x.app_id) for x in ledger.account_statement(pool.id, "2026Q4")] == [
        (30, 30, "in", 3)]


def test_verify_names_the_damage_in_the_words_of_its_report(app_ctx):
    # The problems are what an auditor reads (and the API returns): the entry, both hashes' first 12 digits.
    first, second = append(100), append(50)
    disable_guards()
    db.session.execute(sa.text("UPDATE billing_journal_entries SET memo = 'edited', prev_hash = :h WHERE id = :e"),
                       {"h": "ab" * 32, "e": second.id})
    recomputed = ledger.entry_digest(
        seq=2, quarter_code="2026Q3", kind="award_funding", memo="edited", settlement_run_id=None,
        reverses_entry_id=None, reason=None, posting_count=2, created_at=NOW, created_by="finance#7",
        prev_hash="ab" * 32, postings=[(1, "award_pool", 50, "CNY", 3, "in"), (2, "treasury", -50, "CNY", None, "")])
    name = f"entry #2 (id {second.id}, award_funding, 2026Q3)"
    assert ledger.verify().problems == [
        f"{name} does not link to the entry before it (prev_hash abababababab…, expected {first.hash[:12]}…): a row "
        "was inserted, removed or rewritten before it",
        f"{name} was altered: its stored hash {second.hash[:12]}… does not match its content ({recomputed[:12]}…); "
        "check the entry and its 2 postings",
    ]


def test_a_statement_lists_an_entrys_lines_in_line_order(app_ctx):
    # Two lines of one entry on the same account: the running balance follows the line numbers, not the order the
    # rows happen to be stored in (here swapped after the fact, so storage order and line order disagree).
    pool, treasury = ledger.account(ledger.AWARD_POOL, "CNY"), ledger.account(ledger.TREASURY, "CNY")
    entry = ledger.entry_append(quarter_code="2026Q3", kind="award_funding", memo="pool", created_by="finance#7",
                                now=NOW, postings=[ledger.PostingSpec(pool, 100, memo="first"),
                                                   ledger.PostingSpec(pool, 50, memo="second"),
                                                   ledger.PostingSpec(treasury, -150)])
    assert [(x.amount, x.balance, x.memo) for x in ledger.account_statement(pool.id)] == [
        (100, 100, "first"), (50, 150, "second")]
    disable_guards()
    for old, new in ((2, 9), (1, 2), (9, 1)):  # stored order stays: first, second (SQLite rowids, PostgreSQL heap)
        db.session.execute(sa.text("UPDATE billing_postings SET line_no = :new WHERE entry_id = :e AND line_no = :old"),
                           {"new": new, "old": old, "e": entry.id})
    assert [(x.amount, x.balance, x.memo) for x in ledger.account_statement(pool.id)] == [
        (50, 50, "second"), (100, 150, "first")]
