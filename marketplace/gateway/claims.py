"""The gateway's hot path without database reads: a shared cache of gateway session → the citizen's claims for
its app, and of the published keys (JWKS).

A proxied request needs to know whose session the cookie names, whether it is still live, and which identity
claims the citizen has consented to show the app. All of that changes rarely, so it is kept in the shared cache
(``core.extensions.cache``: Redis in production, so every web process sees the same entries and the same
invalidations) under the session's token digest, together with the *generation* of its citizen:

- every committed change of a row these answers come from — the citizen (``User``: deactivation, name), their
  profile, any of their consents, any of their gateway sessions — gives the citizen a new random generation
  (SQLAlchemy session events below, so no write path can forget it), and an entry made under an older
  generation is never used again;
- a reader takes the generation *before* it reads the database, so an entry built from rows read just before
  a concurrent change is stored under the old generation and is dead on arrival (no window where a revoked
  consent lives on in the cache);
- the order's citizen scopes (what the app asks for) come from the app row the request reads anyway, and an
  entry made for other scopes is not used.

So a consent change, a revocation, an ended session or a deactivated citizen reaches the app on the very next
request, from any web process.

The app served at a slug — its live version, its order's scopes — is kept the same way (``ServedApp``), under
the generations of the app (any change of the app or of one of its versions: publication, suspension,
withdrawal, a new live version) and of its order (scopes). A suspension still takes effect on the very next
request; a steady request makes no database query at all, only cache reads.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.extensions import cache, db
from marketplace.accounts.models import User
from marketplace.gateway.models import GatewaySession
from marketplace.identity import keys
from marketplace.identity import services as identity
from marketplace.identity.models import CitizenProfile, Consent, SigningKey
from marketplace.orders.models import Order
from marketplace.vendors.models import App, AppVersion

ENTRY_SECONDS = 600  # a backstop: entries are invalidated by generation, not by time
JWKS_SECONDS = 60  # retired keys leave the JWKS at their published_until, hours after rotation
KEYS = "keys"  # the generation name of the signing keys


def _gen_key(name: str | int) -> str:
    return f"gw:gen:{name}"


def _entry_key(token_sha256: str) -> str:
    return f"gw:session:{token_sha256}"


def generation(name: str | int) -> str:
    """The current generation of ``name`` (a citizen id, or KEYS), made on first use."""
    key = _gen_key(name)
    value = cache.get(key)
    if value is None:
        cache.add(key, secrets.token_hex(8), timeout=0)
        value = cache.get(key)
    return value


def bump(names) -> None:
    """New generations for ``names``: every entry made under the old ones is dead."""
    names = set(names)
    if names:
        cache.set_many({_gen_key(n): secrets.token_hex(8) for n in names}, timeout=0)


def generations(names) -> list[str | None]:
    """The current generations of ``names`` in one cache round trip (None: never made, or evicted)."""
    return list(cache.get_many(*[_gen_key(n) for n in names]))


# What one proxied request read ahead from the cache (``reading_ahead``): each value is used once, then the cache is
# asked again, so a lookup repeated after a miss sees what the miss wrote.
_ahead: ContextVar[dict | None] = ContextVar("govmarket_gateway_read_ahead", default=None)
_NOT_READ = object()


@contextmanager
def reading_ahead(slug: str, token_sha256: str | None) -> Iterator[None]:
    """Within the block, ``served_app_lookup(slug)``, ``lookup(…, token_sha256)`` and ``jwks()`` take what a warm
    proxied request needs from two cache round trips made here — the entries, then their generations — instead
    of six one after another. Taking an entry and its generation in one batch validates it exactly as reading them
    in turn does (both are read before the request acts on them)."""
    keys = [f"gw:app:{slug}", _gen_key(KEYS), "gw:jwks"] + ([_entry_key(token_sha256)] if token_sha256 else [])
    values = dict(zip(keys, cache.get_many(*keys), strict=True))
    names: list[str | int] = []
    app_entry, session_entry = values[keys[0]], values.get(_entry_key(token_sha256)) if token_sha256 else None
    if isinstance(app_entry, ServedApp):
        names += app_entry.names
    if isinstance(session_entry, SessionClaims):
        names.append(session_entry.citizen_id)
    if names:
        values.update(zip([_gen_key(n) for n in names], generations(names), strict=True))
    reset = _ahead.set(values)
    try:
        yield
    finally:
        _ahead.reset(reset)


def _read(key: str) -> Any:
    """The value read ahead for ``key`` (once), else _NOT_READ."""
    ahead = _ahead.get()
    if ahead is None:
        return _NOT_READ
    return ahead.pop(key, _NOT_READ)


def _get(key: str) -> Any:
    value = _read(key)
    return cache.get(key) if value is _NOT_READ else value


def _generations_of(names) -> list[str | None]:
    keys = [_gen_key(n) for n in names]
    values = [_read(k) for k in keys]
    if any(v is _NOT_READ for v in values):
        return generations(names)
    return values


def known(gens) -> bool:
    """Whether every generation is known. An unknown one (None: the cache could not be reached, core/cache.py) must
    never validate an entry — a missing key reads as None too — so nothing is kept or trusted under it."""
    return all(gen is not None for gen in gens)


@dataclass(frozen=True)
class ServedApp:
    """What the proxy needs of the app served at a slug and its live version, as of generations ``gens``."""

    id: int
    slug: str
    name: str  # for the platform bar
    vendor_id: int
    order_id: int
    version_id: int
    bundle_sha256: str
    dept_scopes: tuple[str, ...]
    citizen_scopes: tuple[str, ...]
    gens: tuple[str, str]

    @property
    def names(self) -> tuple[str, str]:
        return f"app:{self.id}", f"order:{self.order_id}"


def served_app_lookup(slug: str) -> ServedApp | None:
    """The kept ServedApp of ``slug`` while neither its app nor its order changed since; never reads the database."""
    entry = _get(f"gw:app:{slug}")
    if not isinstance(entry, ServedApp) or not known(entry.gens) or tuple(_generations_of(entry.names)) != entry.gens:
        return None
    return entry


def served_app_remember(app: App, version: AppVersion, gens: tuple[str, str]) -> ServedApp:
    entry = ServedApp(app.id, app.slug, app.name, app.vendor_id, app.order_id, version.id, version.bundle_sha256,
                      tuple(sorted(app.order.dept_scopes or ())), tuple(app.order.citizen_scopes or ()), gens)
    if known(gens):
        cache.set(f"gw:app:{app.slug}", entry, timeout=ENTRY_SECONDS)
    return entry


def served_app_generations(app: App) -> tuple[str, str]:
    """The app's and its order's generations, made if missing (taken before the rows are read again)."""
    return generation(f"app:{app.id}"), generation(f"order:{app.order_id}")


@dataclass(frozen=True)
class SessionClaims:
    """What a proxied request needs to know about its gateway session, as of the citizen's generation ``gen``."""

    session_id: int
    token_sha256: str
    citizen_id: int
    app_id: int
    transaction_id: int
    expires_at: float
    last_seen_at: float
    scopes: tuple[str, ...]
    claims: dict[str, Any]
    gen: str
    # The citizen's delegation to the app (identity.delegation_basis: resident ID, consented department fields,
    # order, purpose, time of the last decision), so that a fresh department token is minted for every request
    # without a read; None for a citizen without a resident ID. It also depends on the app and its order (the
    # purpose): the entry keeps their generations too.
    delegation: identity.DelegationBasis | None = None
    app_gens: tuple[str | None, ...] = ()


