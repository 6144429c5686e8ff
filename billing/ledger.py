"""The double-entry ledger: appending hash-chained entries, verifying the chain, balances and statements.

Each entry's hash is sha256 over a canonical JSON serialisation of the entry, its postings (with account
codes) and the previous entry's hash, so changing, removing or inserting any row breaks the chain at
that row. Use cases in ``billing.services`` call these; nothing here commits.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from numbers import Integral

import sqlalchemy as sa

from billing.models import GENESIS_HASH, Account, JournalEntry, LedgerHead, Posting, insert_ignoring_duplicates
from core.errors import ValidationError
from core.extensions import db

TREASURY = "treasury"
AWARD_POOL = "award_pool"


@dataclass(frozen=True)
class PostingSpec:
    account: Account
    amount: int  # fen; positive = debit
    app_id: int | None = None
    memo: str = ""


def fen(value, what: str) -> int:
    """An integer amount of fen; floats, decimals, strings and booleans are refused."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValidationError(
            f"{what} must be an integer number of fen (1 yuan = 100 fen), got {type(value).__name__} {value!r}; "
            "floats are never accepted for money"
        )
    return int(value)


# --- accounts ------------------------------------------------------------------------------------------

def account(kind: str, currency: str, *, order_id: int | None = None, vendor_id: int | None = None,
            department_id: int | None = None, name: str = "") -> Account:
    """The account of that kind (created on first use; safe under concurrent creation)."""
    if kind in (TREASURY, AWARD_POOL):
        code = kind if currency == "CNY" else f"{kind}:{currency}"
    elif kind == "department_budget":
        code = f"department_budget:order:{order_id}"
    elif kind == "vendor_payable":
        code = f"vendor_payable:vendor:{vendor_id}"
    else:
        raise ValidationError(f"unknown account kind {kind!r}")
    found = db.session.scalar(sa.select(Account).where(Account.code == code))
    if found is None:
        db.session.execute(
            insert_ignoring_duplicates(Account.__table__, ["code"]).values(
                code=code, kind=kind, name=(name or code)[:300], order_id=order_id, vendor_id=vendor_id,
                department_id=department_id, currency=currency, created_at=datetime.now(UTC),
            )
        )
        found = db.session.scalar(sa.select(Account).where(Account.code == code))
    if found.currency != currency:
        raise ValidationError(f"account {code} is kept in {found.currency}, cannot post {currency} to it")
    return found


# --- hashing -------------------------------------------------------------------------------------------

