"""Billing use cases: one function per use case, taking the acting user (None = the platform itself).

Each checks its authz rule first, validates, changes state, writes the audit event in the same
transaction and commits once. Nothing here imports flask.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from numbers import Integral
from operator import attrgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from billing import authz, dataset, formula, ledger, payments, reports, settlement
from billing.calendar import GRACE_PERIOD, quarter_code_of, quarter_span
from billing.models import (
    Account,
    JournalEntry,
    PayeeAccount,
    Quarter,
    SettlementLine,
    SettlementRun,
    UsageEvent,
    insert_ignoring_duplicates,
)
from billing.source import settlement_source
from core import audit
from core.errors import Conflict, NotFound, ValidationError
from core.extensions import db
from core.ids import uscc_problem
from core.money import Money
from core.time import utcnow

Progress = Callable[[str, dict], None]
CLOCK_SKEW = timedelta(minutes=5)  # an event may not claim to have happened later than this after receipt
MAX_BATCH = 5000
CHINA_TIME = ZoneInfo("Asia/Shanghai")


def _label(actor) -> str:
    """Who acted, as billing records it in the ledger and on runs: an opaque ``role#id``, never a name or an
    e-mail address, because the ledger is published (the audit log keeps the person)."""
    return dataset.actor_reference(actor)


def _noop(step: str, detail: dict) -> None:
    return None


# --- quarters ------------------------------------------------------------------------------------------

def _quarter(code: str, *, lock: str | None = None) -> Quarter:
    """The quarter's row, created on first use; ``lock`` 'update' or 'share' locks it until commit."""
    span = quarter_span(code)
    query = sa.select(Quarter).where(Quarter.code == code)
    if lock:
        query = query.with_for_update(read=lock == "share")
    found = db.session.scalar(query)
    if found is None:
        db.session.execute(insert_ignoring_duplicates(Quarter.__table__, ["code"]).values(
            code=code, starts_at=span.starts_at, ends_at=span.ends_at, grace_ends_at=span.ends_at + GRACE_PERIOD,
            created_at=utcnow()))
        found = db.session.scalar(query)
    return found


@dataclass(frozen=True)
class QuarterView:
    code: str
    status: str
    starts_at: datetime
    ends_at: datetime
    grace_ends_at: datetime
    settled_at: datetime | None
    closed_at: datetime | None
    runs_posted: int


def _quarter_view(q: Quarter, now: datetime) -> QuarterView:
    runs = db.session.scalar(sa.select(sa.func.count()).select_from(SettlementRun)
                             .where(SettlementRun.quarter_code == q.code)) or 0
    return QuarterView(q.code, q.status(now), q.starts_at, q.ends_at, q.grace_ends_at, q.settled_at, q.closed_at,
                       runs)


def quarters_list(actor, *, now: datetime | None = None) -> list[QuarterView]:
    """Every quarter billing knows, newest first. Finance and auditors."""
    authz.quarters_list(actor)
    now = now or utcnow()
    return [_quarter_view(q, now) for q in db.session.scalars(sa.select(Quarter).order_by(Quarter.starts_at.desc()))]


def quarter_get(actor, code: str, *, now: datetime | None = None) -> QuarterView:
    """One quarter's status (a quarter nobody has used yet reads as open with nothing posted)."""
    authz.quarter_get(actor)
    now = now or utcnow()
    q = db.session.scalar(sa.select(Quarter).where(Quarter.code == code))
    if q is None:
        span = quarter_span(code)
        q = Quarter(code=code, starts_at=span.starts_at, ends_at=span.ends_at,
                    grace_ends_at=span.ends_at + GRACE_PERIOD)
    return _quarter_view(q, now)


def quarter_close(actor, code: str, *, now: datetime | None = None) -> QuarterView:
    """Freeze a settled quarter: from now on the database refuses any change to it. Finance only.
    Raises Conflict unless the quarter is settled."""
    authz.quarter_close(actor)
    now = now or utcnow()
    q = _quarter(code, lock="update")
    if q.closed_at:
        raise Conflict(f"quarter {code} is already closed (since {q.closed_at:%Y-%m-%d})")
    if not q.settled_at:
        raise Conflict(f"quarter {code} is {q.status(now)}, not settled; post its settlement first "
                       f"(govmarket billing settle --quarter {code} --post)")
    q.closed_at = now
    audit.record(actor, "billing.quarter_closed", "quarter", code)
    db.session.commit()
    return _quarter_view(q, now)


# --- metering ------------------------------------------------------------------------------------------

class UsageResult(NamedTuple):
    """How one record of a batch was answered (a named tuple: a batch answers thousands of them)."""

    index: int
    idempotency_key: str | None
    status: str  # accepted | duplicate | rejected
    reason: str | None = None
    settle_quarter: str | None = None
    late: bool = False


@dataclass(frozen=True)
class InvalidRecord:
    """A record the caller's parser already refused (e.g. the API's schema), answered as rejected."""

    idempotency_key: str | None
    reason: str


_FIELDS = ("idempotency_key", "order_id", "app_id", "vendor_id", "transaction_ref", "occurred_at")
result_status = attrgetter("status")  # of a UsageResult, for counting many in C: Counter(map(result_status, …))


def _is_id(value) -> bool:
    if type(value) is int:  # the common case, without the slower ABC check
        return value > 0
    return not isinstance(value, bool) and isinstance(value, Integral) and value > 0