def _ts(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def lookup(app, token_sha256: str, now: datetime) -> tuple[SessionClaims | None, bool]:
    """(the cached entry for the session and ``app`` (App or ServedApp), or None on a miss; whether it was a hit).
    Never reads the database. A hit may still be an expired session: the caller checks times."""
    entry = _get(_entry_key(token_sha256))
    if not isinstance(entry, SessionClaims) or entry.app_id != app.id or not known((entry.gen, *entry.app_gens)):
        return None, False
    if entry.scopes != _scopes(app) or _get(_gen_key(entry.citizen_id)) != entry.gen:
        return None, False
    if entry.app_gens != _app_gens(app):
        return None, False
    return entry, True


def _app_gens(app) -> tuple[str | None, ...]:
    """The app's and its order's generations: those a ServedApp was checked against (no round trip), else now."""
    if isinstance(app, ServedApp):
        return app.gens
    return tuple(generations((f"app:{app.id}", f"order:{app.order_id}")))


def _scopes(app) -> tuple[str, ...]:
    if isinstance(app, ServedApp):
        return app.citizen_scopes
    return tuple(app.order.citizen_scopes or ())


def remember(app, session: GatewaySession, gen: str) -> SessionClaims:
    """Build the entry of a live ``session`` read after taking its citizen's generation ``gen`` (and the app's
    and order's: ``app.gens`` of a ServedApp, else taken here before the delegation reads them), and keep it."""
    app_gens = app.gens if isinstance(app, ServedApp) else served_app_generations(app)
    entry = SessionClaims(session.id, session.token_sha256, session.citizen_id, session.app_id,
                          session.transaction_id, _ts(session.expires_at), _ts(session.last_seen_at), _scopes(app),
                          identity.consented_claims(session.citizen, session.app_id), gen,
                          identity.delegation_basis(session.citizen, session.app_id), tuple(app_gens))
    if known((gen, *app_gens)):
        cache.set(_entry_key(session.token_sha256), entry, timeout=ENTRY_SECONDS)
    return entry


def touched(entry: SessionClaims, now: datetime) -> SessionClaims:
    """Record that the session was used now (``last_seen_at``: one UPDATE by primary key, no ORM event, so the
    citizen's generation stays), and keep the entry with the new time."""
    db.session.execute(sa.update(GatewaySession).where(GatewaySession.id == entry.session_id)
                       .values(last_seen_at=now).execution_options(synchronize_session=False))
    db.session.commit()
    entry = SessionClaims(**{**entry.__dict__, "last_seen_at": now.timestamp()})
    if known((entry.gen, *entry.app_gens)):
        cache.set(_entry_key(entry.token_sha256), entry, timeout=ENTRY_SECONDS)
    return entry


def jwks() -> dict[str, Any]:
    """The published keys as ``keys.jwks()`` gives them, from the cache while no key was added or changed."""
    gen, kept = _read(_gen_key(KEYS)), _read("gw:jwks")
    if gen is _NOT_READ or kept is _NOT_READ:
        gen, kept = cache.get_many(_gen_key(KEYS), "gw:jwks")  # one round trip
    if gen is None:
        gen = generation(KEYS)
    if gen is not None and isinstance(kept, tuple) and kept[0] == gen:
        return kept[1]
    value = keys.jwks()
    if gen is not None:
        cache.set("gw:jwks", (gen, value), timeout=JWKS_SECONDS)
    return value


def clear() -> None:
    """Forget every entry (tests: rolled-back rows may come back with the same ids)."""
    cache.clear()


# -- invalidation: on every committed (or rolled back) change of the rows an entry comes from ---------------------

_PENDING = "govmarket_gateway_generations"


def _names_of(obj) -> str | int | None:
    if isinstance(obj, User):
        return obj.id
    if isinstance(obj, (CitizenProfile, Consent)):
        return obj.user_id
    if isinstance(obj, GatewaySession):
        return obj.citizen_id
    if isinstance(obj, SigningKey):
        return KEYS
    if isinstance(obj, App):
        return f"app:{obj.id}"
    if isinstance(obj, AppVersion):
        return f"app:{obj.app_id}"
    if isinstance(obj, Order):
        return f"order:{obj.id}"
    return None


def note_changed(session, name: str | int) -> None:
    """Renew ``name``'s generation when ``session`` commits: for writes no ORM event sees (bulk UPDATEs)."""
    session.info.setdefault(_PENDING, set()).add(name)


@sa.event.listens_for(Session, "after_flush")
def _collect(session, _flush_context) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        name = _names_of(obj)
        if name is not None:
            session.info.setdefault(_PENDING, set()).add(name)


def _flush_pending(session) -> None:
    names = session.info.pop(_PENDING, None)
    if names:
        try:
            bump(names)
        except RuntimeError:  # no app context (a script's own session): no cache to keep consistent
            pass


@sa.event.listens_for(Session, "after_commit")
def _after_commit(session) -> None:
    _flush_pending(session)


@sa.event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session, _previous) -> None:
    # A reader in this transaction may have kept an entry from rows that are now gone: end their generation too.
    _flush_pending(session)