def hash_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_digest(*, seq: int, quarter_code: str, kind: str, memo: str, settlement_run_id: int | None,
                 reverses_entry_id: int | None, reason: str | None, posting_count: int, created_at: datetime,
                 created_by: str, prev_hash: str, postings: Sequence[tuple]) -> str:
    """sha256 of the canonical serialisation; ``postings`` are (line_no, account_code, amount, currency,
    app_id, memo) tuples."""
    document = {
        "seq": seq, "quarter": quarter_code, "kind": kind, "memo": memo, "run": settlement_run_id,
        "reverses": reverses_entry_id, "reason": reason, "posting_count": posting_count,
        "created_at": hash_timestamp(created_at), "created_by": created_by, "prev": prev_hash,
        "postings": [list(p) for p in sorted(postings)],
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- appending -----------------------------------------------------------------------------------------

def check_balanced(postings: Sequence[PostingSpec]) -> None:
    if len(postings) < 2:
        raise ValidationError(f"a journal entry needs at least two postings, got {len(postings)}")
    totals: dict[str, int] = defaultdict(int)
    for i, p in enumerate(postings, start=1):
        totals[p.account.currency] += fen(p.amount, f"posting {i} amount")
    unbalanced = {cur: total for cur, total in totals.items() if total != 0}
    if unbalanced:
        detail = ", ".join(f"{cur} {total:+d} fen" for cur, total in sorted(unbalanced.items()))
        raise ValidationError(f"postings must sum to zero per currency; they are off by {detail}")


def entry_append(*, quarter_code: str, kind: str, memo: str, postings: Sequence[PostingSpec], created_by: str,
                 settlement_run_id: int | None = None, reverses_entry_id: int | None = None,
                 reason: str | None = None, now: datetime | None = None) -> JournalEntry:
    """Append one balanced entry at the tip of the chain (takes the chain lock until commit)."""
    check_balanced(postings)
    memo = memo[:500]  # what is stored is what is hashed
    head = db.session.scalar(sa.select(LedgerHead).where(LedgerHead.id == 1).with_for_update())
    created_at = (now or datetime.now(UTC)).astimezone(UTC)
    seq = head.seq + 1
    rows = [(i, p.account.code, int(p.amount), p.account.currency, p.app_id, p.memo[:300])
            for i, p in enumerate(postings, start=1)]
    digest = entry_digest(seq=seq, quarter_code=quarter_code, kind=kind, memo=memo,
                          settlement_run_id=settlement_run_id, reverses_entry_id=reverses_entry_id, reason=reason,
                          posting_count=len(rows), created_at=created_at, created_by=created_by,
                          prev_hash=head.hash, postings=rows)
    entry = JournalEntry(seq=seq, quarter_code=quarter_code, kind=kind, memo=memo, settlement_run_id=settlement_run_id,
                         reverses_entry_id=reverses_entry_id, reason=reason, posting_count=len(rows),
                         created_at=created_at, created_by=created_by, prev_hash=head.hash, hash=digest)
    db.session.add(entry)
    db.session.flush()
    db.session.add_all(
        Posting(entry_id=entry.id, line_no=i, account_id=p.account.id, amount=int(p.amount),
                currency=p.account.currency, app_id=p.app_id, memo=p.memo[:300])
        for i, p in enumerate(postings, start=1)
    )
    db.session.flush()
    head.seq, head.hash = seq, digest
    db.session.flush()
    return entry


# --- verification --------------------------------------------------------------------------------------

@dataclass
class VerifyReport:
    entries_checked: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ok": self.ok, "entries_checked": self.entries_checked, "head_seq": self.head_seq,
                "head_hash": self.head_hash, "problems": list(self.problems)}


def _entries_with_postings(batch: int = 2000) -> Iterator[tuple[dict, list[tuple]]]:
    """Entries in seq order, each with its postings, read in pages so memory stays flat."""
    entries = JournalEntry.__table__
    postings = Posting.__table__
    accounts = Account.__table__
    last_seq = -1
    while True:
        page = db.session.execute(
            sa.select(entries).where(entries.c.seq > last_seq).order_by(entries.c.seq).limit(batch)
        ).mappings().all()
        if not page:
            return
        ids = [row["id"] for row in page]
        by_entry: dict[int, list[tuple]] = defaultdict(list)
        for p in db.session.execute(
            sa.select(postings.c.entry_id, postings.c.line_no, accounts.c.code, postings.c.amount,
                      postings.c.currency, postings.c.app_id, postings.c.memo)
            .join(accounts, accounts.c.id == postings.c.account_id)
            .where(postings.c.entry_id.in_(ids))
        ):
            by_entry[p.entry_id].append((p.line_no, p.code, int(p.amount), p.currency, p.app_id, p.memo))
        for row in page:
            yield dict(row), by_entry.get(row["id"], [])
        last_seq = page[-1]["seq"]