def _usage_problem(record: Mapping, now: datetime) -> str | None:
    """Why a record cannot be recorded, in words, or None. ``usage_record_batch`` checks plainly well-formed
    records inline; this answers for everything else."""
    if type(record) is not dict and not isinstance(record, Mapping):
        return f"a usage record is an object with {', '.join(_FIELDS)}"
    missing = [f for f in _FIELDS if record.get(f) in (None, "")]
    if missing:
        return f"missing {', '.join(missing)}"
    for name in ("order_id", "app_id", "vendor_id"):
        value = record[name]
        if not _is_id(value):
            return f"{name} must be a positive integer id, got {type(value).__name__} {value!r}"
    for name in ("idempotency_key", "transaction_ref"):
        value = record[name]
        if type(value) is not str or not value.strip() or len(value) > 128:
            return f"{name} must be a non-empty string of at most 128 characters"
    occurred = record["occurred_at"]
    if not isinstance(occurred, datetime) or occurred.utcoffset() is None:
        return "occurred_at must be a timezone-aware date-time, e.g. 2026-08-01T10:00:00+08:00"
    if occurred > now + CLOCK_SKEW:
        return f"occurred_at {occurred.isoformat()} is in the future (received {now.isoformat()})"
    return None


def _plainly_valid(record, latest: datetime) -> bool:
    """True for a dict with exactly the types ``_usage_problem`` accepts and nothing it refuses (the case of
    nearly every record), checked without building any message; False means: ask ``_usage_problem``."""
    if type(record) is not dict:
        return False
    try:
        key, ref, occurred = record["idempotency_key"], record["transaction_ref"], record["occurred_at"]
        order_id, app_id, vendor_id = record["order_id"], record["app_id"], record["vendor_id"]
    except KeyError:
        return False
    return (type(key) is str and 0 < len(key) <= 128 and not key.isspace()
            and type(ref) is str and 0 < len(ref) <= 128 and not ref.isspace()
            and type(order_id) is int and order_id > 0 and type(app_id) is int and app_id > 0
            and type(vendor_id) is int and vendor_id > 0
            and type(occurred) is datetime and occurred.utcoffset() is not None and occurred <= latest)


_USAGE_COLUMNS = ("idempotency_key", "order_id", "app_id", "vendor_id", "transaction_ref", "occurred_at",
                  "received_at", "quarter_code", "settle_quarter_code", "is_late")
_COPY_USAGE = f"COPY billing_usage_events ({', '.join(_USAGE_COLUMNS)}) FROM STDIN"
_STAGING = "billing_usage_staging"
_CREATE_STAGING = f"""
CREATE TEMP TABLE IF NOT EXISTS {_STAGING} (idempotency_key text, order_id integer, app_id integer, vendor_id integer,
    transaction_ref text, occurred_at timestamptz, received_at timestamptz, quarter_code text,
    settle_quarter_code text, is_late boolean) ON COMMIT DELETE ROWS"""
_INSERT_FROM_STAGING = """
INSERT INTO billing_usage_events (idempotency_key, order_id, app_id, vendor_id, transaction_ref, occurred_at,
                                  received_at, quarter_code, settle_quarter_code, is_late)
SELECT idempotency_key, order_id, app_id, vendor_id, transaction_ref, occurred_at, received_at, quarter_code,
       settle_quarter_code, is_late FROM billing_usage_staging
ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key"""
_UNIQUE_VIOLATION = "23505"


