"""Transaction use cases: a citizen opens an app (a case starts), the app submits to the department, the
department handles the case step by step — 已提交 → 已受理 → 审查中 → 已办结 (准予 with the result, or 不予许可 with
the reason), or 不予受理 with the reason — and the citizen follows the timeline, each step with its time.

Completion is decided by the department service the app submits to through the platform, never by the app:
the gateway calls ``transaction_record_submission`` with the department's answer. A completed case emits
exactly one usage event to billing and is announced by ``case_completed`` (the citizen read side counts it in its
statistics: completed cases, median handling time), in the same database transaction as the status change.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from blinker import Namespace

from billing import services as billing
from core import audit
from core.auth import SYSTEM
from core.errors import Conflict, NotFound, ValidationError
from core.extensions import db
from core.time import utcnow
from marketplace.pagination import Page, paginate
from marketplace.transactions import authz
from marketplace.transactions.models import DECIDED, FINAL, Transaction, TransactionEvent
from marketplace.vendors.models import App, AppVersion

DECISIONS = {"accepted": "completed", "rejected": "rejected"}
_CASE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z: read aloud over the phone without doubt

_signals = Namespace()
# Sent with the completed transaction (flushed, not yet committed): receivers write in the same database transaction.
# The citizen read side's ``init_app`` connects its statistics to it; it sits above transactions.
case_completed = _signals.signal("case-completed")


def new_case_number(now: datetime) -> str:
    """A case number citizens can quote: GM + the local date + 8 random characters, e.g. GM20260815K7Q3X9PA."""
    return f"GM{now:%Y%m%d}" + "".join(secrets.choice(_CASE_ALPHABET) for _ in range(8))


def usage_key(transaction: Transaction) -> str:
    """The billing idempotency key of a case: one usage event per transaction, whatever retries happen."""
    return f"transaction:{transaction.id}"


def published_version(app_id: int) -> AppVersion | None:
    """The app's live version: published and not superseded, suspended or withdrawn."""
    return db.session.scalar(sa.select(AppVersion).where(AppVersion.app_id == app_id, AppVersion.live())
                             .order_by(AppVersion.id.desc()).limit(1))


def _event(transaction: Transaction, kind: str, occurred_at: datetime, **detail) -> TransactionEvent:
    event = TransactionEvent(transaction=transaction, kind=kind, occurred_at=occurred_at, recorded_at=utcnow(),
                             detail=detail)
    db.session.add(event)
    return event


def _audit(actor, action: str, transaction: Transaction, payload: dict | None = None) -> None:
    audit.record(actor, action, "transaction", transaction.id,
                 {"case_number": transaction.case_number, "app_id": transaction.app_id, **(payload or {})},
                 department_id=transaction.order.department_id, vendor_id=transaction.app.vendor_id)


def transaction_start(actor, app_id: int, *, occurred_at: datetime | None = None) -> Transaction:
    """A citizen opens an app: returns their open (started) case with that app, or starts a new one.

    ``occurred_at`` (default now) is when the citizen opened the app; only importing a case history (the demo
    seeder) passes an earlier moment. Citizens only. Raises NotFound for an unknown app or one without a live
    published version (suspended, withdrawn or never published apps cannot take cases), ValidationError for a
    naive or future ``occurred_at``.
    """
    authz.transaction_start(actor)
    app = db.session.get(App, app_id)
    if app is None or published_version(app_id) is None or app.order.status == "archived":
        raise NotFound(f"app {app_id} is not published; choose one of the apps listed for the service item")
    existing = db.session.scalar(sa.select(Transaction).where(
        Transaction.citizen_id == actor.id, Transaction.app_id == app_id, Transaction.status == "started")
        .order_by(Transaction.id.desc()).limit(1))
    if existing is not None:
        return existing
    now = _moment(occurred_at, "occurred_at")
    transaction = Transaction(case_number=new_case_number(now), citizen_id=actor.id, app_id=app.id,
                              order_id=app.order_id, service_item_id=app.order.service_item_id, status="started",
                              started_at=now)
    db.session.add(transaction)
    db.session.flush()
    _event(transaction, "started", now, app=app.name)
    _audit(actor, "transaction.start", transaction)
    db.session.commit()
    return transaction


