"""Gateway use cases: launching an app, redeeming the launch code on the app's origin, resolving the
gateway session of a request, and recording what served apps ask the department service.

The launch code and the session id are bearer secrets: only their sha256 is stored, codes are single-use
(redeemed with one conditional UPDATE, so two processes cannot both redeem one) and short-lived.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from core import audit
from core.errors import Conflict, NotFound, ValidationError
from core.extensions import db
from core.roles import Role
from core.time import utcnow
from marketplace.accounts.models import User
from marketplace.gateway import authz, claims
from marketplace.gateway.models import DepartmentCall, GatewaySession, LaunchCode
from marketplace.identity import services as identity
from marketplace.orders.models import Order
from marketplace.transactions import services as transactions
from marketplace.transactions.models import Transaction
from marketplace.vendors.models import App, AppVersion
from mockdata.delegation import MAX_NAMED
from mockdata.identifiers import credit_code_is_valid, resident_id_is_valid

LAUNCH_CODE_SECONDS = 60
# Identity tokens sent to apps live TOKEN_SECONDS; a session's token is sent again while it has at least
# TOKEN_REUSE_MIN_SECONDS left and would carry the same claims (see identity_token).
TOKEN_SECONDS = 300
TOKEN_REUSE_MIN_SECONDS = 60
# A department access token serves one forwarded request: its lifetime covers the slowest answer an app may give.
DELEGATION_SECONDS = 120
# The documented suspension rule (docs/gateway.md): this many department calls refused for the delegation within
# REFUSAL_WINDOW suspend the app version — a correct app reads only what the citizen using it delegated.
REFUSALS_TO_SUSPEND = 20
REFUSAL_WINDOW = timedelta(hours=1)
# Refusals that do not count: asking about a business is how a correct app learns the citizen does not represent it.
BENIGN_REFUSALS = frozenset({"not_represented"})
# A session's last_seen_at is written at most this often: a page with many assets must not write per request.
TOUCH_EVERY = timedelta(seconds=60)
PERSON_PATH = re.compile(r"^/persons/([0-9]{17}[0-9X])(/licences)?/?$")
BUSINESS_PATH = re.compile(r"^/businesses/([0-9A-Z]{18})(/licences)?/?$")


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Launch:
    """The outcome of a launch: either a code to carry to the app's origin, or the consent still needed."""

    app: App
    code: str | None = None
    consent_needed: bool = False


def served_app_get(slug: str, *, fresh: bool = False) -> tuple[App, AppVersion]:
    """The app served at ``slug`` and its live published version; NotFound for an unknown slug or an app
    without a published version (never published, superseded, suspended or withdrawn).

    One query, on every proxied request: the app with its order and service item (what consent and the served
    instance need) and its live version. A suspension therefore takes effect on the very next request."""
    row = db.session.execute(
        sa.select(App, AppVersion).join(AppVersion, sa.and_(AppVersion.app_id == App.id, AppVersion.live()))
        .where(App.slug == slug.lower())
        .options(joinedload(App.order).joinedload(Order.service_item))
        .order_by(AppVersion.id.desc()).limit(1)
        .execution_options(populate_existing=fresh)).first()
    if row is None:
        raise NotFound(f"no published app is served at {slug!r}; choose an app from the catalogue")
    return row[0], row[1]


def reading_ahead(slug: str, token: str | None):
    """``with reading_ahead(slug, token):`` the proxy's look-ups of the app, the session and the keys take their
    cached entries from two round trips (``claims.reading_ahead``)."""
    return claims.reading_ahead(slug.lower(), _sha256(token) if token else None)


def served_app_cached(slug: str) -> claims.ServedApp:
    """``served_app_get`` for the proxy's hot path: from the shared cache while neither the app, its versions nor
    its order changed (see ``marketplace.gateway.claims``), so a suspension still takes effect on the very next
    request. On a miss: the app is read, its generations taken, and it is read again and kept under them."""
    entry = claims.served_app_lookup(slug.lower())
    if entry is not None:
        return entry
    app, _version = served_app_get(slug)
    gens = claims.served_app_generations(app)
    app, version = served_app_get(slug, fresh=True)
    return claims.served_app_remember(app, version, gens)


