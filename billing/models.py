"""Billing tables: quarters, usage events, the double-entry ledger, settlement runs.

Orders, apps and vendors are marketplace objects, referred to by plain integer ids (no foreign keys
across packages). The database itself enforces what the ledger promises (see the billing migrations):
balanced entries, append-only entries/postings/runs, a forward-only chain head, frozen closed quarters.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db, dialect_insert
from core.time import UTCDateTime, utcnow

GENESIS_HASH = "0" * 64


class Quarter(db.Model):
    """open → grace (after ends_at) → settled (every order and the awards posted) → closed (frozen)."""

    __tablename__ = "billing_quarters"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(6), unique=True, nullable=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    grace_ends_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    def status(self, now: datetime) -> str:
        if self.closed_at:
            return "closed"
        if self.settled_at:
            return "settled"
        if now >= self.ends_at:
            return "grace"
        return "open"


class UsageEvent(db.Model):
    """One completed transaction reported for payment. ``quarter_code`` is when it happened;
    ``settle_quarter_code`` is the quarter whose settlement pays it (a later one for late events)."""

    __tablename__ = "billing_usage_events"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(128), unique=True, nullable=False)
    order_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    app_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    vendor_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    transaction_ref: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    quarter_code: Mapped[str] = mapped_column(sa.String(6), nullable=False)
    settle_quarter_code: Mapped[str] = mapped_column(sa.String(6), nullable=False)
    is_late: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    flag_reason: Mapped[str | None] = mapped_column(sa.String(500))

    __table_args__ = (
        sa.Index("ix_billing_usage_settle", "settle_quarter_code", "order_id", "app_id"),
        sa.Index("ix_billing_usage_vendor", "vendor_id", "settle_quarter_code"),
    )


class Account(db.Model):
    """A ledger account: ``treasury``, ``award_pool``, ``department_budget:order:<id>``,
    ``vendor_payable:vendor:<id>``."""

    __tablename__ = "billing_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(80), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(300), nullable=False, default="")
    order_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    department_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    vendor_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("kind IN ('treasury', 'award_pool', 'department_budget', 'vendor_payable')",
                           name="kind"),
    )


class JournalEntry(db.Model):
    """An immutable, hash-chained journal entry. ``posting_count`` declares how many postings it has,
    which lets the database check completeness and balance on SQLite too."""

    __tablename__ = "billing_journal_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(sa.Integer, unique=True, nullable=False)
    quarter_code: Mapped[str] = mapped_column(sa.String(6), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    memo: Mapped[str] = mapped_column(sa.String(500), nullable=False, default="")
    settlement_run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("billing_settlement_runs.id"), index=True)
    reverses_entry_id: Mapped[int | None] = mapped_column(sa.ForeignKey("billing_journal_entries.id"), unique=True)
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    posting_count: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    prev_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)

    postings: Mapped[list[Posting]] = relationship(back_populates="entry", order_by="Posting.line_no")

    __table_args__ = (
        sa.CheckConstraint("posting_count >= 2", name="posting_count"),
        sa.CheckConstraint("kind IN ('appropriation', 'settlement', 'award_funding', 'award', 'reversal', "
                           "'adjustment')", name="kind"),
    )


class Posting(db.Model):
    """One line of an entry: ``amount`` in fen, positive = debit (money into the account), negative = credit."""

    __tablename__ = "billing_postings"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_journal_entries.id"), nullable=False, index=True)
    line_no: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_accounts.id"), nullable=False, index=True)
    amount: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    app_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    memo: Mapped[str] = mapped_column(sa.String(300), nullable=False, default="")

    entry: Mapped[JournalEntry] = relationship(back_populates="postings")
    account: Mapped[Account] = relationship()

    __table_args__ = (sa.UniqueConstraint("entry_id", "line_no", name="uq_billing_postings_entry_line"),)


class LedgerHead(db.Model):
    """The tip of the hash chain (one row). Appending an entry moves it forward by exactly one; its
    trigger checks the new entry is complete and balanced, and verification checks the tip."""

    __tablename__ = "billing_ledger_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)


class SettlementRun(db.Model):
    """A posted settlement of one (quarter, scope): ``scope`` is ``order:<id>`` or ``awards``.
    Unique per (quarter, scope), so posting twice can only ever yield one."""

    __tablename__ = "billing_settlement_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    quarter_code: Mapped[str] = mapped_column(sa.String(6), nullable=False)
    scope: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    order_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    department_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)
    budget_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    demand_fen: Mapped[str | None] = mapped_column(sa.String(120))  # exact rational, e.g. '123457/2'
    total_fen: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    capped: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    formula_version: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    rounding_rules: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    snapshot: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    snapshot_sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    posted_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)

    lines: Mapped[list[SettlementLine]] = relationship(back_populates="run", order_by="SettlementLine.id")

    __table_args__ = (sa.UniqueConstraint("quarter_code", "scope", name="uq_billing_settlement_runs_quarter_scope"),)


class SettlementLine(db.Model):
    """One app's figures in a run (order runs: its payout; the awards run: its rank and prize)."""

    __tablename__ = "billing_settlement_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("billing_settlement_runs.id"), nullable=False, index=True)
    app_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, index=True)
    vendor_id: Mapped[int] = mapped_column(sa.Integer, nullable=False, index=True)
    order_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    completed: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    late: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    ratings: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    stars_sum: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    bayesian_rating: Mapped[str] = mapped_column(sa.String(80), nullable=False)  # exact rational 'p/q'
    multiplier: Mapped[str] = mapped_column(sa.String(80), nullable=False)  # exact rational, ×1 = '1'
    award_rank: Mapped[int | None] = mapped_column(sa.Integer)
    award_score: Mapped[str | None] = mapped_column(sa.String(80))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(sa.String(3), nullable=False)

    run: Mapped[SettlementRun] = relationship(back_populates="lines")


def insert_ignoring_duplicates(table: sa.Table, index_elements: list[str]):
    """INSERT … ON CONFLICT (index_elements) DO NOTHING, on PostgreSQL and SQLite alike."""
    return dialect_insert(table).on_conflict_do_nothing(index_elements=index_elements)


class PayeeAccount(db.Model):
    """Where a vendor's payouts go: the settlement account finance registered for it (from the vendor's contract),
    read by the bank payout file. Changes are audited; the payout file names the account in force when written."""

    __tablename__ = "billing_payee_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(sa.Integer, unique=True, nullable=False)
    holder_name: Mapped[str] = mapped_column(sa.String(140), nullable=False)
    credit_code: Mapped[str] = mapped_column(sa.String(18), nullable=False)  # unified social credit code
    account_number: Mapped[str] = mapped_column(sa.String(34), nullable=False)
    bank_code: Mapped[str] = mapped_column(sa.String(12), nullable=False)  # CNAPS bank code (12 digits)
    bank_name: Mapped[str] = mapped_column(sa.String(140), nullable=False, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_by: Mapped[str] = mapped_column(sa.String(200), nullable=False)
