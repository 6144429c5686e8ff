"""Identity and privacy use cases: citizen login, consent per app, the identity token apps receive, and the
citizen-visible data-access log. The app gateway calls ``consent_status``, ``identity_token_for`` and
``access_log_record``; see docs/identity.md."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core import audit
from core.errors import Conflict, NotFound, Unauthenticated, ValidationError
from core.extensions import db, dialect_insert
from core.ids import resident_id_problem
from core.roles import Role
from core.time import utcnow
from marketplace.accounts import staff_traces
from marketplace.accounts.models import User
from marketplace.identity import authz, keys
from marketplace.identity.models import (
    AccessLogEntry,
    CitizenProfile,
    Consent,
    DeletionRequest,
    FederatedIdentity,
    PairwiseSubject,
)
from marketplace.identity.personas import persona_get
from marketplace.orders.contract import CITIZEN_SCOPES
from marketplace.pagination import Page, paginate
from marketplace.vendors.models import App, AppVersion
from mockdata.delegation import FIELDS as DEPARTMENT_FIELDS
from mockdata.delegation import TOKEN_TYPE as DELEGATION_TYPE
from mockdata.delegation import delegation_claims
from sandbox.models import CertificationRun

MAX_TOKEN_TTL = 3600
# Identical reads (same citizen, app, fields, purpose, route) within this window are counted on one entry.
ACCESS_LOG_COALESCE = timedelta(seconds=60)
CITIZEN_EMAIL_DOMAIN = "citizens.invalid"  # citizens log in through identity, never with an email
# A vendor answers a citizen's deletion request within this many days (docs/identity.md).
DELETION_DAYS = 15
EXPORT_ROWS = 10_000  # the access-log rows a download holds (newest first)


# --- Citizen login -----------------------------------------------------------------------------------------


def _citizen_for_resident_id(resident_id: str, name: str) -> User:
    user = db.session.scalar(sa.select(User).where(User.resident_id == resident_id))
    if user is None:
        digest = hashlib.sha256(resident_id.encode()).hexdigest()[:20]
        user = User(email=f"citizen-{digest}@{CITIZEN_EMAIL_DOMAIN}", display_name=name, role=Role.CITIZEN.value,
                    resident_id=resident_id)
        db.session.add(user)
        db.session.flush()
        audit.record(user, "citizen.register", "user", user.id)
    elif user.role != Role.CITIZEN:
        raise Unauthenticated("this resident ID belongs to a staff account, which cannot log in as a citizen; "
                              "use the staff login")
    if not user.active:
        raise Unauthenticated("this citizen account is deactivated; contact the platform's service desk")
    user.display_name = name
    return user


def _update_profile(user: User, source: str, *, phone=None, address=None, birth_date=None, gender=None) -> None:
    profile = db.session.get(CitizenProfile, user.id) or CitizenProfile(user_id=user.id, source=source)
    db.session.add(profile)
    profile.source = source
    profile.phone, profile.address, profile.birth_date, profile.gender = phone, address, birth_date, gender


def citizen_login_persona(resident_id: str, *, settings: Mapping[str, Any]) -> User:
    """Log in as a mock persona (development only): create or update the real-name citizen account of the
    persona with ``resident_id`` and return it.

    Raises Forbidden outside development, NotFound if no persona has that resident ID.
    """
    authz.citizen_login_persona(settings)
    persona = persona_get(resident_id)
    if persona is None:
        raise NotFound(f"no mock persona has resident ID {resident_id!r}; pick one from the persona list")
    person = persona.person
    user = _citizen_for_resident_id(persona.resident_id, persona.name)
    _update_profile(user, persona.source, phone=person.get("phone"), address=person.get("address"),
                    birth_date=date.fromisoformat(person["birth_date"]) if person.get("birth_date") else None,
                    gender=person.get("gender"))
    user.last_login_at = utcnow()
    audit.record(user, "citizen.login", "user", user.id, {"via": "persona", "persona": persona.key})
    db.session.commit()
    return user


def citizen_login_federated(issuer: str, claims: Mapping[str, Any]) -> User:
    """Log in a citizen verified by an upstream OpenID Connect provider, from its ID token / userinfo claims.

    The account is found by the provider's (issuer, sub), else linked by the resident ID the provider
    vouches for (claim ``resident_id``), else created. Raises Unauthenticated when the provider did not
    give a valid resident ID and name: citizens are real-name accounts.
    """
    subject = str(claims.get("sub") or "")
    resident_id = str(claims.get("resident_id") or "").upper()
    name = str(claims.get("name") or "").strip()
    if not subject:
        raise Unauthenticated("the identity provider's answer has no subject (sub); try logging in again")
    if not resident_id or resident_id_problem(resident_id):
        raise Unauthenticated("the identity provider did not vouch for a valid resident ID (claim 'resident_id'); "
                              "citizens must be real-name verified — ask the operator to request the "
                              "'resident_id' scope from the provider")
    if not name:
        raise Unauthenticated("the identity provider did not give the citizen's name (claim 'name', scope 'profile')")
    link = db.session.scalar(sa.select(FederatedIdentity).where(FederatedIdentity.issuer == issuer,
                                                                FederatedIdentity.subject == subject))
    if link is not None:
        linked = db.session.get(User, link.user_id)
        if linked.resident_id != resident_id:
            raise Unauthenticated("the identity provider now gives another resident ID for this person than "
                                  "before; the account stays locked until the service desk resolves it")
    user = _citizen_for_resident_id(resident_id, name)
    if link is None:
        link = FederatedIdentity(issuer=issuer, subject=subject, user_id=user.id)
        db.session.add(link)
    link.last_login_at = user.last_login_at = utcnow()
    address = claims.get("address")
    if isinstance(address, Mapping):
        address = address.get("formatted")
    birth = claims.get("birthdate")
    _update_profile(user, f"oidc:{issuer}", phone=claims.get("phone_number"), address=address,
                    birth_date=date.fromisoformat(birth) if isinstance(birth, str) and birth else None,
                    gender=claims.get("gender"))
    audit.record(user, "citizen.login", "user", user.id, {"via": "oidc", "issuer": issuer})
    db.session.commit()
    return user


# --- What the platform holds about a citizen --------------------------------------------------------------


def citizen_claims(user: User) -> dict[str, Any]:
    """Every citizen field the platform can share (names of CITIZEN_SCOPES), without the missing ones.

    Birth date and gender fall back to what the resident ID encodes (GB 11643-1999).
    """
    profile = db.session.get(CitizenProfile, user.id)
    rid = user.resident_id or ""
    birth = profile.birth_date if profile and profile.birth_date else None
    if birth is None and len(rid) == 18 and rid[6:14].isdigit():
        try:
            birth = date(int(rid[6:10]), int(rid[10:12]), int(rid[12:14]))
        except ValueError:
            birth = None
    gender = profile.gender if profile and profile.gender else None
    if gender is None and len(rid) == 18 and rid[16].isdigit():
        gender = "male" if int(rid[16]) % 2 else "female"
    values = {"name": user.display_name, "resident_id": user.resident_id,
              "phone": profile.phone if profile else None, "address": profile.address if profile else None,
              "birth_date": birth.isoformat() if birth else None, "gender": gender}
    return {k: v for k, v in values.items() if k in CITIZEN_SCOPES and v}


# --- Consent -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentStatus:
    """Where a citizen stands with one app.

    ``state``: ``not_required`` (the app asks for no citizen data), ``required`` (never decided, or the app now
    asks for fields the citizen was not asked about), ``granted``, ``declined`` or ``revoked``.
    ``must_ask`` says whether the consent page has to be shown before the app is opened.
    """

    app_id: int
    state: str
    requested: tuple[str, ...]
    granted: tuple[str, ...]
    purposes: Mapping[str, str] = field(default_factory=dict)
    decided_at: datetime | None = None
    optional: tuple[str, ...] = ()  # requested entries the app works without: shown apart, unticked

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f for f in self.requested if f not in self.optional)

    @property
    def identity_claims(self) -> tuple[str, ...]:
        """Requested identity claims (passed in the identity token)."""
        return tuple(f for f in self.required if not f.startswith(DEPT_PREFIX))

    @property
    def department_required(self) -> tuple[str, ...]:
        """Requested department fields the app needs (read through the department access token)."""
        return tuple(f for f in self.required if f.startswith(DEPT_PREFIX))

    @property
    def must_ask(self) -> bool:
        return self.state in {"required", "revoked"}


def _app(app_id: int) -> App:
    app = db.session.get(App, int(app_id))
    if app is None:
        raise NotFound(f"app {app_id} does not exist")
    return app


def order_purpose(order) -> str:
    """The purpose of any read an app makes for ``order`` where the contract states none: the service item and the
    order (the order's title alone when it already names the item)."""
    item = order.service_item.name if order.service_item else ""
    return order.title if not item or item in order.title else f"{item}（{order.title}）"


def purposes_for(app: App) -> dict[str, str]:
    """Why the app needs each citizen field: the order's contract may say per field under
    ``x-citizen-data: {field: purpose}``; otherwise the purpose is handling the order's service item."""
    order = app.order
    stated = (order.contract or {}).get("x-citizen-data") or {}
    default = order_purpose(order)
    purposes = {f: str(stated.get(f) or default) for f in order.citizen_scopes or []}
    stated_dept = (order.contract or {}).get("x-department-data") or {}
    purposes.update({DEPT_PREFIX + f: str(stated_dept.get(f) or default) for f in DEPARTMENT_FIELDS})
    return purposes


DEPT_PREFIX = "dept:"  # department fields in a consent's lists, beside the identity claims


# The department fields the live version of each app declared: (version id, its bundle's sha256, fields). They are
# read from the bundle's manifest, so they are a function of the bundle's hash and a kept answer never goes stale.
_declared_for_app: dict[int, tuple[int, str, tuple[tuple[str, ...], tuple[str, ...]]]] = {}
_DECLARED_FIELDS_KEPT = 10_000


def department_fields_declared(app: App) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(required, optional) department fields the app's live version declared in govapp.toml, as its certification
    read them (the intake checked them against the order's scopes); ((), ()) before a version is certified.

    Read on every proxied request (the consent status depends on it), so this process keeps the answer per app and
    uses it while that version, with that bundle, is still live — checked on the version object the request already
    holds (``Session.get`` answers from the identity map without a query; the gateway loaded the live version)."""
    kept = _declared_for_app.get(app.id)
    if kept is not None:
        version = db.session.get(AppVersion, kept[0])
        if version is not None and version.app_id == app.id and version.bundle_sha256 == kept[1] and _live(version):
            return kept[2]
    row = db.session.execute(
        sa.select(AppVersion.id, AppVersion.bundle_sha256, CertificationRun.report)
        .join(CertificationRun, CertificationRun.app_version_id == AppVersion.id)
        .where(AppVersion.app_id == app.id, AppVersion.live(), CertificationRun.state == "certified")
        .order_by(CertificationRun.id.desc()).limit(1)).first()
    if row is None:
        return (), ()
    manifest = (row.report or {}).get("manifest") or {}
    required = tuple(f for f in manifest.get("fields") or () if f in DEPARTMENT_FIELDS)
    optional = tuple(f for f in manifest.get("optional_fields") or () if f in DEPARTMENT_FIELDS and f not in required)
    if len(_declared_for_app) >= _DECLARED_FIELDS_KEPT:
        _declared_for_app.clear()
    _declared_for_app[app.id] = (row.id, row.bundle_sha256, (required, optional))
    return required, optional


def _live(version: AppVersion) -> bool:
    return (version.published_at is not None and version.superseded_at is None and version.suspended_at is None
            and version.withdrawn_at is None)


def _requested(app: App, declared: tuple[tuple[str, ...], tuple[str, ...]] | None = None) -> tuple[str, ...]:
    required, optional = declared if declared is not None else department_fields_declared(app)
    return (tuple(f for f in (app.order.citizen_scopes or []) if f in CITIZEN_SCOPES)
            + tuple(DEPT_PREFIX + f for f in required + optional))


_CONSENTS_READ = "govmarket_identity_consents"  # Session.info: the consent rows this session read, by (user, app)


def _consent(user_id: int, app_id: int) -> Consent | None:
    """The citizen's consent row for the app. A proxied request reads it for the identity token and again for the
    department token: the row this database session already holds is used (the same object the ORM would give,
    so a change made in this session is seen; the session, and with it this memo, ends with the request)."""
    read = db.session.info.setdefault(_CONSENTS_READ, {})
    consent = read.get((user_id, app_id))
    if consent is not None and sa.inspect(consent).persistent:
        return consent
    consent = db.session.scalar(sa.select(Consent).where(Consent.user_id == user_id, Consent.app_id == app_id))
    if consent is not None:
        read[(user_id, app_id)] = consent
    return consent


def consent_status(citizen, app_id: int) -> ConsentStatus:
    """The citizen's consent state for an app (see ConsentStatus). Citizens only; NotFound for an unknown app."""
    authz.consent_status(citizen)
    app = _app(app_id)
    declared = department_fields_declared(app)
    requested = _requested(app, declared)
    purposes = purposes_for(app)
    optional = tuple(DEPT_PREFIX + f for f in declared[1])
    consent = _consent(citizen.id, app.id)
    if not requested:
        return ConsentStatus(app.id, "not_required", (), (), purposes)
    if consent is None:
        return ConsentStatus(app.id, "required", requested, (), purposes, optional=optional)
    granted = tuple(f for f in consent.fields if f in requested) if consent.state == "granted" else ()
    state = consent.state
    if state != "revoked" and not set(requested) <= set(consent.requested):
        state = "required"  # the app asks for more than the citizen was asked about: ask again
    return ConsentStatus(app.id, state, requested, granted, purposes, consent.decided_at, optional)


def _decide(citizen, app: App, fields: list[str], *, granted: bool) -> Consent:
    now = utcnow()
    consent = _consent(citizen.id, app.id) or Consent(user_id=citizen.id, app_id=app.id)
    db.session.add(consent)
    consent.requested = list(_requested(app))
    consent.fields = fields
    consent.purposes = {f: p for f, p in purposes_for(app).items() if f in fields}
    consent.decided_at = now
    consent.granted_at = now if granted else None
    consent.declined_at = None if granted else now
    consent.revoked_at = None
    return consent


def consent_grant(citizen, app_id: int, fields: Iterable[str]) -> Consent:
    """Share ``fields`` (a subset of what the app's order asks for) with the app, replacing any earlier decision.

    Citizens only. Raises ValidationError for a field the app did not ask for, NotFound for an unknown app.
    """
    authz.consent_grant(citizen)
    app = _app(app_id)
    requested = _requested(app)
    chosen = list(dict.fromkeys(fields))
    extra = [f for f in chosen if f not in requested]
    if extra:
        raise ValidationError(f"{app.name} did not ask for {', '.join(extra)}; it may ask for "
                              f"{', '.join(requested) or 'nothing'}", errors={"fields": extra})
    chosen = [f for f in requested if f in chosen]  # in the order's order, for a stable display
    consent = _decide(citizen, app, chosen, granted=True)
    audit.record(citizen, "consent.grant", "app", app.id, {"fields": chosen}, vendor_id=app.vendor_id)
    db.session.commit()
    return consent


def consent_decline(citizen, app_id: int) -> Consent:
    """Share nothing with the app; the app still opens, without citizen claims. Citizens only."""
    authz.consent_decline(citizen)
    app = _app(app_id)
    consent = _decide(citizen, app, [], granted=False)
    audit.record(citizen, "consent.decline", "app", app.id, vendor_id=app.vendor_id)
    db.session.commit()
    return consent


def consent_revoke(citizen, app_id: int) -> Consent:
    """Stop sharing with the app at once: the next identity token carries no citizen claims, and the app asks
    again before its next use. Citizens only; NotFound if the citizen never decided about the app."""
    authz.consent_revoke(citizen)
    consent = _consent(citizen.id, int(app_id))
    if consent is None:
        raise NotFound(f"you have no consent for app {app_id} to revoke")
    if consent.revoked_at is None:
        consent.revoked_at = utcnow()
        audit.record(citizen, "consent.revoke", "app", consent.app_id, {"fields": consent.fields})
        db.session.commit()
    return consent


def consent_list(citizen) -> list[Consent]:
    """The citizen's decisions, most recent first. Citizens only."""
    authz.consent_list(citizen)
    return list(db.session.scalars(sa.select(Consent).where(Consent.user_id == citizen.id)
                                   .order_by(Consent.decided_at.desc(), Consent.id.desc())))


def consent_page(citizen, app_id: int) -> tuple[App, ConsentStatus]:
    """The app and the citizen's consent status for it, for the consent page. Citizens only."""
    status = consent_status(citizen, app_id)
    return _app(app_id), status


def consented_claims(citizen, app_id: int) -> dict[str, Any]:
    """The citizen's data the app may see now: only granted fields still requested by its order."""
    status = consent_status(citizen, app_id)
    if status.state != "granted":
        return {}
    values = citizen_claims(citizen)
    return {f: values[f] for f in status.granted if f in values}


@dataclass(frozen=True)
class DelegationBasis:
    """What a department access token says, read from the database once; minting from it reads nothing (so a
    cache of a gateway session's state can keep it beside the consented claims, under the same invalidation)."""

    resident_id: str
    app_id: int
    order_id: int
    fields: tuple[str, ...]  # department fields consented now
    purpose: str
    consent_at: int  # epoch ms of the citizen's last decision about the app (0: never decided)


def delegation_basis(citizen_user, app_id: int) -> DelegationBasis | None:
    """The citizen's delegation to the app as it stands now; None for a citizen without a resident ID. Citizens
    only. ``consent_at`` is when the citizen last decided about the app: a department service that has seen it
    refuses tokens carrying an older decision, so a withdrawal stops reads through earlier tokens too."""
    authz.identity_token_for(citizen_user)
    if not citizen_user.resident_id:
        return None
    app = _app(app_id)
    consent = _consent(citizen_user.id, app.id)
    # The granted entries as decided (the grant checked them against what the app asked; asking for more makes the
    # consent page ask again, and the department still bounds every call by the order's scopes).
    granted = consent.fields if consent is not None and consent.state == "granted" else []
    decided = max((t for t in (consent.decided_at, consent.revoked_at) if t), default=None) if consent else None
    order = app.order
    return DelegationBasis(
        resident_id=citizen_user.resident_id, app_id=app.id, order_id=order.id,
        fields=tuple(f.removeprefix(DEPT_PREFIX) for f in granted if f.startswith(DEPT_PREFIX)),
        purpose=order_purpose(order),
        consent_at=int(decided.timestamp() * 1000) if decided else 0)


def department_token_from(basis: DelegationBasis, *, ttl_seconds: int = 120, named=()) -> str:
    """Mint the department access token of ``basis`` for one forwarded request (typ ``dept+jwt``, audience the
    department; see mockdata.delegation), signed with the platform's key. ``named``: the resident IDs and credit
    codes the citizen's request named (carried as digests), so the department can tell a refusal about them from
    the app reading on its own. No database read while the process keeps the signing key."""
    now = int(utcnow().timestamp())
    payload = {"iss": keys.platform_issuer(), "iat": now, "nbf": now, "exp": now + int(ttl_seconds),
               **delegation_claims(citizen=basis.resident_id, app=f"app:{basis.app_id}", order=str(basis.order_id),
                                   fields=basis.fields, purpose=basis.purpose, consent_at=basis.consent_at,
                                   jti=uuid.uuid4().hex, named=named)}
    return keys.sign_typed(payload, DELEGATION_TYPE)


def department_token_for(citizen_user, app_id: int, *, ttl_seconds: int = 120) -> str | None:
    """The department access token (delegation) for one forwarded request: the citizen's resident ID, the app, its
    order, the department fields the citizen consented to now and the purpose (``delegation_basis``, minted by
    ``department_token_from``). None for a citizen without a resident ID. Writes nothing: the reads themselves
    reach the access log. Citizens only."""
    basis = delegation_basis(citizen_user, app_id)
    return None if basis is None else department_token_from(basis, ttl_seconds=ttl_seconds)


# --- The identity token apps receive ---------------------------------------------------------------------


def pairwise_subject(user_id: int, sector: str) -> str:
    """The citizen's stable, random subject towards one audience (``app:<id>`` or ``oidc:<client_id>``)."""
    query = sa.select(PairwiseSubject.subject).where(PairwiseSubject.user_id == user_id, PairwiseSubject.sector == sector)
    subject = db.session.scalar(query)
    if subject is None:
        # Two first requests of one citizen to one app at once (two tabs, two web processes) both get here: the
        # second insert is skipped and both read the one subject (a plain INSERT answered one of them 500).
        db.session.execute(dialect_insert(PairwiseSubject.__table__)
                           .values(user_id=user_id, sector=sector, subject=secrets.token_urlsafe(24))
                           .on_conflict_do_nothing(index_elements=["user_id", "sector"]))
        subject = db.session.scalar(query)
    return subject


def identity_token_for(citizen_user, app_id: int, *, audience: str, ttl_seconds: int = 300) -> str:
    """A short-lived JWT telling the app who the citizen is, signed with the platform's key (see JWKS).

    Claims: ``sub`` (pairwise per app), ``iss``, ``aud`` = ``audience`` (the app's origin), ``iat``, ``exp``,
    ``jti``, and only the citizen fields consented for this app. Issuing claims is recorded in the citizen's
    data-access log. Citizens only; ValidationError for a bad audience or lifetime.
    """
    authz.identity_token_for(citizen_user)
    if not audience or not isinstance(audience, str):
        raise ValidationError("give the app's origin as audience, e.g. 'https://shiantong.apps.example.cn'",
                              errors={"audience": "missing"})
    if not 1 <= int(ttl_seconds) <= MAX_TOKEN_TTL:
        raise ValidationError(f"ttl_seconds must be 1–{MAX_TOKEN_TTL}, got {ttl_seconds}",
                              errors={"ttl_seconds": ttl_seconds})
    app = _app(app_id)
    claims = consented_claims(citizen_user, app.id)
    now = int(utcnow().timestamp())
    payload = {"iss": keys.platform_issuer(), "sub": pairwise_subject(citizen_user.id, f"app:{app.id}"),
               "aud": audience, "iat": now, "nbf": now, "exp": now + int(ttl_seconds), "jti": uuid.uuid4().hex,
               **claims}
    if "address" in claims:  # the registered claim is a JSON object (OpenID Connect Core §5.1.1)
        payload["address"] = {"formatted": claims["address"]}
    token = keys.sign(payload)
    if claims:
        purposes = purposes_for(app)
        _log(citizen_user.id, app, sorted(claims), "; ".join(sorted({purposes.get(f, "") for f in claims} - {""})),
             "identity_token")
    db.session.commit()
    return token


@dataclass(frozen=True)
class MyData:
    """Everything the "my data" page shows a citizen about themselves."""

    held: Mapping[str, Any]
    source: str | None
    consents: list[Consent]
    access_log: Page
    deletion_requests: list[DeletionRequest] = field(default_factory=list)
    # Vendors whose staff used a browser this account logged in from (staff_traces): (vendor, first, last seen).
    staff_links: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    staff_link_days: int = staff_traces.STAFF_TRACE_DAYS


def my_data_get(citizen, *, page: int = 1, page_size: int = 50) -> MyData:
    """What the platform holds about the citizen, whom they share it with, and every read of it. Citizens only."""
    consents = consent_list(citizen)
    profile = db.session.get(CitizenProfile, citizen.id)
    return MyData(held=citizen_claims(citizen), source=profile.source if profile else None, consents=consents,
                  access_log=access_log_list(citizen, page=page, page_size=page_size),
                  deletion_requests=deletion_request_list(citizen),
                  staff_links=staff_traces.staff_links_of_citizen(citizen.id))


# --- The data-access log -----------------------------------------------------------------------------------


def _log(citizen_id: int, app: App, fields: list[str], purpose: str, via: str) -> AccessLogEntry:
    now = utcnow()
    recent = db.session.scalar(
        sa.select(AccessLogEntry).where(
            AccessLogEntry.user_id == citizen_id, AccessLogEntry.app_id == app.id, AccessLogEntry.via == via,
            AccessLogEntry.purpose == purpose, AccessLogEntry.last_at >= now - ACCESS_LOG_COALESCE)
        .order_by(AccessLogEntry.id.desc()).limit(1).with_for_update())
    if recent is not None and list(recent.fields) == fields:
        recent.count += 1
        recent.last_at = now
        return recent
    entry = AccessLogEntry(user_id=citizen_id, app_id=app.id, app_name=app.name, fields=fields, purpose=purpose,
                           via=via, occurred_at=now, last_at=now)
    db.session.add(entry)
    return entry


def access_log_record(citizen_id: int, app_id: int, fields: Iterable[str], purpose: str, via: str) -> AccessLogEntry:
    """Record that ``app_id`` read ``fields`` of citizen ``citizen_id`` through the platform, for ``purpose``,
    by route ``via`` (e.g. ``"GET /persons/{resident_id}"``). Called by the gateway for every department-API
    call an app makes about a citizen; the platform itself is the actor. Commits.

    Raises ValidationError for an empty field list, purpose or route; NotFound for an unknown citizen or app.
    """
    fields = [str(f) for f in fields]
    errors = {}
    if not fields:
        errors["fields"] = "name at least one field that was read, e.g. ['name', 'phone']"
    if not (purpose or "").strip():
        errors["purpose"] = "say why the data was read, e.g. the order's service item"
    if not (via or "").strip():
        errors["via"] = "say by which route, e.g. 'GET /persons/{resident_id}'"
    if errors:
        raise ValidationError("the access could not be logged: " + "; ".join(f"{k}: {v}" for k, v in errors.items()),
                              errors=errors)
    user = db.session.get(User, int(citizen_id))
    if user is None or user.role != Role.CITIZEN:
        raise NotFound(f"citizen {citizen_id} does not exist")
    entry = _log(user.id, _app(app_id), fields, purpose.strip()[:500], via.strip()[:200])
    db.session.commit()
    return entry


def access_log_list(actor, *, citizen_id: int | None = None, app_id: int | None = None, page: int = 1,
                    page_size: int = 50) -> Page:
    """Data-access log entries, newest first. Citizens get their own only (Forbidden for anyone else's);
    admins and auditors may filter by citizen and app."""
    query = (sa.select(AccessLogEntry).where(authz.access_log_list_scope(actor, citizen_id))
             .order_by(AccessLogEntry.last_at.desc(), AccessLogEntry.id.desc()))
    if app_id is not None:
        query = query.where(AccessLogEntry.app_id == app_id)
    return paginate(query, page, page_size)


# --- Downloads and deletion requests ("my data") -----------------------------------------------------------


def my_data_export(citizen) -> dict[str, Any]:
    """Everything "my data" shows, unmasked, for the citizen to download: the details held, the consents and the
    data-access log (newest EXPORT_ROWS entries), the deletion requests, and the vendors whose staff the account
    is linked to (``staff_traces``). Citizens only."""
    authz.my_data_export(citizen)
    profile = db.session.get(CitizenProfile, citizen.id)
    log = db.session.scalars(sa.select(AccessLogEntry).where(AccessLogEntry.user_id == citizen.id)
                             .order_by(AccessLogEntry.last_at.desc(), AccessLogEntry.id.desc()).limit(EXPORT_ROWS))
    return {
        "held": citizen_claims(citizen), "source": profile.source if profile else None,
        "consents": [{"app": c.app.name, "state": c.state, "fields": list(c.fields),
                      "purposes": dict(c.purposes or {}), "decided_at": c.decided_at.isoformat(),
                      "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None}
                     for c in consent_list(citizen)],
        "access_log": [access_log_row(e) for e in log],
        "deletion_requests": [{"app": r.app.name, "state": r.state, "requested_at": r.requested_at.isoformat(),
                               "due_at": r.due_at.isoformat(),
                               "completed_at": r.completed_at.isoformat() if r.completed_at else None,
                               "note": r.note} for r in deletion_request_list(citizen)],
        "vendor_staff_links": [{"vendor": vendor, "first_seen_at": first.isoformat(), "last_seen_at": last.isoformat()}
                               for vendor, first, last in staff_traces.staff_links_of_citizen(citizen.id)],
    }


def access_log_row(entry: AccessLogEntry) -> dict[str, Any]:
    """One access-log entry as plain data (downloads): app, fields, purpose, route, first and last time, count."""
    return {"app": entry.app_name, "fields": list(entry.fields), "purpose": entry.purpose, "via": entry.via,
            "first_at": entry.occurred_at.isoformat(), "last_at": entry.last_at.isoformat(), "count": entry.count}


def deletion_request_create(citizen, app_id: int, *, now: datetime | None = None) -> DeletionRequest:
    """Ask the vendor of ``app_id`` to delete what the app holds about the citizen: a task for the vendor due in
    DELETION_DAYS, audited for the vendor. An open request for the same app is returned as it is (one at a time).
    Citizens only; NotFound for an unknown app."""
    authz.deletion_request_create(citizen)
    app = _app(app_id)
    open_request = db.session.scalar(sa.select(DeletionRequest).where(
        DeletionRequest.user_id == citizen.id, DeletionRequest.app_id == app.id,
        DeletionRequest.completed_at.is_(None)))
    if open_request is not None:
        return open_request
    now = now or utcnow()
    request = DeletionRequest(user_id=citizen.id, app_id=app.id, vendor_id=app.vendor_id, requested_at=now,
                              due_at=now + timedelta(days=DELETION_DAYS))
    db.session.add(request)
    db.session.flush()
    audit.record(citizen, "deletion.request", "deletion_request", request.id,
                 {"app_id": app.id, "due_at": request.due_at}, vendor_id=app.vendor_id)
    db.session.commit()
    return request


def deletion_request_list(actor) -> list[DeletionRequest]:
    """Deletion requests, open ones first by deadline: a citizen's own, a vendor member's vendor's, or all (admins)."""
    query = (sa.select(DeletionRequest).where(authz.deletion_request_list_scope(actor))
             .order_by(DeletionRequest.completed_at.is_not(None), DeletionRequest.due_at, DeletionRequest.id))
    return list(db.session.scalars(query))


def deletion_request_complete(actor, request_id: int, note: str) -> DeletionRequest:
    """The vendor confirms it deleted what the app held about the citizen (``note``: what was deleted, or why
    something must be kept by law). Members of the addressed vendor only; NotFound for an unknown request, Conflict
    for a closed one, ValidationError for an empty note."""
    request = db.session.get(DeletionRequest, int(request_id))
    if request is None:
        raise NotFound(f"deletion request {request_id} does not exist")
    authz.deletion_request_complete(actor, request)
    if request.completed_at is not None:
        raise Conflict(f"deletion request {request_id} was already closed on {request.completed_at:%Y-%m-%d}")
    if not (note or "").strip():
        raise ValidationError("say what was deleted (or what the law requires you to keep, and why)",
                              errors={"note": "empty"})
    request.completed_at = utcnow()
    request.completed_by_id = actor.id
    request.note = note.strip()[:2000]
    audit.record(actor, "deletion.complete", "deletion_request", request.id, {"app_id": request.app_id},
                 vendor_id=request.vendor_id)
    db.session.commit()
    return request
