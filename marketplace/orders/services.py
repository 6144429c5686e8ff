"""Order use cases: create, edit, publish, close, archive; acceptance suites; clarification questions."""

from __future__ import annotations

import copy
import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from blinker import Namespace
from govsuite import suite_sha256
from sqlalchemy.orm.exc import StaleDataError

from core import audit
from core.errors import Conflict, NotFound, PreconditionFailed, ValidationError
from core.extensions import db
from core.roles import Role
from core.time import utcnow
from marketplace.catalogue.services import service_item_get
from marketplace.orders import authz
from marketplace.orders.contract import check_contract, check_price_schedule, check_scopes
from marketplace.orders.models import DEFAULT_MULTIPLIERS, AcceptanceSuite, Order, Question
from marketplace.orders.suites import check_suite, vendor_view
from marketplace.pagination import Page, like, paginate

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# What may change in each status. Contract and price are fixed once vendors compete on them.
EDITABLE = {
    "draft": {"title", "description", "contract", "dept_scopes", "citizen_scopes", "fee_per_transaction_fen",
              "quarterly_budget_fen", "rating_multipliers", "award_eligible"},
    "open": {"title", "description"},
    "closed": {"description"},
    "archived": set(),
}
# The allowed transitions: action -> (from statuses, timestamp it sets).
TRANSITIONS = {
    "publish": ({"draft"}, "published_at"),
    "close": ({"open"}, "closed_at"),
    "archive": ({"draft", "closed"}, "archived_at"),
}

_signals = Namespace()
# Sent with the order's id and ``suite=`` after a new suite version of an open order is committed. The vendors
# package answers it by re-testing every published app (connected by its ``init_app``): orders sit below vendors.
suite_added = _signals.signal("suite-added")


def order_get(actor, order_id: int, *, for_update: bool = False) -> Order:
    """The order with ``order_id`` if ``actor`` may see it; NotFound otherwise."""
    query = sa.select(Order).where(Order.id == order_id)
    if for_update:
        query = query.with_for_update()
    order = db.session.scalar(query)
    if order is None:
        raise NotFound(f"order {order_id} does not exist")
    authz.order_view(actor, order)
    return order


def order_list(actor, *, status: str | None = None, q: str = "", department_id: int | None = None,
               page: int = 1, page_size: int = 20) -> Page:
    """Orders ``actor`` may see: everyone sees open and closed ones; department staff also their own drafts
    and archives; admins, auditors and finance see all."""
    query = sa.select(Order).order_by(Order.id.desc())
    published = sa.and_(Order.published_at.is_not(None), Order.archived_at.is_(None))
    if actor is None or actor.role in {Role.CITIZEN, Role.VENDOR_MEMBER}:
        query = query.where(published)
    elif actor.role == Role.DEPARTMENT_STAFF:
        query = query.where(sa.or_(published, Order.department_id == actor.department_id))
    if status:
        query = query.where(_status_clause(status))
    if department_id:
        query = query.where(Order.department_id == department_id)
    if q:
        query = query.where(sa.or_(Order.title.like(like(q), escape="\\"), Order.slug.like(like(q), escape="\\"),
                                   Order.description.like(like(q), escape="\\")))
    return paginate(query, page, page_size)


def _status_clause(status: str):
    clauses = {
        "draft": sa.and_(Order.published_at.is_(None), Order.archived_at.is_(None)),
        "open": sa.and_(Order.published_at.is_not(None), Order.closed_at.is_(None), Order.archived_at.is_(None)),
        "closed": sa.and_(Order.closed_at.is_not(None), Order.archived_at.is_(None)),
        "archived": Order.archived_at.is_not(None),
    }
    if status not in clauses:
        raise ValidationError(f"status {status!r} is not one of {', '.join(clauses)}", errors={"status": "unknown"})
    return clauses[status]


def order_create(actor, *, service_item_id: int, slug: str, title: str, contract: dict,
                 fee_per_transaction_fen: int, quarterly_budget_fen: int, description: str = "",
                 dept_scopes: list | None = None, citizen_scopes: list | None = None,
                 rating_multipliers: list | None = None, award_eligible: bool = True) -> Order:
    """Create a draft order for one of the actor's department's service items.

    Department staff (own department) and admins. Raises ValidationError for an invalid contract,
    scopes or price schedule, Conflict when the slug is taken.
    """
    item = service_item_get(service_item_id)
    authz.order_create(actor, item.department_id)
    slug = (slug or "").strip()
    if not SLUG_RE.match(slug):
        raise ValidationError(f"slug {slug!r} must be lowercase letters, digits and hyphens (it becomes part of URLs)",
                              errors={"slug": "invalid"})
    if not (title or "").strip():
        raise ValidationError("give the order a title", errors={"title": "empty"})
    dept_scopes, citizen_scopes = list(dept_scopes or []), list(citizen_scopes or [])
    multipliers = rating_multipliers if rating_multipliers is not None else copy.deepcopy(DEFAULT_MULTIPLIERS)
    check_contract(contract)
    check_scopes(dept_scopes, citizen_scopes)
    check_price_schedule(fee_per_transaction_fen, quarterly_budget_fen, multipliers)
    if db.session.scalar(sa.select(Order.id).where(Order.slug == slug)):
        raise Conflict(f"an order with slug {slug!r} already exists; choose another")
    order = Order(department_id=item.department_id, service_item_id=item.id, slug=slug, title=title.strip(),
                  description=description, contract=contract, dept_scopes=dept_scopes,
                  citizen_scopes=citizen_scopes, fee_per_transaction_fen=fee_per_transaction_fen,
                  quarterly_budget_fen=quarterly_budget_fen, rating_multipliers=multipliers,
                  award_eligible=award_eligible)
    db.session.add(order)
    db.session.flush()
    audit.record(actor, "order.create", "order", order.id, {"slug": slug, "title": title},
                 department_id=order.department_id)
    db.session.commit()
    return order


