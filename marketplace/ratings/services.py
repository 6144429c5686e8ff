"""Rating use cases (一事一评): one rating per completed case by its citizen, editable for 7 days; replies by
the vendor and the department; flags by citizens and the department; appeals by the rated app's vendor;
moderation by admins; manipulation signals.

A rating counts for display and pay unless a moderator hid it. A flag, an appeal or a manipulation signal puts
it under review — in the moderators' queue — and it keeps counting meanwhile, so that nobody can move a
competitor's (or their own) money by reporting a rating. The review ends when an admin resolves it as
legitimate or hides the rating (kept, with the reason, never deleted). Flags are limited per account
(``FLAG_LIMIT`` in ``FLAG_WINDOW``).

Manipulation signals, checked on every new rating by the rules of ``marketplace.ratings.signals`` (burst and
review bombing relative to the app's own traffic, rings, same-device clusters, the vendor's own staff from the
traces its logins leave in ``marketplace.accounts.staff_traces``; measured in bench/README.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from billing.calendar import GRACE_PERIOD, quarter_code_of, quarter_span
from billing.settlement import ratings_frozen_at
from core import audit
from core.errors import Conflict, NotFound, TooManyRequests, ValidationError
from core.extensions import db, dialect_insert
from core.roles import Role
from core.time import utcnow
from marketplace.accounts import staff_traces
from marketplace.accounts.models import User
from marketplace.orders.models import Order
from marketplace.pagination import Page, paginate
from marketplace.ratings import authz, signals
from marketplace.ratings.models import DIMENSIONS, Rating, RatingFlag, RatingFollowUp, RatingReply, RatingSignal
from marketplace.transactions.models import DECIDED, Transaction

EDIT_WINDOW = timedelta(days=7)
BAD = 2  # 不满意 or worse is a 差评: it opens a follow-up (整改)
FOLLOW_UP_DEADLINE = timedelta(days=10)
MAX_COMMENT = 2000
DEVICE_ACCOUNTS = signals.DEVICE_ACCOUNTS
FLAG_WINDOW, FLAG_LIMIT = timedelta(days=1), 5  # flags one account may file per window


def device_fingerprint(user_agent: str | None, remote_addr: str | None) -> str:
    """sha256 of the user agent and the client's network (/24 for IPv4, /48 for IPv6): groups one device
    used by several accounts without storing the address."""
    return hashlib.sha256(f"{user_agent or ''}\n{staff_traces.network_prefix(remote_addr)}".encode()).hexdigest()


LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}  # the overall level = stars


def _scores(stars, dimensions: dict | None) -> dict[str, int | None]:
    """The overall level (1–5, required) and the five dimensions (each 1–5 or left out)."""
    dimensions = dimensions or {}
    values = {"stars": stars, **{name: dimensions.get(name) for name in DIMENSIONS}}
    errors = {name: f"give 1 to 5 stars, got {value!r}" for name, value in values.items()
              if (value is not None or name == "stars")
              and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5)}
    unknown = sorted(set(dimensions) - set(DIMENSIONS))
    errors.update({name: f"not a quality dimension; use {', '.join(DIMENSIONS)}" for name in unknown})
    if errors:
        raise ValidationError("the overall level is 1 to 5 (非常不满意 … 非常满意), each dimension 1 to 5 or left out: "
                              + "; ".join(f"{k} {v}" for k, v in errors.items()), errors=errors)
    return values


def _comment(comment: str | None) -> str:
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ValidationError(f"the comment has {len(comment)} characters; keep it under {MAX_COMMENT}",
                              errors={"comment": "too long"})
    return comment


def _audit(actor, action: str, rating: Rating, payload: dict | None = None) -> None:
    audit.record(actor, action, "rating", rating.id, {"app_id": rating.app_id, **(payload or {})},
                 department_id=rating.app.order.department_id, vendor_id=rating.vendor_id)


def rating_create(actor, transaction_id: int, *, stars: int, dimensions: dict[str, int] | None = None, comment: str = "",
                  device_hash: str = "", network_hash: str = "", now: datetime | None = None) -> Rating:
    """Rate the app that handled one of your cases the department decided (办结 — granted or refused — or 不予受理):
    the overall level (``stars`` 1–5: 非常不满意 … 非常满意), optionally the five dimensions and a comment.

    ``device_hash`` (``device_fingerprint``) and ``network_hash`` (``staff_traces.network_hash``) describe the
    client for the manipulation signals; only the first is kept.

    Citizens only, for their own case. Raises NotFound for an unknown case or someone else's, Conflict when
    the department has not decided the case or it is rated already, ValidationError for scores outside 1–5.
    """
    transaction = db.session.get(Transaction, transaction_id)
    if transaction is None:
        raise NotFound(f"case {transaction_id} does not exist")
    authz.rating_create(actor, transaction)
    if transaction.status not in DECIDED:
        raise Conflict(f"case {transaction.case_number} is {transaction.status}; a case is rated once the department "
                       "has concluded it or not accepted it")
    if db.session.scalar(sa.select(Rating.id).where(Rating.transaction_id == transaction.id)):
        raise Conflict(f"case {transaction.case_number} is rated already; edit that rating instead (within 7 days)")
    scores = _scores(stars, dimensions)
    now = now or utcnow()
    account = db.session.get(User, actor.id)
    # A rating dated before its account was made (a case history imported by the demo seeder) is not young.
    young = account.created_at is not None and timedelta(0) <= now - account.created_at < signals.YOUNG_ACCOUNT
    rating = Rating(transaction_id=transaction.id, citizen_id=actor.id, app_id=transaction.app_id,
                    order_id=transaction.order_id, vendor_id=transaction.app.vendor_id, comment=_comment(comment),
                    created_at=now, updated_at=now, device_hash=device_hash or "", young_account=young, **scores)
    db.session.add(rating)
    try:
        db.session.flush()
    except IntegrityError as exc:  # a concurrent rating of the same case won
        db.session.rollback()
        raise Conflict(f"case {transaction.case_number} is rated already") from exc
    if rating.stars <= BAD:
        db.session.add(RatingFollowUp(rating_id=rating.id, opened_at=now, due_at=now + FOLLOW_UP_DEADLINE))
    fired = detect_signals(rating, now, network_hash=network_hash)
    _audit(actor, "rating.create", rating, {"transaction_id": transaction.id, "stars": stars,
                                            "signals": sorted(fired)})
    db.session.commit()
    return rating


def _signal(rating: Rating, kind: str, detail: dict, now: datetime) -> bool:
    """Add an open signal of ``kind`` to ``rating`` unless it has one; puts the rating under review."""
    if any(s.kind == kind and s.resolved_at is None for s in rating.signals):
        return False
    existing = next((s for s in rating.signals if s.kind == kind), None)
    if existing is not None:  # resolved before: a new occurrence reopens it
        existing.resolved_at, existing.resolution, existing.detail, existing.detected_at = None, None, detail, now
    else:
        # Concurrent ratings flag the same earlier ratings at once: the later insert yields to the earlier one
        # instead of failing the citizen's rating on the (rating, kind) unique constraint.
        db.session.execute(_insert_ignoring_duplicates(RatingSignal.__table__, ["rating_id", "kind"]).values(
            rating_id=rating.id, kind=kind, detail=detail, detected_at=now))
        db.session.expire(rating, ["signals"])
    rating.under_review = True
    return True


def _insert_ignoring_duplicates(table: sa.Table, index_elements: list[str]):
    return dialect_insert(table).on_conflict_do_nothing(index_elements=index_elements)


def _facts(rating: Rating) -> signals.RatingFacts:
    # The rules read account age only through ``young``: a young account's age is set just inside the limit.
    age = signals.YOUNG_ACCOUNT / 2 if rating.young_account else signals.YOUNG_ACCOUNT * 2
    return signals.RatingFacts(rating.id, rating.app_id, rating.vendor_id, rating.citizen_id, rating.stars,
                               rating.created_at, rating.created_at - age, rating.device_hash)


def _ratings(*conditions) -> list[Rating]:
    return list(db.session.scalars(sa.select(Rating).where(*conditions).order_by(Rating.id)))


def _burst_baseline(rating: Rating, now: datetime) -> signals.AppBaseline:
    """The app's young-account ratings with the new rating's stars at this time of day on the previous days
    (``signals.rhythm_windows``, from the app's first rating on)."""
    windows, span = signals.rhythm_windows(now, _first_rating_at(rating.app_id) or now)
    if not windows:
        return signals.AppBaseline(0, span)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Rating).where(
        Rating.app_id == rating.app_id, Rating.young_account.is_(True), Rating.stars == rating.stars,
        sa.or_(*(sa.and_(Rating.created_at >= start, Rating.created_at < end) for start, end in windows))))
    return signals.AppBaseline(int(count or 0), span)


