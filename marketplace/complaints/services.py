"""Complaint use cases (投诉): filed by a citizen against one of their cases or a published app, routed to the
app's vendor and the order's department, acknowledged and answered within ``RESPONSE_WORKING_DAYS`` working
days (open → acknowledged → resolved | rejected), with a public, anonymised outcome."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from core import audit
from core.access import get_or_404
from core.errors import Conflict, NotFound, ValidationError
from core.extensions import db
from core.time import utcnow
from marketplace.complaints import authz
from marketplace.complaints.models import THEMES, Complaint
from marketplace.pagination import Page, paginate
from marketplace.transactions.models import Transaction
from marketplace.transactions.services import published_version
from marketplace.vendors.models import App

RESPONSE_WORKING_DAYS = 5
LOCAL = ZoneInfo("Asia/Shanghai")
MAX_TEXT = 4000
OUTCOMES = ("resolved", "rejected")


def response_deadline(filed_at: datetime, working_days: int = RESPONSE_WORKING_DAYS) -> datetime:
    """The end (23:59:59 local time) of the ``working_days``-th working day (Monday–Friday) after filing."""
    day = filed_at.astimezone(LOCAL).date()
    left = working_days
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    end = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=LOCAL)
    return end.astimezone(filed_at.tzinfo)


def _reference(now: datetime) -> str:
    return f"TS{now:%Y%m%d}" + secrets.token_hex(4).upper()


def _audit(actor, action: str, complaint: Complaint, payload: dict | None = None) -> None:
    audit.record(actor, action, "complaint", complaint.id, {"reference": complaint.reference, **(payload or {})},
                 department_id=complaint.department_id, vendor_id=complaint.vendor_id)


def complaint_file(actor, *, theme: str, description: str, transaction_id: int | None = None,
                   app_id: int | None = None, now: datetime | None = None) -> Complaint:
    """File a complaint about one of your cases (``transaction_id``) or about a published app (``app_id``).
    Citizens only. Raises NotFound for someone else's case or an unknown/unpublished app, ValidationError for
    an unknown theme, an empty description or neither target given."""
    transaction = None
    if transaction_id is not None:
        transaction = db.session.get(Transaction, transaction_id)
        if transaction is None:
            raise NotFound(f"case {transaction_id} does not exist")
    authz.complaint_file(actor, transaction)
    if transaction is not None:
        app = transaction.app
    elif app_id is not None:
        app = db.session.get(App, app_id)
        if app is None or published_version(app.id) is None:
            raise NotFound(f"app {app_id} is not published")
    else:
        raise ValidationError("say which case or app the complaint is about", errors={"transaction_id": "missing"})
    if theme not in THEMES:
        raise ValidationError(f"theme {theme!r} is not one of {', '.join(THEMES)}", errors={"theme": "unknown"})
    description = (description or "").strip()
    if not description or len(description) > MAX_TEXT:
        raise ValidationError(f"describe what went wrong in 1 to {MAX_TEXT} characters",
                              errors={"description": "length"})
    now = now or utcnow()
    complaint = Complaint(reference=_reference(now), citizen_id=actor.id,
                          transaction_id=transaction.id if transaction else None, app_id=app.id,
                          order_id=app.order_id, department_id=app.order.department_id, vendor_id=app.vendor_id,
                          theme=theme, description=description, status="open", filed_at=now,
                          due_at=response_deadline(now))
    db.session.add(complaint)
    db.session.flush()
    _audit(actor, "complaint.file", complaint, {"theme": theme, "app_id": app.id})
    db.session.commit()
    return complaint


def complaint_get(actor, complaint_id: int) -> Complaint:
    """One complaint: its citizen, the vendor and department it is routed to, or oversight. NotFound else."""
    return get_or_404(Complaint, complaint_id, "complaint", authz.complaint_get, actor)


def complaint_acknowledge(actor, complaint_id: int, *, now: datetime | None = None) -> Complaint:
    """The vendor or the department confirms it is handling the complaint. Raises Conflict unless open."""
    complaint = get_or_404(Complaint, complaint_id, "complaint")
    side = authz.complaint_acknowledge(actor, complaint)
    if complaint.status != "open":
        raise Conflict(f"complaint {complaint.reference} is {complaint.status}, not open")
    complaint.status, complaint.acknowledged_at = "acknowledged", now or utcnow()
    _audit(actor, "complaint.acknowledge", complaint, {"side": side})
    db.session.commit()
    return complaint


def complaint_close(actor, complaint_id: int, *, outcome: str, response: str, public_outcome: str,
                    now: datetime | None = None) -> Complaint:
    """Answer the complaint: ``outcome`` resolved or rejected, ``response`` to the citizen, ``public_outcome``
    shown on the app's public page (write it without personal data). The vendor, the department or an admin.
    Raises Conflict when already closed, ValidationError for an unknown outcome or empty texts."""
    complaint = get_or_404(Complaint, complaint_id, "complaint")
    side = authz.complaint_close(actor, complaint)
    if complaint.status in OUTCOMES:
        raise Conflict(f"complaint {complaint.reference} is already {complaint.status}")
    if outcome not in OUTCOMES:
        raise ValidationError(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}", errors={"outcome": "unknown"})
    response, public_outcome = (response or "").strip(), (public_outcome or "").strip()
    errors = {}
    if not response or len(response) > MAX_TEXT:
        errors["response"] = f"write the answer to the citizen (1 to {MAX_TEXT} characters)"
    if not public_outcome or len(public_outcome) > 1000:
        errors["public_outcome"] = "write the public outcome (1 to 1000 characters, no personal data)"
    if errors:
        raise ValidationError("; ".join(errors.values()), errors=errors)
    now = now or utcnow()
    complaint.acknowledged_at = complaint.acknowledged_at or now
    complaint.status, complaint.closed_at = outcome, now
    complaint.response, complaint.public_outcome = response, public_outcome
    complaint.responder_id, complaint.responder_side = actor.id, side
    _audit(actor, f"complaint.{outcome}", complaint, {"side": side, "late": now > complaint.due_at})
    db.session.commit()
    return complaint


def complaint_list(actor, *, status: str | None = None, page: int = 1, page_size: int = 20) -> Page:
    """Complaints the actor may see: a citizen's own, those routed to a vendor or department, all for oversight.
    Open ones first by deadline."""
    query = (sa.select(Complaint).where(authz.complaint_list_scope(actor))
             .order_by(Complaint.closed_at.is_not(None), Complaint.due_at, Complaint.id))
    if status:
        query = query.where(Complaint.status == status)
    return paginate(query, page, page_size)


def complaint_list_public(app_id: int, *, page: int = 1, page_size: int = 20) -> Page:
    """An app's complaints as the public sees them (theme, dates, status, public outcome; see
    ``public_view``), newest first."""
    query = sa.select(Complaint).where(Complaint.app_id == app_id).order_by(Complaint.filed_at.desc(),
                                                                           Complaint.id.desc())
    return paginate(query, page, page_size)


def public_view(complaint: Complaint, now: datetime | None = None) -> dict:
    """The anonymised public record of a complaint: no citizen, no description, no response to the citizen."""
    now = now or utcnow()
    late = (complaint.closed_at or now) > complaint.due_at
    return {"reference": complaint.reference, "app_id": complaint.app_id, "theme": complaint.theme,
            "status": complaint.status, "filed_at": complaint.filed_at, "due_at": complaint.due_at,
            "closed_at": complaint.closed_at, "answered_late": late if complaint.closed_at else None,
            "overdue": complaint.closed_at is None and late, "public_outcome": complaint.public_outcome}