def _moment(value: datetime | None, name: str) -> datetime:
    """``value`` or now; a naive or future moment is refused (a case cannot be dated after it was recorded)."""
    now = utcnow()
    if value is None:
        return now
    if value.tzinfo is None:
        raise ValidationError(f"{name} must be timezone-aware", errors={name: "naive"})
    if value > now:
        raise ValidationError(f"{name} {value.isoformat()} is in the future", errors={name: "future"})
    return value


def _locked(transaction_id: int) -> Transaction:
    transaction = db.session.scalar(sa.select(Transaction).where(Transaction.id == transaction_id).with_for_update())
    if transaction is None:
        raise NotFound(f"case {transaction_id} does not exist")
    return transaction


def transaction_record_submission(transaction_id: int, *, department_case_number: str, decision: str,
                                  reasons: list[str] | None = None, occurred_at: datetime | None = None,
                                  recorded_at: datetime | None = None) -> Transaction:
    """Record the department's decision on a submission the app made through the platform: accepted →
    completed (and one usage event to billing, in the same database transaction), rejected → rejected.

    ``occurred_at`` is when the department decided (default now). ``recorded_at`` is when the platform
    received the decision, the usage event's ``received_at`` (default now): only importing a case history
    (the demo seeder) passes a past moment, so the usage counts in the quarter it happened in rather than
    as a late adjustment.

    Called by the platform's gateway, never by apps directly. Idempotent on ``department_case_number``: the
    same decision recorded again returns the transaction unchanged. Raises NotFound for an unknown case,
    ValidationError for an unknown decision or a missing case number, Conflict when the case is already
    decided under another department case number or the decision contradicts the recorded one.
    """
    department_case_number = (department_case_number or "").strip()
    if not department_case_number:
        raise ValidationError("the department's case number is missing; pass the case_number the department returned",
                              errors={"department_case_number": "empty"})
    if decision not in DECISIONS:
        raise ValidationError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}",
                              errors={"decision": "unknown"})
    occurred_at = occurred_at or utcnow()
    if occurred_at.tzinfo is None:
        raise ValidationError("occurred_at must be timezone-aware", errors={"occurred_at": "naive"})
    transaction = _locked(transaction_id)
    status = DECISIONS[decision]
    if transaction.department_case_number == department_case_number:
        if transaction.status != status:
            raise Conflict(f"department case {department_case_number} was recorded as {transaction.status}, "
                           f"not {status}; a decision is final")
        return transaction
    if transaction.is_final or transaction.department_case_number:
        raise Conflict(f"case {transaction.case_number} is already {transaction.status} "
                       f"(department case {transaction.department_case_number}); start a new case to apply again")
    other = db.session.scalar(sa.select(Transaction.case_number)
                              .where(Transaction.department_case_number == department_case_number))
    if other:
        raise Conflict(f"department case {department_case_number} belongs to case {other}, not {transaction.case_number}")
    reasons = [str(r) for r in (reasons or [])]
    transaction.department_case_number = department_case_number
    transaction.submitted_at = occurred_at
    transaction.decision_reasons = reasons
    transaction.status = status
    _event(transaction, "submitted", occurred_at, department_case_number=department_case_number)
    if status == "completed":
        transaction.completed_at = occurred_at
        transaction.usage_key = usage_key(transaction)
        _event(transaction, "completed", occurred_at, department_case_number=department_case_number)
    else:
        transaction.rejected_at = occurred_at
        _event(transaction, "rejected", occurred_at, reasons=reasons)
    _audit(SYSTEM, f"transaction.{status}", transaction, {"department_case_number": department_case_number,
                                                          "reasons": reasons})
    db.session.flush()
    if status == "completed":
        # billing's metering commits the session: the status change, the timeline and the usage event land together.
        _meter(transaction, occurred_at, recorded_at)
    else:
        db.session.commit()
    return transaction


# The department's steps, in the order they come, with the statuses a case may be in before each.
STEP_FROM = {
    "submitted": {"started"},
    "accepted": {"submitted"},
    "not_accepted": {"submitted"},
    "under_review": {"accepted"},
    "concluded": {"accepted", "under_review"},
}
STEP_STATUS = {"submitted": "submitted", "accepted": "accepted", "not_accepted": "not_accepted",
               "under_review": "under_review"}