def _insert_usage(rows: list[tuple]) -> set[str] | None:
    """Insert the rows (tuples in ``_USAGE_COLUMNS`` order), skipping keys already recorded; return None when every
    row went in, else the keys inserted."""
    if db.session.get_bind().dialect.name != "postgresql":
        table = UsageEvent.__table__
        stmt = insert_ignoring_duplicates(table, ["idempotency_key"]).returning(table.c.idempotency_key)
        inserted = {row[0] for row in db.session.execute(stmt, [dict(zip(_USAGE_COLUMNS, r, strict=True)) for r in rows])}
        return None if len(inserted) == len(rows) else inserted
    # PostgreSQL: COPY straight into the table, in a savepoint — what a raw COPY costs, plus the closed-quarter
    # check once per statement (billing_perf_0003). A key recorded before (a retried batch) makes the COPY fail on
    # the unique index; then, from the savepoint, the rows are COPY'd into a per-connection staging table and
    # moved by one INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING, which says which keys were new. Either way
    # it is the session's transaction: nothing is half-written.
    connection = db.session.connection()
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute("SAVEPOINT billing_usage_copy")
        try:
            with cursor.copy(_COPY_USAGE) as copy:
                for row in rows:
                    copy.write_row(row)
        except connection.dialect.dbapi.IntegrityError as exc:
            if getattr(exc, "sqlstate", None) != _UNIQUE_VIOLATION:
                raise
            cursor.execute("ROLLBACK TO SAVEPOINT billing_usage_copy")
        else:
            cursor.execute("RELEASE SAVEPOINT billing_usage_copy")
            return None
        cursor.execute(_CREATE_STAGING)
        cursor.execute("DELETE FROM billing_usage_staging")  # empty unless an earlier batch ran in this transaction
        with cursor.copy(f"COPY {_STAGING} ({', '.join(_USAGE_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(_INSERT_FROM_STAGING)
        inserted = {row[0] for row in cursor.fetchall()}
        cursor.execute("RELEASE SAVEPOINT billing_usage_copy")
        return inserted
    except connection.dialect.dbapi.Error as exc:
        # The driver's own cursor: wrap its errors as SQLAlchemy wraps its own, so callers' retries see one kind
        # of database error, and drop a connection the server closed (the pool must not hand it out again).
        lost = connection.dialect.is_disconnect(exc, connection.connection, cursor)
        if lost:
            connection.invalidate(exc)
        raise sa.exc.DBAPIError.instance("COPY billing_usage_events (or via staging, ON CONFLICT DO NOTHING)", None,
                                         exc, connection.dialect.dbapi.Error, connection_invalidated=lost,
                                         dialect=connection.dialect) from exc
    finally:
        cursor.close()


def usage_record_batch(actor, records: Sequence[Mapping], *, now: datetime | None = None) -> list[UsageResult]:
    """Record completed transactions for payment, answering per record: accepted, duplicate (the same key
    was recorded before: counted once) or rejected with the reason.

    An event counts in the quarter it happened in while that quarter is open or in its grace period and
    its order is not yet settled; otherwise it is paid as a late adjustment in the quarter it was received.
    The platform and admins only (vendors never report their own usage). Raises ValidationError for an
    empty or oversized batch, ServiceUnavailable without a settlement source.
    """
    authz.usage_record_batch(actor)
    if not records:
        raise ValidationError("the batch is empty; send at least one usage record")
    if len(records) > MAX_BATCH:
        raise ValidationError(f"a batch holds at most {MAX_BATCH} records, got {len(records)}; split it")
    now = (now or utcnow()).astimezone(UTC)
    latest = now + CLOCK_SKEW
    # One pass per stage over the batch, no ORM object per record (a batch is up to 5,000 of them).
    results: list[UsageResult | None] = [None] * len(records)
    valid: list[tuple[int, Mapping, str]] = []  # (index, record, code of the quarter it happened in)
    first_by_key: dict[str, int] = {}
    span_start = span_end = now  # the quarter of the record before (an empty span to begin): most share one
    code = ""
    for i, record in enumerate(records):
        if _plainly_valid(record, latest):
            key, occurred = record["idempotency_key"], record["occurred_at"]
        elif isinstance(record, InvalidRecord):
            results[i] = UsageResult(i, record.idempotency_key, "rejected", record.reason)
            continue
        else:
            problem = _usage_problem(record, now)
            key = record.get("idempotency_key") if isinstance(record, Mapping) else None
            if problem:
                results[i] = UsageResult(i, key if isinstance(key, str) else None, "rejected", problem)
                continue
            occurred = record["occurred_at"]
        if key in first_by_key:
            results[i] = UsageResult(i, key, "duplicate", f"repeats record {first_by_key[key]} of this batch")
            continue
        first_by_key[key] = i
        if not span_start <= occurred < span_end:
            code = quarter_code_of(occurred)
            span = quarter_span(code)
            span_start, span_end = span.starts_at, span.ends_at
        valid.append((i, record, code))

    facts = settlement_source().apps(sorted({r["app_id"] for _, r, _ in valid})) if valid else {}
    checked: list[tuple[int, Mapping, str]] = []
    for entry in valid:
        i, r, _ = entry
        app = facts.get(r["app_id"])
        if app is None:
            results[i] = UsageResult(i, r["idempotency_key"], "rejected", f"app {r['app_id']} does not exist")
        elif app.order_id != r["order_id"] or app.vendor_id != r["vendor_id"]:
            results[i] = UsageResult(i, r["idempotency_key"], "rejected",
                                     f"app {app.app_id} belongs to order {app.order_id} and vendor {app.vendor_id}, "
                                     f"not order {r['order_id']} / vendor {r['vendor_id']}")
        else:
            checked.append(entry)

    # Lock the quarters the events fall in against a concurrent posting, so each event's quarter is decided
    # against a settled/unsettled state that cannot change until this batch commits.
    received_code = quarter_code_of(now)
    occurred_codes = {code for _, _, code in checked}
    quarters = {code: _quarter(code, lock="share") for code in sorted(occurred_codes | {received_code})}
    posted = {(run.quarter_code, run.order_id) for run in db.session.execute(
        sa.select(SettlementRun.quarter_code, SettlementRun.order_id)
        .where(SettlementRun.quarter_code.in_(sorted(occurred_codes)), SettlementRun.order_id.is_not(None)))}
    if quarters[received_code].closed_at:
        raise Conflict(f"quarter {received_code} is closed; usage cannot be recorded into it")

    settled_as: dict[tuple[str, int], tuple[str, bool]] = {}  # (quarter, order) → (quarter that pays, late)
    rows: list[tuple] = []
    for i, r, code in checked:
        key, order_id = r["idempotency_key"], r["order_id"]
        paid = settled_as.get((code, order_id))
        if paid is None:
            q = quarters[code]
            late = bool(q.settled_at or q.closed_at or now > q.grace_ends_at or (code, order_id) in posted)
            paid = settled_as[(code, order_id)] = (received_code if late else code, late)
        rows.append((key, order_id, r["app_id"], r["vendor_id"], r["transaction_ref"], r["occurred_at"], now, code,
                     *paid))
        results[i] = UsageResult(i, key, "accepted", None, *paid)  # unless the key was recorded before (below)

    inserted = _insert_usage(rows) if rows else None
    if inserted is not None:
        again = [row for row in rows if row[0] not in inserted]
        existing = {e.idempotency_key: e for e in db.session.execute(
            sa.select(UsageEvent.idempotency_key, UsageEvent.order_id, UsageEvent.app_id, UsageEvent.vendor_id,
                      UsageEvent.transaction_ref, UsageEvent.occurred_at, UsageEvent.settle_quarter_code,
                      UsageEvent.is_late).where(UsageEvent.idempotency_key.in_([row[0] for row in again])))}
        for key, order_id, app_id, vendor_id, ref, occurred, *_ in again:
            i, old = first_by_key[key], existing.get(key)
            if old is not None and (old.order_id, old.app_id, old.vendor_id, old.transaction_ref, old.occurred_at) == (
                    order_id, app_id, vendor_id, ref, occurred):
                results[i] = UsageResult(i, key, "duplicate", "already recorded; counted once",
                                         old.settle_quarter_code, old.is_late)
            else:
                results[i] = UsageResult(i, key, "rejected",
                                         "this idempotency key was already used for a different transaction")
    counts = Counter(map(result_status, results))
    audit.record(actor, "billing.usage_recorded", "usage_batch", rows[0][0][:64] if rows else "-",
                 {"records": len(records), **counts})
    db.session.commit()
    return results


def usage_record(actor, *, idempotency_key: str, order_id: int, app_id: int, vendor_id: int, transaction_ref: str,
                 occurred_at: datetime, now: datetime | None = None) -> UsageResult:
    """Record one completed transaction (see ``usage_record_batch``); a retry with the same key is a
    duplicate counted once. Raises ValidationError when the record is rejected."""
    result = usage_record_batch(actor, [{
        "idempotency_key": idempotency_key, "order_id": order_id, "app_id": app_id, "vendor_id": vendor_id,
        "transaction_ref": transaction_ref, "occurred_at": occurred_at}], now=now)[0]
    if result.status == "rejected":
        raise ValidationError(f"usage {idempotency_key!r} rejected: {result.reason}")
    return result


def usage_flag(actor, idempotency_keys: Sequence[str], reason: str, *, now: datetime | None = None) -> int:
    """Exclude manipulated usage from payment. Finance only. Raises Conflict for events already paid
    (reverse the settlement entry instead), NotFound for unknown keys, ValidationError without a reason."""
    authz.usage_flag(actor)
    if not reason or not reason.strip() or len(reason.strip()) > 500:
        raise ValidationError("say in at most 500 characters why the usage is flagged (the reason is kept with the events)")
    events = list(db.session.scalars(sa.select(UsageEvent).where(UsageEvent.idempotency_key.in_(list(idempotency_keys)))))
    unknown = set(idempotency_keys) - {e.idempotency_key for e in events}
    if unknown:
        raise NotFound(f"no usage events with keys {sorted(unknown)[:5]}")
    paid = set(db.session.execute(sa.select(SettlementRun.quarter_code, SettlementRun.order_id)).all())
    settled = [e.idempotency_key for e in events if (e.settle_quarter_code, e.order_id) in paid]
    if settled:
        raise Conflict(f"usage {settled[:5]} was already paid in a posted settlement; reverse that entry instead")
    now = now or utcnow()
    for e in events:
        if e.flagged_at is None:
            e.flagged_at, e.flag_reason = now, reason.strip()
    audit.record(actor, "billing.usage_flagged", "usage_batch", events[0].idempotency_key[:64] if events else "-",
                 {"keys": list(idempotency_keys)[:100], "count": len(events), "reason": reason})
    db.session.commit()
    return len(events)


# --- settlement ----------------------------------------------------------------------------------------

def settlement_preview(actor, quarter_code: str, *, order_ids: Sequence[int] | None = None) -> settlement.QuarterPreview:
    """What settling the quarter would pay, order by order, and the awards. Changes nothing. Finance only."""
    authz.settlement_preview(actor)
    span = quarter_span(quarter_code)
    return settlement.compute(settlement.gather(span, list(order_ids) if order_ids is not None else None))


def _require_settleable(q: Quarter, now: datetime) -> None:
    if q.closed_at:
        raise Conflict(f"quarter {q.code} is closed; nothing in it changes")
    if now < q.ends_at:
        raise Conflict(f"quarter {q.code} is still open until {q.ends_at.isoformat()}; settle it after it ends")


def _existing_run(code: str, scope: str) -> SettlementRun | None:
    return db.session.scalar(sa.select(SettlementRun).where(SettlementRun.quarter_code == code,
                                                            SettlementRun.scope == scope))


def _post_order(actor, code: str, order_id: int, now: datetime, progress: Progress) -> tuple[SettlementRun, bool]:
    q = _quarter(code, lock="update")  # one poster at a time per quarter; usage batches wait
    _require_settleable(q, now)
    scope = f"order:{order_id}"
    existing = _existing_run(code, scope)
    if existing:
        db.session.rollback()
        return existing, False
    inputs = settlement.gather(quarter_span(code), [order_id], now=now)
    if order_id not in inputs.orders:
        raise NotFound(f"order {order_id} has no price schedule in effect for {code}")
    snapshot = settlement.order_snapshot(inputs, order_id)
    result = settlement.settle_order_snapshot(snapshot)
    terms = inputs.orders[order_id]
    progress("computed", {"order_id": order_id, "total_fen": result.total, "apps": len(result.lines)})
    run = SettlementRun(
        quarter_code=code, scope=scope, order_id=order_id, department_id=terms.department_id, currency=terms.currency,
        budget_fen=result.budget, demand_fen=str(result.demand), total_fen=result.total, capped=result.capped,
        formula_version=formula.FORMULA_VERSION, rounding_rules=dict(formula.ROUNDING_RULES), snapshot=snapshot,
        snapshot_sha256=settlement.canonical_sha256(snapshot), posted_at=now, posted_by=_label(actor))
    db.session.add(run)
    db.session.flush()
    db.session.add_all(
        SettlementLine(run_id=run.id, app_id=line.app_id, vendor_id=line.vendor_id, order_id=order_id,
                       completed=line.completed, late=line.late, ratings=line.ratings, stars_sum=line.stars_sum,
                       bayesian_rating=str(line.bayesian_rating), multiplier=str(line.multiplier),
                       amount_fen=line.amount, currency=terms.currency)
        for line in result.lines)
    progress("lines_written", {"order_id": order_id})
    # Account names and memos are the ledger's record, published with it: in Chinese, the platform's language
    # of record, and naming the order, the app and the vendor in words.
    name = terms.title or f"订单 {order_id}"
    budget_account = ledger.account("department_budget", terms.currency, order_id=order_id,
                                    department_id=terms.department_id, name=name)
    if result.budget:
        treasury = ledger.account(ledger.TREASURY, terms.currency, name="国库")
        ledger.entry_append(quarter_code=code, kind="appropriation", memo=f"{code} {name} 季度预算拨付",
                            postings=[ledger.PostingSpec(budget_account, result.budget),
                                      ledger.PostingSpec(treasury, -result.budget)],
                            created_by=_label(actor), settlement_run_id=run.id, now=now)
    paid = [line for line in result.lines if line.amount]
    if paid:
        postings = [ledger.PostingSpec(budget_account, -result.total, memo="按件计费结算")]
        for line in paid:
            facts = inputs.apps.get(line.app_id)
            vendor = ledger.account("vendor_payable", terms.currency, vendor_id=line.vendor_id,
                                    name=facts.vendor_name if facts and facts.vendor_name else f"厂商 {line.vendor_id}")
            app_name = facts.name if facts and facts.name else f"应用 {line.app_id}"
            postings.append(ledger.PostingSpec(vendor, line.amount, app_id=line.app_id,
                                               memo=f"{app_name}：{line.completed + line.late} 件"))
        ledger.entry_append(quarter_code=code, kind="settlement", memo=f"{code} {name} 按件计费结算",
                            postings=postings, created_by=_label(actor), settlement_run_id=run.id, now=now)
    progress("entries_written", {"order_id": order_id})
    audit.record(actor, "billing.settlement_posted", "settlement_run", run.id,
                 {"quarter": code, "order_id": order_id, "total_fen": result.total,
                  "snapshot_sha256": run.snapshot_sha256}, department_id=terms.department_id)
    db.session.commit()
    return run, True


def _post_awards(actor, code: str, now: datetime, progress: Progress) -> tuple[SettlementRun, bool]:
    q = _quarter(code, lock="update")
    _require_settleable(q, now)
    existing = _existing_run(code, "awards")
    if existing:
        db.session.rollback()
        return existing, False
    preview = settlement.compute(settlement.gather(quarter_span(code), now=now))
    snapshot = preview.awards_snapshot
    awards = settlement.rank_awards_snapshot(snapshot)
    total = sum(a.prize.minor for a in awards)
    currency = snapshot["currency"]
    run = SettlementRun(
        quarter_code=code, scope="awards", currency=currency, total_fen=total, capped=False,
        formula_version=formula.FORMULA_VERSION, rounding_rules=dict(formula.ROUNDING_RULES), snapshot=snapshot,
        snapshot_sha256=settlement.canonical_sha256(snapshot), posted_at=now, posted_by=_label(actor))
    db.session.add(run)
    db.session.flush()
    db.session.add_all(
        SettlementLine(run_id=run.id, app_id=a.candidate.app_id, vendor_id=a.candidate.vendor_id,
                       order_id=a.candidate.order_id, completed=a.candidate.completed, late=0,
                       ratings=a.candidate.ratings, stars_sum=0, bayesian_rating=str(a.candidate.bayesian_rating),
                       multiplier="1", award_rank=a.rank, award_score=str(a.score), amount_fen=a.prize.minor,
                       currency=currency)
        for a in awards)
    progress("awards_ranked", {"winners": [a.candidate.app_id for a in awards]})
    if awards:
        treasury = ledger.account(ledger.TREASURY, currency, name="国库")
        pool = ledger.account(ledger.AWARD_POOL, currency, name="奖励资金池")
        ledger.entry_append(quarter_code=code, kind="award_funding", memo=f"{code} 奖励资金拨付",
                            postings=[ledger.PostingSpec(pool, total), ledger.PostingSpec(treasury, -total)],
                            created_by=_label(actor), settlement_run_id=run.id, now=now)
        postings = [ledger.PostingSpec(pool, -total, memo="季度奖励")]
        for a in awards:
            facts = preview.inputs.apps.get(a.candidate.app_id)
            vendor = ledger.account("vendor_payable", currency, vendor_id=a.candidate.vendor_id,
                                    name=facts.vendor_name if facts and facts.vendor_name
                                    else f"厂商 {a.candidate.vendor_id}")
            app_name = facts.name if facts and facts.name else f"应用 {a.candidate.app_id}"
            postings.append(ledger.PostingSpec(vendor, a.prize.minor, app_id=a.candidate.app_id,
                                               memo=f"{app_name}：第 {a.rank} 名奖励"))
        ledger.entry_append(quarter_code=code, kind="award", memo=f"{code} 季度前三名奖励", postings=postings,
                            created_by=_label(actor), settlement_run_id=run.id, now=now)
    progress("entries_written", {"scope": "awards"})
    audit.record(actor, "billing.awards_posted", "settlement_run", run.id,
                 {"quarter": code, "winners": [a.candidate.app_id for a in awards], "total_fen": total})
    db.session.commit()
    return run, True


@dataclass(frozen=True)
class PostOutcome:
    quarter_code: str
    posted: list[int]  # run ids posted by this call
    already_posted: list[int]  # run ids that existed before (idempotent repeat)
    settled: bool


def settlement_post(actor, quarter_code: str, *, order_ids: Sequence[int] | None = None,
                    now: datetime | None = None, progress: Progress | None = None) -> PostOutcome:
    """Post the quarter's settlement: each order atomically and at most once (a repeat returns the run
    already posted), then the awards; when every order and the awards are posted the quarter is settled.
    Finance or the platform's scheduled job. Raises Conflict for an open or closed quarter."""
    authz.settlement_post(actor)
    now = now or utcnow()
    progress = progress or _noop
    span = quarter_span(quarter_code)
    all_orders = sorted(o.order_id for o in settlement_source().orders(span))
    targets = all_orders if order_ids is None else sorted(set(order_ids))
    posted, before = [], []
    for n, order_id in enumerate(targets, start=1):
        progress("order", {"order_id": order_id, "n": n, "of": len(targets)})
        run, new = _post_order(actor, quarter_code, order_id, now, progress)
        (posted if new else before).append(run.id)
    settled = False
    if order_ids is None:
        progress("awards", {})
        run, new = _post_awards(actor, quarter_code, now, progress)
        (posted if new else before).append(run.id)
        q = _quarter(quarter_code, lock="update")
        done = {s for (s,) in db.session.execute(sa.select(SettlementRun.scope)
                                                 .where(SettlementRun.quarter_code == quarter_code))}
        if not q.settled_at and {f"order:{o}" for o in all_orders} | {"awards"} <= done:
            q.settled_at = now
            audit.record(actor, "billing.quarter_settled", "quarter", quarter_code, {"runs": sorted(done)})
        settled = q.settled_at is not None
        db.session.commit()
    return PostOutcome(quarter_code, posted, before, settled)


def settlement_runs(actor, quarter_code: str) -> list[SettlementRun]:
    authz.settlement_runs(actor)
    return list(db.session.scalars(sa.select(SettlementRun).where(SettlementRun.quarter_code == quarter_code)
                                   .order_by(SettlementRun.id)))


def settlement_run_get(actor, run_id: int) -> SettlementRun:
    authz.settlement_run_get(actor)
    run = db.session.get(SettlementRun, run_id)
    if run is None:
        raise NotFound(f"settlement run {run_id} does not exist")
    return run


@dataclass(frozen=True)
class RecomputeResult:
    run_id: int
    snapshot_intact: bool
    figures_match: bool
    differences: list[str]


def settlement_recompute(actor, run_id: int) -> RecomputeResult:
    """Recompute a posted run from its stored snapshot and compare with what was posted. Finance, auditors."""
    authz.settlement_recompute(actor)
    run = settlement_run_get(actor, run_id)
    intact = settlement.canonical_sha256(run.snapshot) == run.snapshot_sha256
    posted = {line.app_id: (line.amount_fen, line.award_rank) for line in run.lines}
    if run.scope == "awards":
        fresh = {a.candidate.app_id: (a.prize.minor, a.rank) for a in settlement.rank_awards_snapshot(run.snapshot)}
    else:
        fresh = {line.app_id: (line.amount, None) for line in settlement.settle_order_snapshot(run.snapshot).lines}
    differences = [f"app {app}: posted {posted.get(app)}, recomputed {fresh.get(app)}"
                   for app in sorted(set(posted) | set(fresh)) if posted.get(app) != fresh.get(app)]
    if not intact:
        differences.insert(0, "the stored snapshot does not match its sha256: it was changed after posting")
    return RecomputeResult(run.id, intact, not differences, differences)


# --- ledger --------------------------------------------------------------------------------------------

def ledger_verify(actor, progress: Callable[[int], None] | None = None) -> ledger.VerifyReport:
    """Check the whole hash chain, entry balance and the chain head. Finance and auditors."""
    authz.ledger_verify(actor)
    return ledger.verify(progress)


def ledger_entries(actor, *, quarter_code: str | None = None, page: int = 1, page_size: int = 50) -> list[JournalEntry]:
    authz.ledger_entries(actor)
    query = sa.select(JournalEntry).order_by(JournalEntry.seq.desc())
    if quarter_code:
        query = query.where(JournalEntry.quarter_code == quarter_code)
    return list(db.session.scalars(query.limit(page_size).offset((page - 1) * page_size)))


def ledger_entry_count(actor, *, quarter_code: str | None = None) -> int:
    """How many journal entries ``ledger_entries`` pages through (finance, auditors, admins)."""
    authz.ledger_entry_count(actor)
    query = sa.select(sa.func.count()).select_from(JournalEntry)
    if quarter_code:
        query = query.where(JournalEntry.quarter_code == quarter_code)
    return db.session.scalar(query) or 0


def ledger_entry_get(actor, entry_id: int) -> JournalEntry:
    authz.ledger_entry_get(actor)
    entry = db.session.get(JournalEntry, entry_id)
    if entry is None:
        raise NotFound(f"journal entry {entry_id} does not exist")
    return entry


def ledger_trial_balance(actor, quarter_code: str | None = None) -> list[ledger.BalanceRow]:
    authz.ledger_trial_balance(actor)
    return ledger.trial_balance(quarter_code)


def ledger_accounts(actor) -> list[Account]:
    authz.ledger_accounts(actor)
    return list(db.session.scalars(sa.select(Account).order_by(Account.code)))


def ledger_account_statement(actor, account_id: int, quarter_code: str | None = None):
    authz.ledger_account_statement(actor)
    acct = db.session.get(Account, account_id)
    if acct is None:
        raise NotFound(f"ledger account {account_id} does not exist")
    return acct, ledger.account_statement(account_id, quarter_code)


def ledger_reverse(actor, entry_id: int, reason: str, *, now: datetime | None = None) -> JournalEntry:
    """Correct a posted entry by appending its exact opposite, linked to it with the reason; booked in the
    current quarter (a closed quarter never changes). Finance only. Raises Conflict for an entry already
    reversed or itself a reversal, ValidationError without a reason."""
    authz.ledger_reverse(actor)
    if not reason or not reason.strip() or len(reason.strip()) > 500:
        raise ValidationError("a reversal needs a reason of at most 500 characters (it is kept with the entry)")
    now = now or utcnow()
    original = db.session.get(JournalEntry, entry_id)
    if original is None:
        raise NotFound(f"journal entry {entry_id} does not exist")
    if original.kind == "reversal":
        raise Conflict(f"entry #{original.seq} is itself a reversal; post a new entry instead")
    already = db.session.scalar(sa.select(JournalEntry).where(JournalEntry.reverses_entry_id == entry_id))
    if already:
        raise Conflict(f"entry #{original.seq} was already reversed by entry #{already.seq}")
    code = quarter_code_of(now)
    q = _quarter(code, lock="update")
    if q.closed_at:
        raise Conflict(f"quarter {code} is closed")
    postings = [ledger.PostingSpec(p.account, -p.amount, app_id=p.app_id, memo=f"冲销第 {p.line_no} 行")
                for p in original.postings]
    entry = ledger.entry_append(quarter_code=code, kind="reversal", memo=f"冲销分录 #{original.seq}",
                                postings=postings, created_by=_label(actor), reverses_entry_id=original.id,
                                reason=reason.strip(), now=now)
    audit.record(actor, "billing.entry_reversed", "journal_entry", original.id,
                 {"reversal_entry_id": entry.id, "reason": reason.strip()})
    db.session.commit()
    return entry


# --- statements ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VendorStatement:
    vendor_id: int
    quarter_code: str | None
    currency: str
    lines: list  # settlement lines (usage payments and awards)
    ledger_lines: list[ledger.StatementLine]
    balance: Money
    vendor_name: str = ""
    app_names: dict[int, str] = field(default_factory=dict)
    order_titles: dict[int, str] = field(default_factory=dict)


def vendor_statement(actor, vendor_id: int, quarter_code: str | None = None) -> VendorStatement:
    """A vendor's payments: settlement lines per app and its payable account. The vendor's own members,
    finance and auditors. Raises Forbidden for another vendor's statement."""
    authz.vendor_statement(actor, vendor_id)
    query = (sa.select(SettlementLine).join(SettlementRun).where(SettlementLine.vendor_id == vendor_id)
             .order_by(SettlementRun.quarter_code, SettlementLine.id))
    if quarter_code:
        query = query.where(SettlementRun.quarter_code == quarter_code)
    lines = list(db.session.scalars(query))
    accounts = list(db.session.scalars(sa.select(Account).where(Account.kind == "vendor_payable",
                                                               Account.vendor_id == vendor_id)))
    ledger_lines: list[ledger.StatementLine] = []
    currency = accounts[0].currency if accounts else "CNY"
    for acct in accounts:
        ledger_lines.extend(ledger.account_statement(acct.id, quarter_code))
    balance = Money(sum(line.amount for line in ledger_lines), currency)
    # Names in words: apps and the vendor from the marketplace, each order's title as it stood in its run.
    facts = reports.app_facts(sorted({line.app_id for line in lines} | {line.app_id for line in ledger_lines
                                                                        if line.app_id}))
    vendor_name = next((f.vendor_name for f in facts.values() if f.vendor_name),
                       accounts[0].name if accounts else "")
    titles = {line.order_id: line.run.snapshot.get("order", {}).get("title", "") for line in lines
              if line.run.order_id is not None}
    return VendorStatement(vendor_id, quarter_code, currency, lines, ledger_lines, balance, vendor_name,
                           {a: f.name for a, f in facts.items()}, titles)


# --- reports -------------------------------------------------------------------------------------------

def finance_report(actor, quarter_code: str) -> reports.FinanceReport:
    """The quarter's finance report from its posted runs (by department, order, vendor, app; awards).
    Finance and auditors."""
    authz.finance_report(actor)
    quarter_span(quarter_code)
    return reports.build_finance_report(quarter_code)


def payout_file(actor, quarter_code: str) -> tuple[list[reports.PayoutRow], str]:
    """What to pay each vendor for the quarter, from the ledger, as rows and as CSV. Finance and auditors."""
    authz.payout_file(actor)
    quarter_span(quarter_code)
    rows = reports.payout_rows(quarter_code)
    return rows, reports.payout_csv(quarter_code, rows)


def transparency_report(actor, quarter_code: str) -> reports.FinanceReport | None:
    """Public figures per app (usage, ratings, payouts, awards) once the quarter is settled; None before."""
    authz.transparency_report(actor)
    quarter_span(quarter_code)
    q = db.session.scalar(sa.select(Quarter).where(Quarter.code == quarter_code))
    if q is None or q.settled_at is None:
        return None
    return reports.build_finance_report(quarter_code)


def transparency_quarters(actor) -> list[str]:
    """The codes of every settled quarter, newest first (each has a public page and dataset). Anyone."""
    authz.transparency_quarters(actor)
    return list(db.session.scalars(sa.select(Quarter.code).where(Quarter.settled_at.is_not(None))
                                   .order_by(Quarter.code.desc())))


def transparency_dataset(actor, quarter_code: str, *, now: datetime | None = None) -> dict | None:
    """The quarter's public dataset (every input and figure of its settlement, its ledger entries and chain
    head; no personal data) once it is settled; None before. Anyone."""
    authz.transparency_dataset(actor)
    quarter_span(quarter_code)
    return dataset.build(quarter_code, now=now)


# --- payee accounts and the bank payout file -------------------------------------------------------------

CNAPS_CODE = re.compile(r"^\d{12}$")
ACCOUNT_NUMBER = re.compile(r"^[0-9A-Za-z-]{6,34}$")


def payee_set(actor, vendor_id: int, *, holder_name: str, credit_code: str, account_number: str, bank_code: str,
              bank_name: str = "", now: datetime | None = None) -> PayeeAccount:
    """Register (or replace) the account a vendor's payouts go to. Finance or the platform's CLI. Raises
    ValidationError for a malformed credit code, account number or CNAPS bank code."""
    authz.payee_set(actor)
    holder_name, credit_code = holder_name.strip(), credit_code.strip().upper()
    account_number, bank_code = account_number.replace(" ", ""), bank_code.strip()
    if not holder_name or len(holder_name) > 140:
        raise ValidationError("the account holder's name is required (at most 140 characters), as the bank has it")
    problem = uscc_problem(credit_code)
    if problem:
        raise ValidationError(f"{credit_code!r} is not a valid unified social credit code: {problem}")
    if not ACCOUNT_NUMBER.match(account_number):
        raise ValidationError(f"{account_number!r} is not an account number (6–34 letters or digits)")
    if not CNAPS_CODE.match(bank_code):
        raise ValidationError(f"{bank_code!r} is not a CNAPS bank code (12 digits)")
    payee = db.session.scalar(sa.select(PayeeAccount).where(PayeeAccount.vendor_id == vendor_id))
    if payee is None:
        payee = PayeeAccount(vendor_id=vendor_id)
        db.session.add(payee)
    payee.holder_name, payee.credit_code, payee.account_number = holder_name, credit_code, account_number
    payee.bank_code, payee.bank_name = bank_code, bank_name.strip()[:140]
    payee.updated_at, payee.updated_by = now or utcnow(), _label(actor)
    db.session.flush()
    audit.record(actor, "billing.payee_set", "vendor", vendor_id,
                 {"bank_code": bank_code, "account_last4": account_number[-4:]})
    db.session.commit()
    return payee


def payout_bank_file(actor, quarter_code: str, *, config: Mapping, now: datetime | None = None) -> bytes:
    """The quarter's payouts as an ISO 20022 pain.001.001.03 credit-transfer file for the treasury's bank.
    Finance and auditors. Raises ValidationError (vendors without a payee account, no treasury account
    configured) or Conflict (a vendor owes money for the quarter)."""
    authz.payout_bank_file(actor)
    quarter_span(quarter_code)
    now = now or utcnow()
    rows = reports.payout_rows(quarter_code)
    payees = {p.vendor_id: p for p in db.session.scalars(
        sa.select(PayeeAccount).where(PayeeAccount.vendor_id.in_([r.vendor_id for r in rows])))}
    return payments.pain001(quarter_code, rows, payees, debtor_name=config.get("PAYOUT_DEBTOR_NAME", ""),
                            debtor_account=config.get("PAYOUT_DEBTOR_ACCOUNT", ""),
                            debtor_bank_code=config.get("PAYOUT_DEBTOR_BANK_CODE", ""), now=now,
                            execution_date=now.astimezone(CHINA_TIME).date())