def order_update(actor, order_id: int, changes: dict[str, Any], *, expected_revision: int | None = None,
                 if_match: int | None = None) -> Order:
    """Change an order's fields allowed in its status. ``expected_revision`` (a form's hidden field) and
    ``if_match`` (the revision of the API's If-Match ETag) guard against concurrent edits: if someone saved in
    between, Conflict or PreconditionFailed says so and nothing is written."""
    order = order_get(actor, order_id, for_update=True)
    authz.order_change(actor, order)
    if if_match is not None and if_match != order.revision:
        raise PreconditionFailed(f"order {order.id} changed since you read it (ETag \"{order.revision}\", your If-Match "
                                 f"\"{if_match}\"); GET it again and reapply your change")
    if expected_revision is not None and expected_revision != order.revision:
        raise Conflict(f"order {order.id} was changed by someone else (revision {order.revision}, you edited "
                       f"{expected_revision}); reload it and apply your change again")
    allowed = EDITABLE[order.status]
    refused = sorted(set(changes) - allowed)
    if refused:
        raise Conflict(f"{', '.join(refused)} cannot change while the order is {order.status}"
                       + (f"; editable now: {', '.join(sorted(allowed))}" if allowed else ""),
                       errors={k: "not editable" for k in refused})
    merged = {k: changes.get(k, getattr(order, k)) for k in EDITABLE["draft"]}
    if "contract" in changes:
        check_contract(merged["contract"])
    check_scopes(merged["dept_scopes"], merged["citizen_scopes"])
    check_price_schedule(merged["fee_per_transaction_fen"], merged["quarterly_budget_fen"],
                         merged["rating_multipliers"])
    if "title" in changes and not (changes["title"] or "").strip():
        raise ValidationError("the title cannot be empty", errors={"title": "empty"})
    before = {k: getattr(order, k) for k in changes}
    for key, value in changes.items():
        setattr(order, key, value)
    audit.record(actor, "order.update", "order", order.id,
                 {"changed": sorted(changes), "before": {k: v for k, v in before.items() if k != "contract"}},
                 department_id=order.department_id)
    _commit_guarding_revision(order)
    return order


def _commit_guarding_revision(order: Order) -> None:
    try:
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise Conflict(f"order {order.id} was changed by someone else meanwhile; reload it and try again") from exc


def _transition(actor, order_id: int, action: str, now: datetime | None = None) -> Order:
    order = order_get(actor, order_id, for_update=True)
    authz.order_change(actor, order)
    allowed_from, stamp = TRANSITIONS[action]
    if order.status not in allowed_from:
        raise Conflict(f"cannot {action} order {order.id}: it is {order.status}; "
                       f"{action} applies to {' or '.join(sorted(allowed_from))} orders",
                       errors={"status": order.status})
    if action == "publish":
        if not order.suites:
            raise Conflict(f"order {order.id} has no acceptance suite; add one so apps can be certified, then publish",
                           errors={"suite": "missing"})
    previous = order.status
    setattr(order, stamp, now or utcnow())
    audit.record(actor, f"order.{action}", "order", order.id, {"from": previous, "to": order.status},
                 department_id=order.department_id)
    _commit_guarding_revision(order)
    return order


def order_publish(actor, order_id: int, *, now: datetime | None = None) -> Order:
    """Publish a draft order so vendors can compete; it needs an acceptance suite. Its department's staff
    or admins. ``now`` (default the current time) dates the publication; only importing history (the demo
    seeder) passes a past moment. Raises Conflict for any other status, ValidationError for a naive or future
    ``now``."""
    if now is not None and (now.tzinfo is None or now > utcnow()):
        raise ValidationError(f"publication time {now!r} must be timezone-aware and not in the future",
                              errors={"now": "invalid"})
    return _transition(actor, order_id, "publish", now)


def order_close(actor, order_id: int) -> Order:
    """Close an open order: no new apps; published apps keep serving."""
    return _transition(actor, order_id, "close")


def order_archive(actor, order_id: int) -> Order:
    """Archive a closed order, or abandon a draft."""
    return _transition(actor, order_id, "archive")


# --- acceptance suites ---------------------------------------------------------------------------