def app_launch(actor, slug: str, *, now: datetime | None = None) -> Launch:
    """A citizen opens the app ``slug``: checks consent, starts or reuses their case (transaction) with the
    app and issues a one-time launch code bound to citizen and app, valid for LAUNCH_CODE_SECONDS.

    Citizens only (Unauthenticated / Forbidden otherwise). Raises NotFound when the app is not published.
    Returns ``Launch(consent_needed=True)`` without a code while the citizen has not consented.
    """
    authz.app_launch(actor)
    app, _version = served_app_get(slug)
    if not _consented(actor, app.id):
        return Launch(app=app, consent_needed=True)
    transaction = transactions.transaction_start(actor, app.id)
    now = now or utcnow()
    code = secrets.token_urlsafe(32)
    db.session.add(LaunchCode(code_sha256=_sha256(code), citizen_id=actor.id, app_id=app.id,
                              transaction_id=transaction.id, created_at=now,
                              expires_at=now + timedelta(seconds=LAUNCH_CODE_SECONDS)))
    audit.record(actor, "app.launch", "app", app.id, {"transaction_id": transaction.id},
                 vendor_id=app.vendor_id)
    db.session.commit()
    return Launch(app=app, code=code)


def _consented(actor, app_id: int) -> bool:
    # Granted, declined (the app opens without citizen claims) or nothing asked: the citizen has decided.
    return not identity.consent_status(actor, app_id).must_ask