_ORDER = ("started", "submitted", "accepted", "under_review", "concluded")


def _reached(transaction: Transaction, step: str) -> bool:
    """Whether the case is already at or past ``step`` (a repeated notice changes nothing)."""
    status = transaction.status
    if status == "not_accepted":
        return step in ("submitted", "not_accepted")  # a later step contradicts 不予受理
    if status in DECIDED:
        return step != "not_accepted"
    position = {"started": 0, "submitted": 1, "accepted": 2, "under_review": 3}.get(status, 4)
    return position >= _ORDER.index("concluded" if step == "not_accepted" else step)


def transaction_record_department_step(transaction_id: int, *, department_case_number: str, step: str,
                                       occurred_at: datetime, outcome: str | None = None,
                                       reasons: list[str] | None = None, result: str | None = None,
                                       recorded_at: datetime | None = None) -> Transaction:
    """Record one step the department took on the case: ``submitted`` (its case number is the case's number from
    now on), ``accepted``, ``not_accepted`` (with the reasons), ``under_review``, ``concluded`` (``outcome``
    ``granted`` with the ``result`` → completed, one usage event to billing; ``refused`` with the reasons →
    rejected). Each step lands in the timeline with the department's time.

    Called by the platform's gateway with the department's notices, never by apps. Idempotent: a step the case has
    reached already changes nothing. Raises NotFound for an unknown case, ValidationError for an unknown step or
    outcome or a missing case number, Conflict for a step out of order or another department case number."""
    department_case_number = (department_case_number or "").strip()
    if not department_case_number:
        raise ValidationError("the department's case number is missing", errors={"department_case_number": "empty"})
    if step not in STEP_FROM:
        raise ValidationError(f"step {step!r} is not one of {', '.join(STEP_FROM)}", errors={"step": "unknown"})
    if step == "concluded" and outcome not in ("granted", "refused"):
        raise ValidationError(f"a concluded case is granted or refused, got {outcome!r}", errors={"outcome": "unknown"})
    if occurred_at.tzinfo is None:
        raise ValidationError("occurred_at must be timezone-aware", errors={"occurred_at": "naive"})
    transaction = _locked(transaction_id)
    if transaction.department_case_number not in (None, department_case_number):
        raise Conflict(f"case {transaction.case_number} is department case {transaction.department_case_number}, "
                       f"not {department_case_number}")
    if transaction.department_case_number is None and step != "submitted":
        raise Conflict(f"case {transaction.case_number} was not submitted yet; the department's first notice is "
                       f"'submitted'")
    if _reached(transaction, step):
        return transaction
    if transaction.status not in STEP_FROM[step]:
        raise Conflict(f"case {transaction.case_number} is {transaction.status}; the department cannot {step} it now")
    reasons = [str(r) for r in (reasons or [])]
    if step == "submitted":
        other = db.session.scalar(sa.select(Transaction.case_number)
                                  .where(Transaction.department_case_number == department_case_number))
        if other:
            raise Conflict(f"department case {department_case_number} belongs to case {other}")
        transaction.department_case_number, transaction.submitted_at = department_case_number, occurred_at
    elif step == "accepted":
        transaction.accepted_at = occurred_at
    elif step == "not_accepted":
        transaction.rejected_at, transaction.decision_reasons = occurred_at, reasons
    if step != "concluded":
        transaction.status = STEP_STATUS[step]
        _event(transaction, step, occurred_at, department_case_number=department_case_number,
               **({"reasons": reasons} if step == "not_accepted" else {}))
        _audit(SYSTEM, f"transaction.{step}", transaction, {"department_case_number": department_case_number,
                                                            "reasons": reasons})
        db.session.commit()
        return transaction
    if outcome == "refused":
        transaction.status, transaction.rejected_at, transaction.decision_reasons = "rejected", occurred_at, reasons
        _event(transaction, "rejected", occurred_at, reasons=reasons)
        _audit(SYSTEM, "transaction.rejected", transaction, {"department_case_number": department_case_number,
                                                             "reasons": reasons})
        db.session.commit()
        return transaction
    transaction.status, transaction.result = "completed", (result or None)
    transaction.completed_at, transaction.usage_key = occurred_at, usage_key(transaction)
    _event(transaction, "completed", occurred_at, result=result or "")
    _audit(SYSTEM, "transaction.completed", transaction, {"department_case_number": department_case_number,
                                                          "result": result})
    db.session.flush()
    _meter(transaction, occurred_at, recorded_at)
    return transaction