def _bombing_baseline(app_id: int, now: datetime) -> signals.AppBaseline:
    """The app's 1★ ratings over ``signals.BASELINE`` (or its life, if shorter) before the bombing window."""
    start, end, span = signals.bombing_span(now, _first_rating_at(app_id) or now)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Rating).where(
        Rating.app_id == app_id, Rating.stars == 1, Rating.created_at >= start, Rating.created_at < end))
    return signals.AppBaseline(int(count or 0), span)


def _first_rating_at(app_id: int) -> datetime | None:
    return db.session.scalar(sa.select(sa.func.min(Rating.created_at)).where(Rating.app_id == app_id))


def detect_signals(rating: Rating, now: datetime, *, network_hash: str = "") -> set[str]:
    """Judge the new rating by the rules of ``marketplace.ratings.signals`` and put every rating a rule names under
    review (they keep counting). ``network_hash``: the rating client's network as the staff traces keep it
    (``staff_traces.network_hash``; used now, not stored). Returns the kinds that fired."""
    new = _facts(rating)
    found: dict[str, set[int]] = {}
    window = _ratings(Rating.app_id == rating.app_id, Rating.created_at > now - signals.BOMBING_WINDOW,
                      Rating.created_at <= now)
    window_facts = [_facts(r) for r in window]
    if rating.young_account:
        found["burst"] = signals.burst(new, window_facts, _burst_baseline(rating, now))
    if rating.stars == 1:
        found["bombing"] = signals.bombing(new, window_facts, _bombing_baseline(rating.app_id, now))
    if rating.device_hash:
        found["device"] = signals.device(new, [_facts(r) for r in _ratings(
            Rating.app_id == rating.app_id, Rating.device_hash == rating.device_hash,
            Rating.created_at > now - signals.DEVICE_WINDOW)])
    mine = set(db.session.scalars(sa.select(Rating.app_id).where(
        Rating.citizen_id == rating.citizen_id, Rating.created_at >= now - signals.RING_WINDOW)))
    if len(mine) >= signals.RING_APPS:
        found["ring"] = signals.ring(new, [_facts(r) for r in _ratings(
            Rating.app_id.in_(mine), Rating.created_at >= now - signals.RING_WINDOW, Rating.created_at <= now)])
    flagged = {rid for ids in found.values() for rid in ids}
    by_id = {r.id: r for r in _ratings(Rating.id.in_(flagged))} if flagged else {}
    fired = set()
    for kind, ids in found.items():
        if not ids:
            continue
        fired.add(kind)
        detail = {"ratings": len(ids)}
        for rid in sorted(ids):
            _signal(by_id[rid], kind, detail, now)
    if _staff_check(rating, now, network_hash):
        fired.add("staff")
    return fired