def suite_add(actor, order_id: int, document: dict) -> AcceptanceSuite:
    """Add a new version of the order's acceptance suite (draft or open orders); the platform numbers it.
    Every published app of an open order is re-tested against it. Raises ValidationError naming the first
    bad case."""
    order = order_get(actor, order_id, for_update=True)
    authz.order_change(actor, order)
    if order.status not in {"draft", "open"}:
        raise Conflict(f"order {order.id} is {order.status}; suites change only on draft or open orders")
    version = (order.suites[-1].version + 1) if order.suites else 1
    # The platform numbers suite versions; the stored document carries that number so certification runs
    # (keyed by version and suite version) can never confuse two uploads that both said "version: 1".
    document = {**document, "version": version} if isinstance(document, dict) else document
    check_suite(document)
    # The same hash the certification report records (one definition: govsuite.suite_sha256).
    suite = AcceptanceSuite(order_id=order.id, version=version, document=document,
                            sha256=suite_sha256(document), created_by_id=actor.id)
    db.session.add(suite)
    db.session.flush()
    audit.record(actor, "suite.add", "order", order.id, {"version": version, "sha256": suite.sha256,
                                                         "cases": len(document.get("cases", []))},
                 department_id=order.department_id)
    db.session.commit()
    if order.status == "open":
        suite_added.send(order.id, suite=suite)
    return suite


def suite_get(actor, order_id: int, version: int | None = None) -> dict:
    """The suite as ``actor`` may see it: the full document for the owning department, admins and auditors;
    for everyone else the public cases and only counts of hidden cases per category."""
    order = order_get(actor, order_id)
    suites = {s.version: s for s in order.suites}
    if not suites:
        raise NotFound(f"order {order.id} has no acceptance suite yet")
    suite = suites.get(version or max(suites))
    if suite is None:
        raise NotFound(f"order {order.id} has no suite version {version}; versions: {sorted(suites)}")
    full = authz.suite_view_full(actor, order)
    document = suite.document if full else vendor_view(suite.document)
    return {"order_id": order.id, "version": suite.version, "sha256": suite.sha256, "created_at": suite.created_at,
            "complete": full, "document": document}


# --- clarification questions ---------------------------------------------------------------------


def question_ask(actor, order_id: int, text: str) -> Question:
    """A vendor member asks a public question about an open order; the asker stays anonymous."""
    order = order_get(actor, order_id)
    authz.question_ask(actor, order)
    text = (text or "").strip()
    if not 5 <= len(text) <= 4000:
        raise ValidationError("a question needs 5 to 4000 characters", errors={"text": "length"})
    question = Question(order_id=order.id, asked_by_vendor_id=actor.vendor_id, asked_by_user_id=actor.id, text=text)
    db.session.add(question)
    db.session.flush()
    audit.record(actor, "question.ask", "order_question", question.id, {"order_id": order.id},
                 department_id=order.department_id, vendor_id=actor.vendor_id)
    db.session.commit()
    return question


def question_answer(actor, question_id: int, answer: str) -> Question:
    """The order's department answers a question publicly; answering again replaces the answer (audited)."""
    question = db.session.get(Question, question_id)
    if question is None:
        raise NotFound(f"question {question_id} does not exist")
    order = order_get(actor, question.order_id)
    authz.order_change(actor, order)
    answer = (answer or "").strip()
    if not answer:
        raise ValidationError("the answer cannot be empty", errors={"answer": "empty"})
    previous = question.answer
    question.answer, question.answered_at, question.answered_by_id = answer, utcnow(), actor.id
    audit.record(actor, "question.answer", "order_question", question.id,
                 {"order_id": order.id, "previous_answer": previous}, department_id=order.department_id)
    db.session.commit()
    return question


def _questions_visible(actor, order: Order):
    query = sa.select(Question).where(Question.order_id == order.id).order_by(Question.id)
    if not authz.question_moderation_view(actor, order):
        query = query.where(Question.hidden_at.is_(None))
    return query


def question_list(actor, order_id: int) -> list[Question]:
    """Every question on an order that ``actor`` may see, oldest first (askers are never exposed; hidden
    questions only for the order's department and administrators)."""
    order = order_get(actor, order_id)
    return list(db.session.scalars(_questions_visible(actor, order)))


def question_page(actor, order_id: int, *, page: int = 1, page_size: int = 20) -> Page:
    """One page of the questions ``actor`` may see on an order, oldest first (as ``question_list``)."""
    order = order_get(actor, order_id)
    return paginate(_questions_visible(actor, order), page, page_size)


def question_hide(actor, question_id: int, reason: str) -> Question:
    """The order's department or an administrator hides a question from the public with a reason (kept, not
    deleted; audited). Raises NotFound for an unknown question, ValidationError without a reason."""
    question = db.session.get(Question, question_id)
    if question is None:
        raise NotFound(f"question {question_id} does not exist")
    order = order_get(actor, question.order_id)
    authz.question_hide(actor, order)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("say why the question is hidden", errors={"reason": "empty"})
    question.hidden_at, question.hidden_reason, question.hidden_by_id = utcnow(), reason, actor.id
    audit.record(actor, "question.hide", "order_question", question.id, {"order_id": order.id, "reason": reason},
                 department_id=order.department_id)
    db.session.commit()
    return question