def launch_redeem(slug: str, code: str, *, session_seconds: int, now: datetime | None = None) -> tuple[str, GatewaySession]:
    """Exchange a launch code, on the app's own origin, for a gateway session; returns (session id, session).

    Anyone holding the code may call it — the code is the credential — but only once, before it expires,
    and only on the origin of the app it was issued for. Raises NotFound for an unknown app and Conflict for
    a code that is unknown, used, expired or for another app (one message for all: no oracle).
    """
    app, _version = served_app_get(slug)
    now = now or utcnow()
    digest = _sha256(code or "")
    claimed = db.session.execute(
        sa.update(LaunchCode)
        .where(LaunchCode.code_sha256 == digest, LaunchCode.app_id == app.id, LaunchCode.redeemed_at.is_(None),
               LaunchCode.expires_at > now)
        .values(redeemed_at=now)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        db.session.rollback()
        raise Conflict("this link to the app has expired or was already used; open the app again from the platform")
    launch = db.session.scalar(sa.select(LaunchCode).where(LaunchCode.code_sha256 == digest))
    citizen = db.session.get(User, launch.citizen_id)
    if citizen is None or not citizen.active:
        db.session.rollback()
        raise Conflict("this link to the app has expired or was already used; open the app again from the platform")
    token = secrets.token_urlsafe(32)
    session = GatewaySession(token_sha256=_sha256(token), citizen_id=launch.citizen_id, app_id=app.id,
                             transaction_id=launch.transaction_id, created_at=now, last_seen_at=now,
                             expires_at=now + timedelta(seconds=session_seconds))
    db.session.add(session)
    db.session.flush()
    audit.record(citizen, "gateway.session_start", "app", app.id,
                 {"session_id": session.id, "transaction_id": launch.transaction_id}, vendor_id=app.vendor_id)
    db.session.commit()
    return token, session


def gateway_session_get(app_id: int, token: str | None, *, idle_seconds: int | None = None,
                        now: datetime | None = None) -> GatewaySession | None:
    """The live session named by ``token`` on the app ``app_id``, or None (unknown, other app, expired, ended,
    unused for ``idle_seconds`` or more, or its citizen deactivated)."""
    if not token:
        return None
    now = now or utcnow()
    session = db.session.scalar(sa.select(GatewaySession).where(GatewaySession.token_sha256 == _sha256(token))
                                .options(joinedload(GatewaySession.citizen)))
    if (session is None or session.app_id != app_id or session.ended_at is not None or session.expires_at <= now
            or not session.citizen.active):
        return None
    if idle_seconds is not None and now - session.last_seen_at >= timedelta(seconds=idle_seconds):
        return None
    if now - session.last_seen_at >= TOUCH_EVERY:
        session.last_seen_at = now
        db.session.commit()
    return session


def gateway_session_claims(app: App | claims.ServedApp, token: str | None, *, idle_seconds: int | None = None,
                           now: datetime | None = None) -> claims.SessionClaims | None:
    """The proxy's hot path: what ``gateway_session_get`` answers, with the consented claims for ``app``, from the
    shared cache (see ``marketplace.gateway.claims``) — no database read while the citizen's rows are unchanged.

    On a miss: the session row names the citizen, then the citizen's generation is taken, then the session, the
    citizen, the consent and the profile are read (again) and kept under that generation. ``last_seen_at`` is
    written at most every TOUCH_EVERY, and a session unused for ``idle_seconds`` is refused, as by
    ``gateway_session_get``."""
    if not token:
        return None
    now = now or utcnow()
    digest = _sha256(token)
    entry, _hit = claims.lookup(app, digest, now)
    if entry is None:
        query = (sa.select(GatewaySession).where(GatewaySession.token_sha256 == digest)
                 .options(joinedload(GatewaySession.citizen)))
        session = db.session.scalar(query)
        if session is None or session.app_id != app.id:
            return None
        gen = claims.generation(session.citizen_id)
        session = db.session.scalar(query.execution_options(populate_existing=True))
        if session is None or session.ended_at is not None or session.expires_at <= now or not session.citizen.active:
            return None
        entry = claims.remember(app, session, gen)
    if entry.expires_at <= now.timestamp():
        return None
    if idle_seconds is not None and now.timestamp() - entry.last_seen_at >= idle_seconds:
        return None
    if now.timestamp() - entry.last_seen_at >= TOUCH_EVERY.total_seconds():
        entry = claims.touched(entry, now)
    return entry


def gateway_sessions_end(citizen) -> None:
    """End every open gateway session of ``citizen`` (they logged out of the platform): a copy of an app's
    session cookie stops working with the platform's. Connected to ``accounts.services.sessions_ended``; writes in
    the logout's database transaction."""
    db.session.execute(sa.update(GatewaySession)
                       .where(GatewaySession.citizen_id == citizen.id, GatewaySession.ended_at.is_(None))
                       .values(ended_at=utcnow()).execution_options(synchronize_session=False))
    claims.note_changed(db.session, citizen.id)  # a bulk UPDATE: no ORM event tells the claims cache


def gateway_session_end(app_id: int, token: str | None) -> None:
    """End the session named by ``token`` (the citizen left the app); unknown tokens are ignored."""
    session = gateway_session_get(app_id, token)
    if session is not None:
        session.ended_at = utcnow()
        db.session.commit()


class _IssuedTokens:
    """The identity tokens this process gave its gateway sessions, to reuse while they would say the same.

    Keyed by the session's token digest (random, so never shared between sessions or databases) and the
    audience; each entry keeps a digest of the claims the token carries. Bounded: the least recently used
    entries go first. A process that forgets a token (restart, eviction) simply mints a new one."""

    def __init__(self, size: int = 10_000):
        self.size = size
        self._entries: OrderedDict[tuple[str, str], tuple[str, str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], claims_digest: str, now: float) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            token, digest, expires = entry
            if digest != claims_digest or expires - now < TOKEN_REUSE_MIN_SECONDS:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return token

    def put(self, key: tuple[str, str], token: str, claims_digest: str, expires: float) -> None:
        with self._lock:
            self._entries[key] = (token, claims_digest, expires)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_issued = _IssuedTokens()


def identity_token(session: GatewaySession, *, audience: str) -> str:
    """The identity JWT for the session's citizen and app, holding only the claims consented now.

    A token is minted (and its claims written to the citizen's data-access log) when the session has none
    yet, when the claims it would carry differ from the last token's — a revoked or narrowed consent, a
    changed profile — and when the last token has less than TOKEN_REUSE_MIN_SECONDS left. Otherwise the
    session's last token is sent again: the consent is still read on every request, but a steady request
    writes nothing to the database."""
    consented = identity.consented_claims(session.citizen, session.app_id)
    return _token(session.token_sha256, consented, audience, lambda: session)


def identity_token_of(entry: claims.SessionClaims, *, audience: str) -> str:
    """``identity_token`` for a session known from the claims cache: the session and its citizen are loaded only
    when a token has to be minted."""
    return _token(entry.token_sha256, entry.claims, audience,
                  lambda: db.session.get(GatewaySession, entry.session_id))


def _token(token_sha256: str, consented: dict, audience: str, session_of) -> str:
    digest = hashlib.sha256(json.dumps(consented, sort_keys=True, default=str).encode()).hexdigest()
    key = (token_sha256, audience)
    now = time.time()
    token = _issued.get(key, digest, now)
    if token is None:
        session = session_of()
        token = identity.identity_token_for(session.citizen, session.app_id, audience=audience,
                                            ttl_seconds=TOKEN_SECONDS)
        _issued.put(key, token, digest, now + TOKEN_SECONDS)
    return token


def department_token(session: GatewaySession) -> str | None:
    """The department access token (the citizen's delegation) sent with one forwarded request: minted afresh for
    every request, from the consent as it is now, living DELEGATION_SECONDS — a withdrawn consent stops the next
    read. See identity.department_token_for and mockdata.delegation."""
    return identity.department_token_for(session.citizen, session.app_id, ttl_seconds=DELEGATION_SECONDS)


def department_token_of(entry: claims.SessionClaims, *, named=()) -> str | None:
    """``department_token`` for a session known from the claims cache: minted afresh for every request from the
    delegation kept in the entry (no database read), which the next request no longer uses once the citizen's
    consent, profile or sessions, or the app or its order, changed — a withdrawal still stops the next read.
    ``named``: what the request names (``subjects_named``)."""
    if entry.delegation is None:
        return None
    return identity.department_token_from(entry.delegation, ttl_seconds=DELEGATION_SECONDS, named=named)


_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_CREDIT_CODE = re.compile(r"(?<![0-9A-Z])[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Z])")
NAMED_BODY_BYTES = 64 * 1024  # a form a citizen filled in; a bigger body (an upload) is not scanned


def subjects_named(*texts: str) -> list[str]:
    """The valid resident ID numbers and unified social credit codes in a request's path, query and (small) body, in
    order of appearance, at most MAX_NAMED: whom the citizen asked the app about."""
    found: dict[str, None] = {}
    for text in texts:
        for match in _RESIDENT_ID.finditer(text):
            if resident_id_is_valid(match.group(0).upper()):
                found.setdefault(match.group(0).upper())
        for match in _CREDIT_CODE.finditer(text):
            if credit_code_is_valid(match.group(0)):
                found.setdefault(match.group(0))
    return list(found)[:MAX_NAMED]


# ---------------------------------------------------------------------------------------------- department calls


def _citizens_by_resident_id(resident_ids: set[str]) -> dict[str, User]:
    resident_ids = {r for r in resident_ids if r}
    if not resident_ids:
        return {}
    users = db.session.scalars(sa.select(User).where(User.resident_id.in_(resident_ids), User.role == Role.CITIZEN))
    return {u.resident_id: u for u in users}


def _subjects(call: dict) -> dict[str, list[str]]:
    """Resident ID → the fields of that person the call read or sent to the department."""
    subjects: dict[str, list[str]] = {}
    response = call.get("response")
    if call["status"] >= 400:
        return subjects
    person = PERSON_PATH.match(call["path"])
    if person:
        fields = ["licences"] if person.group(2) else sorted(response) if isinstance(response, dict) else []
        subjects[person.group(1)] = fields
    business = BUSINESS_PATH.match(call["path"])
    if business and not business.group(2) and isinstance(response, dict) and response.get("legal_representative"):
        subjects[response["legal_representative"]] = ["legal_representative", "legal_representative_name"]
    body = call.get("json")
    if call["method"] == "POST" and isinstance(body, dict):
        sent = sorted(k for k, v in body.items() if v not in (None, "", []))
        for key in ("applicant_resident_id", "guardian_resident_id"):
            if isinstance(body.get(key), str):
                subjects.setdefault(body[key], sent)
    return subjects


def department_call_record(app_id: int, version_id: int, call: dict) -> DepartmentCall:
    """Record one department call of a served app; log each citizen it was about in their data-access log;
    audit a call refused for scope. Called by the serving runtime (the platform itself), never by users."""
    app = db.session.get(App, app_id)
    subjects = _subjects(call)
    citizens = _citizens_by_resident_id(set(subjects))
    response = call.get("response") if isinstance(call.get("response"), dict) else {}
    row = DepartmentCall(app_id=app_id, version_id=version_id, method=call["method"][:8], path=call["path"][:500],
                         query=(call.get("query") or "")[:500], status=call["status"],
                         violation=bool(call.get("violation")), scope=call.get("scope"),
                         case_number=response.get("case_number"),
                         citizen_ids=sorted(u.id for u in citizens.values()))
    db.session.add(row)
    order = app.order
    purpose = identity.order_purpose(order)
    via = f"{row.method} {_shape(row.path)}"
    for resident_id, user in citizens.items():
        if subjects[resident_id]:
            identity.access_log_record(user.id, app_id, subjects[resident_id], purpose, via)
    if row.violation:
        audit.record(None, "gateway.department_scope_violation", "app", app_id,
                     {"method": row.method, "path": _shape(row.path), "scope": row.scope, "version_id": version_id},
                     department_id=app.order.department_id, vendor_id=app.vendor_id)
    refusal = call.get("refusal")
    if refusal:
        _delegation_refused(app, version_id, row, str(refusal), str(response.get("detail") or ""),
                            named=call.get("named") is True)
    db.session.commit()
    return row


def _delegation_refused(app: App, version_id: int, row: DepartmentCall, code: str, detail: str, *,
                        named: bool = False) -> None:
    """Audit a call the department refused for the delegation (shown to the department) and apply the suspension
    rule: REFUSALS_TO_SUSPEND refusals of one version within REFUSAL_WINDOW take it off the market. A refusal about
    a person or business the citizen's own request named (``named``, told by the department from the token) does
    not count: the app asked what the citizen typed — else any citizen, a competitor's staff included, could take
    an app off the market by typing other people's ID numbers into it."""
    benign = code in BENIGN_REFUSALS or named
    audit.record(None, "gateway.department_representation_refused" if benign else "gateway.department_delegation_refused",
                 "app", app.id, {"method": row.method, "path": _shape(row.path), "status": row.status, "refusal": code,
                                 "detail": detail[:300], "version_id": version_id, "named_by_citizen": named},
                 department_id=app.order.department_id, vendor_id=app.vendor_id)
    if benign:
        return
    since = utcnow() - REFUSAL_WINDOW
    db.session.flush()
    refused = db.session.scalar(sa.select(sa.func.count()).select_from(audit.AuditEvent).where(
        audit.AuditEvent.action == "gateway.department_delegation_refused", audit.AuditEvent.object_type == "app",
        audit.AuditEvent.object_id == str(app.id), audit.AuditEvent.occurred_at >= since)) or 0
    version = db.session.get(AppVersion, version_id)
    if refused >= REFUSALS_TO_SUSPEND and version is not None and version.suspended_at is None:
        version.suspended_at = utcnow()
        version.suspension_reason = (f"the department refused {refused} calls outside the citizens' delegations "
                                     f"within {int(REFUSAL_WINDOW.total_seconds() // 60)} minutes (last: {code})")
        audit.record(None, "version.suspend", "app_version", version.id,
                     {"reason": version.suspension_reason, "rule": "delegation_refusals"},
                     department_id=app.order.department_id, vendor_id=app.vendor_id)


def _shape(path: str) -> str:
    """The call's path with identifiers replaced, fit for logs a citizen or vendor reads."""
    path = re.sub(r"/persons/[^/]+", "/persons/{resident_id}", path)
    return re.sub(r"/businesses/[^/]+", "/businesses/{credit_code}", path)


def _reasons(case: dict) -> list[str]:
    """The department's reasons as the citizen reads them (its message, else its code)."""
    return [(r.get("message") or r.get("code", "")) if isinstance(r, dict) else str(r)
            for r in case.get("reasons") or []]


def _department_step(case: dict):
    """A later step of a case the department handles (accepted, not accepted, under review, concluded): found by
    the department's case number, recorded with the department's time. None for a case no citizen's case holds."""
    number = case.get("case_number") or ""
    transaction = db.session.scalar(sa.select(Transaction).where(Transaction.department_case_number == number))
    if transaction is None:
        return None
    # Every step the department lists, in order: a notice the platform missed (one sent while the submission itself
    # was still being recorded, or one that failed) is caught up by the next; steps already recorded are skipped.
    steps = [s for s in case.get("steps") or [] if s.get("stage") not in (None, "submitted")]
    if not steps or steps[-1].get("stage") != case["stage"]:
        steps.append({"stage": case["stage"], "at": None})
    recorded = None
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        at = step.get("at")
        try:
            occurred_at = datetime.fromisoformat(at.replace("Z", "+00:00")) if at else utcnow()
        except ValueError:
            occurred_at = utcnow()
        recorded = transactions.transaction_record_department_step(
            transaction.id, department_case_number=number, step=step["stage"], occurred_at=occurred_at,
            outcome=case.get("outcome") if last else None, reasons=_reasons(case) if last else [],
            result=case.get("result") if last else None)
    return recorded


def department_decision_record(app_id: int, case: dict):
    """Forward a department decision on a served app's submission to the citizen's case (transaction).

    The case is found through the gateway session of the citizen the application was for (applicant or
    guardian) on this app, most recently active first. Returns the transaction, or None when no citizen of
    the platform made this submission through the app. Raises what transaction_record_submission raises.
    """
    if case.get("stage") and case.get("stage") != "submitted":
        return _department_step(case)
    if case.get("decision") not in ("accepted", "rejected") or case.get("status") == "completed":
        return None
    citizens = _citizens_by_resident_id({case.get("applicant_resident_id") or "", case.get("guardian_resident_id") or ""})
    if not citizens:
        return None
    session = db.session.scalar(
        sa.select(GatewaySession)
        .where(GatewaySession.app_id == app_id, GatewaySession.citizen_id.in_([u.id for u in citizens.values()]))
        .order_by(GatewaySession.last_seen_at.desc(), GatewaySession.id.desc()).limit(1))
    if session is None:
        return None
    transaction = db.session.get(Transaction, session.transaction_id)
    if transaction.is_final and transaction.department_case_number != case.get("case_number"):
        # The citizen applied again in the same visit after a decision: that is a new case.
        transaction = transactions.transaction_start(session.citizen, app_id)
        session.transaction_id = transaction.id
        db.session.commit()
    submitted = case.get("submitted_at")
    try:
        occurred_at = datetime.fromisoformat(submitted.replace("Z", "+00:00")) if submitted else utcnow()
    except ValueError:
        occurred_at = utcnow()
    reasons = _reasons(case)
    if not case.get("case_number"):
        raise ValidationError("the department decision has no case number")
    if case.get("stage") == "submitted":  # the department handles the case from here on, step by step
        return transactions.transaction_record_department_step(
            transaction.id, department_case_number=case["case_number"], step="submitted", occurred_at=occurred_at)
    return transactions.transaction_record_submission(
        transaction.id, department_case_number=case["case_number"], decision=case["decision"],
        reasons=reasons, occurred_at=occurred_at)