def _staff_check(rating: Rating, now: datetime, network_hash: str) -> bool:
    """The staff rule on a rating as it stands — given, edited or re-rated (a 3★ raised to 5★ later is judged
    then): a signal when it lifts its vendor's app from a staff network or a linked citizen account."""
    traces = staff_traces.staff_traces_of(rating.vendor_id, now)
    if not signals.staff(replace(_facts(rating), network=network_hash), traces.networks, traces.citizens):
        return False
    # What the moderator checks: the citizen account's link, or only the network.
    _signal(rating, "staff", {"ratings": 1, "via": "account" if rating.citizen_id in traces.citizens else "network"},
            now)
    return True


def rating_update(actor, rating_id: int, *, stars: int, dimensions: dict[str, int] | None = None, comment: str = "",
                  network_hash: str = "", now: datetime | None = None) -> Rating:
    """Change your rating within 7 days of giving it; the staff rule judges it again (``network_hash`` as for
    ``rating_create``). Raises NotFound, Forbidden (not yours), Conflict (too late or hidden by a moderator),
    ValidationError."""
    rating = _get(rating_id)
    authz.rating_update(actor, rating)
    now = now or utcnow()
    if now - rating.created_at > EDIT_WINDOW:
        raise Conflict(f"ratings can be edited for 7 days; this one was given on {rating.created_at:%Y-%m-%d}")
    if rating.hidden_at:
        raise Conflict("a moderator hid this rating; it can no longer be edited")
    scores = _scores(stars, dimensions)
    before = {"stars": rating.stars, **rating.dimension_scores()}
    for name, value in scores.items():
        setattr(rating, name, value)
    rating.comment = _comment(comment)
    rating.updated_at = now
    _staff_check(rating, now, network_hash)
    _audit(actor, "rating.update", rating, {"before": before, "after": scores})
    db.session.commit()
    return rating