def verify(progress=None) -> VerifyReport:
    """Walk the chain from the first entry; name every altered, removed or inserted row."""
    report = VerifyReport()
    expected_seq = 1
    prev = GENESIS_HASH
    for row, rows in _entries_with_postings():
        name = f"entry #{row['seq']} (id {row['id']}, {row['kind']}, {row['quarter_code']})"
        if row["seq"] != expected_seq:
            missing = f"#{expected_seq}" if row["seq"] == expected_seq + 1 else f"#{expected_seq}–#{row['seq'] - 1}"
            report.problems.append(f"entries {missing} are missing: the chain jumps to {name}")
        if row["prev_hash"] != prev:
            report.problems.append(
                f"{name} does not link to the entry before it (prev_hash {row['prev_hash'][:12]}…, expected "
                f"{prev[:12]}…): a row was inserted, removed or rewritten before it"
            )
        recomputed = entry_digest(
            seq=row["seq"], quarter_code=row["quarter_code"], kind=row["kind"], memo=row["memo"],
            settlement_run_id=row["settlement_run_id"], reverses_entry_id=row["reverses_entry_id"],
            reason=row["reason"], posting_count=row["posting_count"], created_at=row["created_at"],  # aware: UTCDateTime
            created_by=row["created_by"], prev_hash=row["prev_hash"], postings=rows,
        )
        if recomputed != row["hash"]:
            report.problems.append(
                f"{name} was altered: its stored hash {row['hash'][:12]}… does not match its content "
                f"({recomputed[:12]}…); check the entry and its {len(rows)} postings"
            )
        if len(rows) != row["posting_count"]:
            report.problems.append(f"{name} declares {row['posting_count']} postings but has {len(rows)}")
        totals: dict[str, int] = defaultdict(int)
        for p in rows:
            totals[p[3]] += p[2]
        for currency, total in sorted(totals.items()):
            if total:
                report.problems.append(f"{name} does not balance: {currency} {total:+d} fen")
        prev = row["hash"]
        expected_seq = row["seq"] + 1
        report.entries_checked += 1
        if progress and report.entries_checked % 1000 == 0:
            progress(report.entries_checked)
    head = db.session.get(LedgerHead, 1)
    report.head_seq, report.head_hash = head.seq, head.hash
    if head.seq != expected_seq - 1 or head.hash != prev:
        report.problems.append(
            f"the chain ends at entry #{expected_seq - 1} ({prev[:12]}…) but the ledger head records "
            f"#{head.seq} ({head.hash[:12]}…): entries after #{expected_seq - 1} were removed or the head was changed"
        )
    return report


# --- balances ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BalanceRow:
    account_id: int
    code: str
    kind: str
    name: str
    currency: str
    debits: int
    credits: int

    @property
    def balance(self) -> int:
        return self.debits - self.credits


def trial_balance(quarter_code: str | None = None) -> list[BalanceRow]:
    """Debit and credit totals per account (of one quarter's entries, or all); they sum to zero."""
    p, a, e = Posting.__table__, Account.__table__, JournalEntry.__table__
    # Never NULL: the inner join gives every account row at least one posting, and each contributes 0 or more.
    debit = sa.func.sum(sa.case((p.c.amount > 0, p.c.amount), else_=0))
    credit = sa.func.sum(sa.case((p.c.amount < 0, -p.c.amount), else_=0))
    query = (sa.select(a.c.id, a.c.code, a.c.kind, a.c.name, a.c.currency, debit, credit)
             .join(p, p.c.account_id == a.c.id).join(e, e.c.id == p.c.entry_id)
             .group_by(a.c.id).order_by(a.c.code))  # the primary key: the account's other columns follow from it
    if quarter_code:
        query = query.where(e.c.quarter_code == quarter_code)
    return [BalanceRow(r[0], r[1], r[2], r[3], r[4], int(r[5]), int(r[6])) for r in db.session.execute(query)]


@dataclass(frozen=True)
class StatementLine:
    entry_seq: int
    created_at: datetime
    quarter_code: str
    kind: str
    memo: str
    app_id: int | None
    amount: int
    balance: int


def account_statement(account_id: int, quarter_code: str | None = None) -> list[StatementLine]:
    """Every posting to the account in chain order, with the running balance."""
    query = (sa.select(JournalEntry.seq, JournalEntry.created_at, JournalEntry.quarter_code, JournalEntry.kind,
                       JournalEntry.memo, Posting.app_id, Posting.amount, Posting.memo)
             .join(Posting, Posting.entry_id == JournalEntry.id)
             .where(Posting.account_id == account_id).order_by(JournalEntry.seq, Posting.line_no))
    if quarter_code:
        query = query.where(JournalEntry.quarter_code == quarter_code)
    balance = 0
    lines = []
    for seq, created_at, quarter, kind, memo, app_id, amount, pmemo in db.session.execute(query):
        balance += int(amount)
        lines.append(StatementLine(seq, created_at, quarter, kind, pmemo or memo, app_id, int(amount), balance))
    return lines
