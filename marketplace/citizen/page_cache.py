"""The catalogue pages (an item's apps side by side, search) from the shared cache, with ETag and Last-Modified.

What is kept is the page's own part, rendered once per language: the item's guide and its app cards, the search
results. Every request still composes it into the layout of its visitor (their name, the log-out form), and the
CSRF token of each launch form is put in per request (the kept part holds a placeholder), so one kept part
serves every citizen and every anonymous visitor without showing anyone another's session.

A kept part is valid while its *generations* are: ``item:<id>`` for an item page, ``search`` for the searches,
``all`` for both. ``catalogue_changed`` (a blinker signal, sent after a commit that changed rows a page shows,
by the session hooks below — so no write path can forget it) gives them new values:

- ratings (a new one, an edit, moderation), completed cases (their counts, medians and Bayesian averages, which
  also rank the other apps of the order) — the item of the app, and search;
- publications, suspensions, withdrawals, new versions, app and order changes — the item, and search;
- the item's own guide — the item, and search; vendors, departments and life events — everything.

A part made from rows read before a concurrent change is stored under the generation taken *before* the read,
so it is dead on arrival (as the gateway's claims cache, ``marketplace.gateway.claims``).

HTTP: ``ETag`` (the part's generations, language and the visitor's CSRF token — the page differs per session
only by that — renewed every half hour so that a revalidated copy never holds an expired token),
``Last-Modified`` (when the part was rendered) and ``Cache-Control: private, no-cache``: a browser revalidates
every time and gets ``304 Not Modified`` without a page being rendered while nothing changed. (Not ``public``:
each page carries the visitor's CSRF token in its launch forms, so a shared proxy must not store it.)
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from blinker import Namespace
from flask import Response, current_app, request, session
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from core.extensions import cache
from marketplace.catalogue.models import ServiceItem
from marketplace.citizen.models import AppStatistics, ServiceItemStatistics
from marketplace.orders.models import Order
from marketplace.ratings.models import Rating
from marketplace.transactions.models import Transaction
from marketplace.vendors.models import App, AppVersion

ENTRY_SECONDS = 3600  # a backstop; parts are invalidated by generation
CSRF_PLACEHOLDER = "__govmarket_csrf_token__"
CSRF_WINDOW_SECONDS = 1800

_signals = Namespace()
# Sent after a commit with ``items`` (service item ids whose pages changed) and ``everything`` (True when a change
# reaches every page: vendors, departments, life events). Connected to ``invalidate`` by marketplace.citizen.
catalogue_changed = _signals.signal("catalogue-changed")


def _gen_key(name: str) -> str:
    return f"catalogue:gen:{name}"


def _generations(names: Iterable[str]) -> tuple[str, ...]:
    names = list(names)
    values = list(cache.get_many(*[_gen_key(n) for n in names]))
    missing = {_gen_key(n): secrets.token_hex(8) for n, v in zip(names, values, strict=True) if v is None}
    if missing:
        for key, value in missing.items():
            cache.add(key, value, timeout=0)
        values = list(cache.get_many(*[_gen_key(n) for n in names]))
    return tuple(values)


def invalidate(_sender=None, *, items: Iterable[int] = (), everything: bool = False) -> None:
    """New generations for the pages of ``items`` and the searches (and every page with ``everything``)."""
    names = {f"item:{i}" for i in items} | {"search"} | ({"all"} if everything else set())
    cache.set_many({_gen_key(n): secrets.token_hex(8) for n in names}, timeout=0)


@dataclass(frozen=True)
class Part:
    names: tuple[str, ...]
    gens: tuple[str, ...]
    title: str
    body: str  # HTML, with CSRF_PLACEHOLDER where the visitor's token goes
    rendered_at: datetime

    @property
    def tag(self) -> str | None:
        """What identifies this version of the part; None while a generation is unknown (the shared cache cannot
        be reached, core/cache.py): such a part is rendered for this request only and carries no validator."""
        if any(gen is None for gen in self.gens):
            return None
        return hashlib.sha256("\n".join((*self.names, *self.gens)).encode()).hexdigest()[:24]


def kept(key: str, names_of: Callable[[], tuple[str, ...]], render: Callable[[], tuple[str, str]]) -> Part:
    """The kept part under ``key`` (which includes the language) while its generations hold; otherwise
    ``names_of()`` (the generations the part depends on), then ``render()`` → (title, body), kept."""
    entry = cache.get(key)
    if isinstance(entry, Part) and entry.tag is not None and _generations(entry.names) == entry.gens:
        return entry
    names = ("all", *names_of())
    gens = _generations(names)
    title, body = render()
    entry = Part(names, gens, title, body, datetime.now(UTC).replace(microsecond=0))
    if entry.tag is not None:
        cache.set(key, entry, timeout=ENTRY_SECONDS)
    return entry


def csrf_placeholder() -> str:
    """Stands in for ``csrf_token()`` while a part is rendered (see ``compose``)."""
    return CSRF_PLACEHOLDER


def respond(part: Part, layout: Callable[[str, Markup], str], *, shared: str | None = None) -> Response:
    """The page of ``part`` for this visitor: 304 when their copy is current, else the part composed into
    ``layout(title, body)`` with their CSRF token, with ETag, Last-Modified and Cache-Control. ``shared``: a
    cache key under which the composed page is kept too (for visitors who all see the same layout: anonymous
    ones), so that such a request renders nothing at all."""
    token = generate_csrf() if CSRF_PLACEHOLDER in part.body or shared else ""
    if part.tag is None:  # rendered without the shared cache: no ETag that could answer a later 304 wrongly
        response = Response(layout(part.title, Markup(part.body)).replace(CSRF_PLACEHOLDER, str(escape(token))),  # noqa: S704
                            mimetype="text/html")
        response.headers["Cache-Control"] = "private, no-cache"
        response.vary.update(("Cookie", "Accept-Language"))
        return response
    # The signed token changes every second; what identifies it is the session's raw token. A copy is current for
    # half an hour at most, so a revalidated page never holds a token past its time limit (an hour by default).
    secret = session.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), "") if token else ""
    window = int(time.time() // CSRF_WINDOW_SECONDS) if token else 0
    etag = hashlib.sha256(f"{part.tag}:{secret}:{window}".encode()).hexdigest()[:32]
    response = Response(status=200)
    response.set_etag(etag)
    response.last_modified = part.rendered_at
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.update(("Cookie", "Accept-Language"))
    if request.if_none_match.contains(etag) or (
            not request.if_none_match and request.if_modified_since and request.if_modified_since >= part.rendered_at):
        response.status_code = 304
        return response
    # The part is HTML our autoescaping templates rendered; the token is escaped as any template would.
    version = f"{part.tag}:{part.rendered_at.isoformat()}"
    kept = cache.get(shared) if shared else None
    if isinstance(kept, tuple) and kept[0] == version:
        html = kept[1]
    else:
        html = layout(part.title, Markup(part.body))  # noqa: S704
        if shared:
            cache.set(shared, (version, html), timeout=ENTRY_SECONDS)
    response.set_data(html.replace(CSRF_PLACEHOLDER, str(escape(token))))
    response.mimetype = "text/html"
    return response


def item_id_of(session, code: str) -> int | None:
    return session.scalar(sa.select(ServiceItem.id).where(ServiceItem.code == code))


# -- which writes change which pages: session hooks, then the signal after the commit ----------------------------

_PENDING = "govmarket_catalogue_changes"
_EVERYTHING = ("Vendor", "Department", "LifeEvent", "LifeEventStep")
_SHOWN_ONCE_USED = ("Vendor", "Department")


def _note(session: Session, _context) -> None:
    apps: set[int] = set()
    items: set[int] = set()
    everything = False
    for obj in (*session.new, *session.dirty, *session.deleted):
        if type(obj).__name__ in _SHOWN_ONCE_USED and obj in session.new:
            continue  # a new vendor or department is on no page yet
        if isinstance(obj, (Rating, AppStatistics, AppVersion)):
            apps.add(obj.app_id)
        elif isinstance(obj, Transaction):
            if obj.completed_at is not None:
                apps.add(obj.app_id)
        elif isinstance(obj, App):
            apps.add(obj.id)
        elif isinstance(obj, ServiceItemStatistics):
            items.add(obj.service_item_id)
        elif isinstance(obj, Order):
            items.add(obj.service_item_id)
        elif isinstance(obj, ServiceItem):
            items.add(obj.id)
        elif type(obj).__name__ in _EVERYTHING:
            everything = True
    if apps:
        items |= set(session.connection().scalars(
            sa.select(Order.service_item_id).join(App, App.order_id == Order.id).where(App.id.in_(apps))))
    if items or everything:
        pending = session.info.setdefault(_PENDING, [set(), False])
        pending[0] |= {i for i in items if i is not None}
        pending[1] = pending[1] or everything


def _send(session: Session, *_args) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending is None:
        return
    try:
        catalogue_changed.send(None, items=pending[0], everything=pending[1])
    except RuntimeError:  # no app context (a script's own session): no cache to keep consistent
        pass


sa.event.listen(Session, "after_flush", _note)
sa.event.listen(Session, "after_commit", _send)
sa.event.listen(Session, "after_soft_rollback", _send)