def _get(rating_id: int) -> Rating:
    rating = db.session.get(Rating, rating_id)
    if rating is None:
        raise NotFound(f"rating {rating_id} does not exist")
    return rating


def rating_get_public(rating_id: int) -> Rating:
    """A rating as the public sees it; hidden ones answer NotFound."""
    rating = _get(rating_id)
    if rating.hidden_at:
        raise NotFound(f"rating {rating_id} was hidden by a moderator")
    return rating


def rating_of_transaction(actor, transaction_id: int) -> Rating | None:
    """The citizen's rating of their case, if any (for the rating form)."""
    return db.session.scalar(sa.select(Rating).where(Rating.transaction_id == transaction_id,
                                                     authz.rating_of_transaction_scope(actor)))


def rating_reply(actor, rating_id: int, text: str) -> RatingReply:
    """The app's vendor or the order's department answers a rating publicly (one answer per side; a second
    call replaces the text). Raises NotFound, Forbidden, ValidationError for an empty text."""
    rating = _get(rating_id)
    side = authz.rating_reply(actor, rating)
    text = (text or "").strip()
    if not text or len(text) > MAX_COMMENT:
        raise ValidationError(f"write a reply of 1 to {MAX_COMMENT} characters", errors={"text": "length"})
    reply = db.session.scalar(sa.select(RatingReply).where(RatingReply.rating_id == rating.id,
                                                           RatingReply.side == side))
    now = utcnow()
    if reply is None:
        reply = RatingReply(rating_id=rating.id, side=side, author_id=actor.id, text=text, created_at=now,
                            updated_at=now)
        db.session.add(reply)
    else:
        reply.text, reply.author_id, reply.updated_at = text, actor.id, now
    _audit(actor, "rating.reply", rating, {"side": side})
    db.session.commit()
    return reply


def _reason(reason: str | None, what: str) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise ValidationError(f"say in 1 to 500 characters {what}", errors={"reason": "length"})
    return reason


def _report(actor, rating: Rating, kind: str, reason: str, now: datetime) -> RatingFlag:
    if db.session.scalar(sa.select(RatingFlag.id).where(RatingFlag.rating_id == rating.id,
                                                        RatingFlag.user_id == actor.id)):
        raise Conflict(f"you {'appealed' if kind == 'appeal' else 'reported'} this rating already; "
                       "a moderator will look at it")
    flag = RatingFlag(rating_id=rating.id, user_id=actor.id, kind=kind, reason=reason, created_at=now)
    db.session.add(flag)
    rating.under_review = True  # in the moderators' queue; it keeps counting until hidden
    return flag


def rating_flag(actor, rating_id: int, reason: str, *, now: datetime | None = None) -> RatingFlag:
    """Report a rating as abusive or fake. Citizens, and staff of the rated service's department; once per rating,
    at most ``FLAG_LIMIT`` flags per account in ``FLAG_WINDOW``. The rating goes to the moderators' queue and keeps
    counting until a moderator hides it. Raises NotFound, Forbidden (vendors, other departments, other roles),
    TooManyRequests (over the limit), Conflict (reported already), ValidationError without a reason."""
    rating = rating_get_public(rating_id)
    authz.rating_flag(actor, rating)
    reason = _reason(reason, "what is wrong with the rating")
    now = now or utcnow()
    recent = db.session.scalar(sa.select(sa.func.count()).select_from(RatingFlag).where(
        RatingFlag.user_id == actor.id, RatingFlag.kind == "flag", RatingFlag.created_at > now - FLAG_WINDOW))
    if recent >= FLAG_LIMIT:
        raise TooManyRequests(f"you reported {recent} ratings in the last {FLAG_WINDOW.days * 24} hours, the most one "
                              "account may; try again tomorrow or write to the platform's moderators")
    flag = _report(actor, rating, "flag", reason, now)
    _audit(actor, "rating.flag", rating, {"reason": reason})
    db.session.commit()
    return flag