def _meter(transaction: Transaction, occurred_at: datetime, recorded_at: datetime | None) -> None:
    """Announce the completed case and write its usage event; one commit for the status, timeline and usage."""
    case_completed.send(transaction)
    try:
        billing.usage_record(SYSTEM, idempotency_key=transaction.usage_key, order_id=transaction.order_id,
                             app_id=transaction.app_id, vendor_id=transaction.app.vendor_id,
                             transaction_ref=transaction.case_number, occurred_at=occurred_at, now=recorded_at)
    except Exception:
        db.session.rollback()  # no completion without its usage event
        raise


def transaction_record_failure(transaction_id: int, *, reason: str, occurred_at: datetime | None = None) -> Transaction:
    """The app could not finish the case (it crashed, timed out, or the department service was unreachable).
    Called by the platform's gateway. A started or submitted case becomes failed; a decided one is left alone
    (Conflict). Raises NotFound for an unknown case."""
    transaction = _locked(transaction_id)
    if transaction.is_final:
        raise Conflict(f"case {transaction.case_number} is already {transaction.status}")
    occurred_at = occurred_at or utcnow()
    transaction.status = "failed"
    transaction.failed_at = occurred_at
    _event(transaction, "failed", occurred_at, reason=reason)
    _audit(SYSTEM, "transaction.failed", transaction, {"reason": reason})
    db.session.commit()
    return transaction


def transaction_get(actor, transaction_id: int) -> Transaction:
    """One case with its timeline: its citizen, the app's vendor, the order's department, or oversight.
    Raises NotFound otherwise (and for unknown ids)."""
    transaction = db.session.get(Transaction, transaction_id)
    if transaction is None:
        raise NotFound(f"case {transaction_id} does not exist")
    authz.transaction_get(actor, transaction)
    return transaction


def transaction_get_by_case_number(actor, case_number: str) -> Transaction:
    """As ``transaction_get``, by the case number the citizen sees."""
    transaction = db.session.scalar(sa.select(Transaction).where(Transaction.case_number == case_number))
    if transaction is None:
        raise NotFound(f"case {case_number} does not exist")
    authz.transaction_get(actor, transaction)
    return transaction


def transaction_list_mine(actor, *, status: str | tuple[str, ...] | None = None, page: int = 1,
                          page_size: int = 20) -> Page:
    """The citizen's own cases, newest first; ``status`` one status or a tuple of them (the to-do list: started
    cases, cases with the department, refusals)."""
    authz.transaction_list_mine(actor)
    query = sa.select(Transaction).where(Transaction.citizen_id == actor.id).order_by(Transaction.started_at.desc(),
                                                                                      Transaction.id.desc())
    if isinstance(status, str):
        query = query.where(Transaction.status == status)
    elif status:
        query = query.where(Transaction.status.in_(status))
    return paginate(query, page, page_size)


@dataclass(frozen=True)
class ItemHistory:
    service_item_id: int
    completed: bool
    last_at: datetime


def citizen_item_history(citizen_id: int) -> dict[int, ItemHistory]:
    """Per service item, whether the citizen completed it and when they last touched it (recommendations)."""
    rows = db.session.execute(sa.select(Transaction.service_item_id, Transaction.status, Transaction.started_at)
                              .where(Transaction.citizen_id == citizen_id))
    history: dict[int, ItemHistory] = {}
    for item_id, status, started in rows:
        old = history.get(item_id)
        done = status == "completed" or (old is not None and old.completed)
        history[item_id] = ItemHistory(item_id, done, max(started, old.last_at) if old else started)
    return history


__all__ = ["FINAL", "transaction_get", "transaction_get_by_case_number", "transaction_list_mine",
           "transaction_record_department_step", "transaction_record_failure", "transaction_record_submission",
           "transaction_start"]