def rating_appeal(actor, rating_id: int, reason: str, *, now: datetime | None = None) -> RatingFlag:
    """The rated app's vendor asks a moderator to review a rating of its own app, with the reason. Once per rating
    and member. The rating keeps counting (display and pay) until a moderator hides it. Raises NotFound, Forbidden
    (not a member of the app's vendor), Conflict (appealed already), ValidationError without a reason."""
    rating = rating_get_public(rating_id)
    authz.rating_appeal(actor, rating)
    reason = _reason(reason, "why the rating should be reviewed")
    flag = _report(actor, rating, "appeal", reason, now or utcnow())
    _audit(actor, "rating.appeal", rating, {"reason": reason})
    db.session.commit()
    return flag


def rating_hide(actor, rating_id: int, reason: str, *, now: datetime | None = None) -> Rating:
    """Hide a rating from the public and from pay, with the reason (kept, never deleted). Admins only.
    Resolves its open flags, appeals and signals. A quarter whose counted ratings are frozen already keeps
    counting it (the hiding is listed as an adjustment, see docs/finance.md). Raises NotFound, Conflict (hidden
    already), ValidationError without a reason."""
    authz.rating_hide(actor)
    rating = _get(rating_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("say why the rating is hidden; the reason is kept with it", errors={"reason": "empty"})
    if rating.hidden_at is not None:
        raise Conflict(f"rating {rating.id} was hidden already on {rating.hidden_at:%Y-%m-%d}: {rating.hidden_reason}")
    now = now or utcnow()
    rating.hidden_at, rating.hidden_reason, rating.hidden_by_id = now, reason, actor.id
    _close_review(rating, f"hidden: {reason}", now)
    _audit(actor, "rating.hide", rating, {"reason": reason})
    db.session.commit()
    return rating


def rating_review_resolve(actor, rating_id: int, note: str, *, now: datetime | None = None) -> Rating:
    """Close a rating's review as legitimate: its flags, appeals and signals are resolved and it leaves the
    moderators' queue (it counted all along). Admins only. Raises NotFound, ValidationError without a note."""
    authz.rating_review_resolve(actor)
    rating = _get(rating_id)
    note = (note or "").strip()
    if not note:
        raise ValidationError("note why the rating is legitimate", errors={"note": "empty"})
    _close_review(rating, note, now or utcnow())
    _audit(actor, "rating.review_resolved", rating, {"note": note})
    db.session.commit()
    return rating


def _close_review(rating: Rating, resolution: str, now: datetime) -> None:
    for item in (*rating.flags, *rating.signals):
        if item.resolved_at is None:
            item.resolved_at, item.resolution = now, resolution
    rating.under_review = False


def rating_review_queue(actor, *, page: int = 1, page_size: int = 20) -> Page:
    """Ratings awaiting review (flagged, appealed or signalled), oldest first; they count meanwhile. Admins only."""
    authz.rating_review_queue(actor)
    query = sa.select(Rating).where(Rating.under_review.is_(True), Rating.hidden_at.is_(None)).order_by(Rating.id)
    return paginate(query, page, page_size)


def rating_list_public(app_id: int, *, page: int = 1, page_size: int = 20) -> Page:
    """An app's ratings as the public sees them, newest first: hidden ones are left out (ratings under
    review are shown, marked, and count in the figures like every other)."""
    query = (sa.select(Rating).where(Rating.app_id == app_id, Rating.hidden_at.is_(None))
             .order_by(Rating.created_at.desc(), Rating.id.desc()))
    return paginate(query, page, page_size)


def rating_list_for_staff(actor, *, page: int = 1, page_size: int = 20) -> Page:
    """Ratings of the vendor's apps or of the department's orders, newest first (to reply to)."""
    authz.rating_list_for_staff(actor)
    query = sa.select(Rating).order_by(Rating.created_at.desc(), Rating.id.desc())
    if actor is not None and actor.role == Role.VENDOR_MEMBER:
        query = query.where(Rating.vendor_id == actor.vendor_id)
    elif actor is not None and actor.role == Role.DEPARTMENT_STAFF:
        query = query.join(Order, Rating.order_id == Order.id).where(Order.department_id == actor.department_id)
    elif actor is None or actor.role not in {Role.ADMIN, Role.AUDITOR}:
        query = query.where(sa.false())
    return paginate(query, page, page_size)


@dataclass(frozen=True)
class RatingAdjustment:
    """A rating hidden after the counted set of the quarter it was given in froze: that quarter paid it; the
    quarter whose adjustment window holds the hiding lists it (docs/finance.md)."""

    rating_id: int
    app_id: int
    vendor_id: int
    order_id: int
    stars: int
    rated_quarter: str
    frozen_at: datetime
    hidden_at: datetime
    reason: str


def rating_adjustments(actor, quarter_code: str, *, now: datetime | None = None) -> list[RatingAdjustment]:
    """The ratings of earlier quarters hidden after their quarter's counted set froze, with the hiding inside this
    quarter's window (from the grace end of the previous quarter to this one's), oldest hiding first. Finance,
    auditors and admins. Raises ValidationError for a malformed quarter code."""
    authz.rating_adjustments(actor)
    span = quarter_span(quarter_code)
    now = now or utcnow()
    hidden = db.session.scalars(sa.select(Rating).where(
        Rating.hidden_at >= span.starts_at + GRACE_PERIOD, Rating.hidden_at < span.ends_at + GRACE_PERIOD,
        Rating.created_at < span.starts_at).order_by(Rating.hidden_at, Rating.id))
    found = []
    for rating in hidden:
        rated = quarter_code_of(rating.created_at)
        frozen_at = ratings_frozen_at(quarter_span(rated), [rating.order_id], now)[rating.order_id]
        if rating.hidden_at >= frozen_at:
            found.append(RatingAdjustment(rating.id, rating.app_id, rating.vendor_id, rating.order_id, rating.stars,
                                          rated, frozen_at, rating.hidden_at, rating.hidden_reason or ""))
    return found


def rating_follow_up_answer(actor, rating_id: int, outcome: str, *, now: datetime | None = None) -> RatingFollowUp:
    """The app's vendor or the order's department says what it put right after a 差评 (整改); the citizen sees it
    on the case and may then re-rate once. A second answer replaces the text. Raises NotFound (no such rating or
    no follow-up: it was not a 差评), Forbidden (another vendor or department), ValidationError without text."""
    rating = _get(rating_id)
    side = authz.rating_follow_up_answer(actor, rating)
    if rating.follow_up is None:
        raise NotFound(f"rating {rating_id} is not a 差评; it has no follow-up to answer")
    outcome = (outcome or "").strip()
    if not outcome or len(outcome) > MAX_COMMENT:
        raise ValidationError(f"say in 1 to {MAX_COMMENT} characters what was put right", errors={"outcome": "length"})
    follow_up = rating.follow_up
    follow_up.outcome, follow_up.answered_side = outcome, side
    follow_up.answered_by_id, follow_up.answered_at = actor.id, now or utcnow()
    _audit(actor, "rating.follow_up_answered", rating, {"side": side})
    db.session.commit()
    return follow_up


def rating_rerate(actor, rating_id: int, *, stars: int, network_hash: str = "", now: datetime | None = None) -> Rating:
    """After a 差评's follow-up was answered (or its deadline passed), the citizen re-rates the overall level once.
    The level before is kept; billing counts the re-rating from when it was given; the staff rule judges it again.
    Raises NotFound, Forbidden (not yours), Conflict (no follow-up, not answered and not overdue, re-rated already,
    hidden), ValidationError."""
    rating = _get(rating_id)
    authz.rating_rerate(actor, rating)
    now = now or utcnow()
    follow_up = rating.follow_up
    if follow_up is None:
        raise Conflict("only a 差评 that opened a follow-up can be re-rated; within 7 days edit the rating instead")
    if follow_up.answered_at is None and now <= follow_up.due_at:
        raise Conflict(f"the follow-up is due by {follow_up.due_at:%Y-%m-%d}; re-rate once it is answered or overdue")
    if rating.rerated_at is not None:
        raise Conflict(f"this case was re-rated on {rating.rerated_at:%Y-%m-%d}; a case is re-rated once")
    if rating.hidden_at:
        raise Conflict("a moderator hid this rating; it can no longer be changed")
    _scores(stars, {})
    rating.first_stars, rating.stars, rating.rerated_at, rating.updated_at = rating.stars, stars, now, now
    _staff_check(rating, now, network_hash)
    _audit(actor, "rating.rerate", rating, {"before": rating.first_stars, "after": stars})
    db.session.commit()
    return rating
