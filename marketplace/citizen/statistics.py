"""The citizen read side's kept statistics (``AppStatistics``, ``ServiceItemStatistics``): written in the database
transaction that changes them, so that a catalogue page reads one row per app instead of every case and rating.

- A completed case (``transactions.transaction_record_submission`` sends ``transactions.services.case_completed``,
  connected to ``case_completed`` here by ``marketplace.citizen.init_app``): +1 completed case for its app and its
  service item by atomic ``INSERT … ON CONFLICT DO UPDATE SET completed = completed + 1`` (two completions at once
  both count), then the app's median handling time is recomputed from its latest ``MEDIAN_SAMPLE`` completed cases
  (one app's rows, on the ``(app_id, completed_at)`` index).
- Whether a rating counts changes on many paths (a new rating, an edit, a flag, a manipulation signal that puts
  *other* ratings under review, hiding, closing a review), so every ORM flush of a ``Rating`` is seen by a
  session hook; nothing that writes ratings through the ORM can forget it. A new rating — the common write —
  adds its own share to its app's figures by an atomic update (``ratings = ratings + 1``, ``stars_4 = stars_4 +
  1`` …), the same cost whatever the app's size. A change of an existing rating (rarer: edits and moderation)
  recomputes its app's figures from its counted ratings (``refresh_ratings``): the values the session loaded may
  be older than the row it updates, so a difference computed from them could count a concurrent change twice.

Increments are atomic; the median and ``refresh_ratings`` first take the app's statistics row lock (the
upsert), then read the raw rows in a new statement: on PostgreSQL (READ COMMITTED) a concurrent writer of the
same app waits for the lock and then sees the rows the other committed, so nothing of the other's is lost.
SQLite serializes writers.

Bulk imports that bypass the ORM (the catalogue benchmark's COPY) and operators run ``statistics_rebuild``
(``govmarket statistics rebuild``), which recomputes every row from the raw rows.
"""

from __future__ import annotations

import statistics as pystats
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from core.extensions import db, dialect_insert
from core.time import utcnow
from marketplace.citizen.models import AppStatistics, ServiceItemStatistics
from marketplace.ratings.models import DIMENSIONS, Rating, counted_ratings
from marketplace.transactions.models import Transaction

MEDIAN_SAMPLE = 1000  # the median handling time is taken over an app's latest completed cases
STAR_COLUMNS = ("stars_1", "stars_2", "stars_3", "stars_4", "stars_5")
DIMENSION_COLUMNS = (*(f"{name}_sum" for name in DIMENSIONS), *(f"{name}_count" for name in DIMENSIONS))
RATING_COLUMNS = ("ratings", "stars_sum", *STAR_COLUMNS, *DIMENSION_COLUMNS)
_NOTED = "catalogue_statistics_rating_changes"  # Session.info key: this transaction's rating increments per app


# --- recomputation from the raw rows ------------------------------------------------------------------------

def raw_rating_figures(session: Session, app_ids: Collection[int] | None = None) -> dict[int, dict[str, int]]:
    """Per app, the counted ratings' figures (``RATING_COLUMNS``) from the ratings table; apps without a counted
    rating are left out. ``app_ids`` None means every app."""
    columns = [sa.func.count().label("ratings"), sa.func.sum(Rating.stars).label("stars_sum"),
               *(sa.func.sum(sa.case((Rating.stars == n, 1), else_=0)).label(f"stars_{n}") for n in range(1, 6)),
               *(sa.func.sum(getattr(Rating, name)).label(f"{name}_sum") for name in DIMENSIONS),
               *(sa.func.count(getattr(Rating, name)).label(f"{name}_count") for name in DIMENSIONS)]
    query = sa.select(Rating.app_id, *columns).where(counted_ratings()).group_by(Rating.app_id)
    if app_ids is not None:
        query = query.where(Rating.app_id.in_(list(app_ids)))
    return {row.app_id: {name: int(getattr(row, name) or 0) for name in RATING_COLUMNS}
            for row in session.execute(query)}


def raw_completed(session: Session, key) -> dict[int, int]:
    """Completed cases per ``key`` (``Transaction.app_id`` or ``Transaction.service_item_id``)."""
    rows = session.execute(sa.select(key, sa.func.count()).where(Transaction.status == "completed").group_by(key))
    return {int(k): int(n) for k, n in rows}


def median_seconds(spans: Iterable[tuple]) -> int | None:
    """The median of ``completed_at - started_at`` over (started_at, completed_at) pairs, whole seconds."""
    seconds = [(done - start).total_seconds() for start, done in spans]
    return int(pystats.median(seconds)) if seconds else None


def _latest_completed(app_id: int):
    return (sa.select(Transaction.started_at, Transaction.completed_at)
            .where(Transaction.app_id == app_id, Transaction.status == "completed")
            .order_by(Transaction.completed_at.desc(), Transaction.id.desc()).limit(MEDIAN_SAMPLE))


def raw_median_handling_seconds(session: Session, app_id: int) -> int | None:
    """Median time from start to completion over the app's latest ``MEDIAN_SAMPLE`` completed cases."""
    return median_seconds(session.execute(_latest_completed(app_id)))


def raw_medians(session: Session) -> dict[int, int]:
    """``raw_median_handling_seconds`` of every app with a completed case, in one pass over the table."""
    rank = sa.func.row_number().over(partition_by=Transaction.app_id,
                                     order_by=(Transaction.completed_at.desc(), Transaction.id.desc()))
    latest = (sa.select(Transaction.app_id, Transaction.started_at, Transaction.completed_at, rank.label("rank"))
              .where(Transaction.status == "completed").subquery())
    rows = session.execute(sa.select(latest.c.app_id, latest.c.started_at, latest.c.completed_at)
                           .where(latest.c.rank <= MEDIAN_SAMPLE).order_by(latest.c.app_id)
                           .execution_options(yield_per=20_000))
    spans: dict[int, list[tuple]] = {}
    for app_id, started, done in rows:
        spans.setdefault(app_id, []).append((started, done))
    return {app_id: median_seconds(pairs) for app_id, pairs in spans.items()}


# --- keeping the statistics in the writing transaction ---------------------------------------------------------

def _increment_completed(session: Session, model, key: str, key_value: int, now) -> None:
    table = model.__table__
    insert = dialect_insert(table, session).values({key: key_value, "completed": 1, "updated_at": now})
    session.execute(insert.on_conflict_do_update(
        index_elements=[key], set_={"completed": table.c.completed + 1, "updated_at": insert.excluded.updated_at}))


def case_completed(transaction: Transaction, session: Session | None = None) -> None:
    """Count ``transaction``'s completion (flushed, status completed) for its app and its service item and
    recompute the app's median handling time; part of the caller's database transaction."""
    session = session or db.session
    now = utcnow()
    # App row first, item row second, always: concurrent writers take the locks in the same order.
    _increment_completed(session, AppStatistics, "app_id", transaction.app_id, now)
    _increment_completed(session, ServiceItemStatistics, "service_item_id", transaction.service_item_id, now)
    session.execute(sa.update(AppStatistics).where(AppStatistics.app_id == transaction.app_id).values(
        median_handling_seconds=raw_median_handling_seconds(session, transaction.app_id)))


def refresh_ratings(app_ids: Collection[int], session: Session | None = None) -> None:
    """Recompute the rating figures of ``app_ids`` from their counted ratings; part of the caller's database
    transaction."""
    session = session or db.session
    ids = sorted(set(app_ids))
    if not ids:
        return
    now = utcnow()
    table = AppStatistics.__table__
    # Lock (or create) the rows in id order before reading the ratings, so the read sees every rating a concurrent
    # writer of the same app committed before us.
    insert = dialect_insert(table, session).values([{"app_id": a, "updated_at": now} for a in ids])
    session.execute(insert.on_conflict_do_update(index_elements=["app_id"],
                                                 set_={"updated_at": insert.excluded.updated_at}))
    figures = raw_rating_figures(session, ids)
    zero = dict.fromkeys(RATING_COLUMNS, 0)
    for app_id in ids:
        session.execute(sa.update(AppStatistics).where(AppStatistics.app_id == app_id)
                        .values(**figures.get(app_id, zero)))


def _new_rating_share(obj: Rating) -> tuple[int, dict[str, int]] | None:
    """(app, increments of its figures) that a new rating adds, or None when it does not count; unset columns hold
    what the INSERT wrote (their scalar default, or NULL)."""
    state = sa.inspect(obj)
    values = {}
    for name in ("app_id", "stars", *DIMENSIONS, "hidden_at"):
        if name in state.dict:
            values[name] = state.dict[name]
        else:
            default = Rating.__table__.c[name].default
            values[name] = default.arg if default is not None and default.is_scalar else None
    if values["hidden_at"] is not None:
        return None
    stars = values["stars"]
    given = [name for name in DIMENSIONS if values[name] is not None]
    return values["app_id"], {"ratings": 1, "stars_sum": stars, f"stars_{stars}": 1,
                              **{f"{name}_sum": values[name] for name in given},
                              **{f"{name}_count": 1 for name in given}}


@event.listens_for(Session, "after_flush")
def _note_rating_writes(session: Session, _context) -> None:
    """Note what each flushed rating change does to its app's figures, to apply before the commit.

    A new rating adds its own share: nobody else sees the row before the commit, so the increment is exact. A
    change of an existing rating (edit, flag, signal, hiding, review closed) marks its app for recomputation
    under the statistics row lock instead: the values this session loaded may be older than the row it updates
    (a concurrent writer may have flagged or hidden it meanwhile), so a difference computed from them could
    count a change twice."""
    noted = None
    for obj in (*session.new, *session.dirty, *session.deleted):
        if not isinstance(obj, Rating):
            continue
        noted = noted if noted is not None else session.info.setdefault(_NOTED, {"deltas": {}, "recompute": set()})
        if obj in session.new:
            share = _new_rating_share(obj)
            if share is not None:
                deltas = noted["deltas"].setdefault(share[0], {})
                for column, amount in share[1].items():
                    deltas[column] = deltas.get(column, 0) + amount
            continue
        state = sa.inspect(obj)
        history = state.attrs.app_id.history
        for app_id in (*history.deleted, *([state.dict["app_id"]] if "app_id" in state.dict else [])):
            noted["recompute"].add(("app", app_id))
        if "app_id" not in state.dict:
            noted["recompute"].add(("rating", state.identity[0]))


def apply_rating_increments(session: Session, deltas: dict[int, dict[str, int]]) -> set[int]:
    """Add the increments to each app's figures, apps in id order: atomic ``UPDATE … SET n = n + d``. Returns the
    apps that have no statistics row yet (to recompute: a row is never started from increments alone)."""
    table = AppStatistics.__table__
    now = utcnow()
    missing = set()
    for app_id in sorted(deltas):
        changes = {column: amount for column, amount in deltas[app_id].items() if amount}
        if not changes:
            continue
        result = session.execute(sa.update(table).where(table.c.app_id == app_id).values(
            updated_at=now, **{column: table.c[column] + amount for column, amount in changes.items()}))
        if result.rowcount == 0:
            missing.add(app_id)
    return missing


@event.listens_for(Session, "before_commit")
def _refresh_noted_apps(session: Session) -> None:
    if not session.info.get(_NOTED) and not (session.new or session.dirty or session.deleted):
        return
    session.flush()
    noted = session.info.pop(_NOTED, None)
    if not noted:
        return
    recompute = {value for kind, value in noted["recompute"] if kind == "app"}
    rating_ids = [value for kind, value in noted["recompute"] if kind == "rating"]
    if rating_ids:
        recompute.update(session.scalars(sa.select(Rating.app_id).where(Rating.id.in_(rating_ids))))
    # One pass in app id order, so that concurrent writers take the statistics row locks in the same order. A
    # recomputation reads this transaction's rows too, so it replaces the app's increments.
    for app_id in sorted(recompute | set(noted["deltas"])):
        if app_id in recompute or apply_rating_increments(session, {app_id: noted["deltas"][app_id]}):
            refresh_ratings([app_id], session)


@event.listens_for(Session, "after_soft_rollback")
def _forget_noted_apps(session: Session, _previous) -> None:
    session.info.pop(_NOTED, None)


# --- rebuilding from the raw rows ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Rebuilt:
    apps: int
    service_items: int
    completed: int
    ratings: int


def raw_statistics(session: Session | None = None) -> tuple[dict[int, dict], dict[int, dict]]:
    """Every app's and service item's statistics as recomputed from the raw rows (as ``statistics_rebuild``
    writes them): ({app_id: {column: value}}, {service_item_id: {"completed": n}}). Apps and items without a
    completed case or a counted rating are left out."""
    session = session or db.session
    completed = raw_completed(session, Transaction.app_id)
    ratings = raw_rating_figures(session)
    medians = raw_medians(session)
    zero = dict.fromkeys(RATING_COLUMNS, 0)
    apps = {app_id: {"completed": completed.get(app_id, 0), "median_handling_seconds": medians.get(app_id),
                     **ratings.get(app_id, zero)}
            for app_id in sorted(set(completed) | set(ratings))}
    items = {item_id: {"completed": n} for item_id, n in sorted(raw_completed(session, Transaction.service_item_id)
                                                                 .items())}
    return apps, items


def kept_statistics(session: Session | None = None) -> tuple[dict[int, dict], dict[int, dict]]:
    """The kept statistics in the shape of ``raw_statistics`` (rows with nothing to count left out)."""
    session = session or db.session
    apps = {}
    for row in session.scalars(sa.select(AppStatistics).order_by(AppStatistics.app_id)):
        values = {"completed": row.completed, "median_handling_seconds": row.median_handling_seconds,
                  **{name: getattr(row, name) for name in RATING_COLUMNS}}
        if row.completed or row.ratings:
            apps[row.app_id] = values
    items = {row.service_item_id: {"completed": row.completed}
             for row in session.scalars(sa.select(ServiceItemStatistics).order_by(ServiceItemStatistics.service_item_id))
             if row.completed}
    return apps, items


def statistics_rebuild(session: Session | None = None) -> Rebuilt:
    """Recompute every app's and service item's statistics from the raw cases and ratings, replacing the kept
    ones, in one database transaction (committed). For operators and after bulk imports that bypass the
    services; while it runs, writers of statistics wait for it (the tables are locked on PostgreSQL)."""
    session = session or db.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("LOCK TABLE app_statistics, service_item_statistics IN EXCLUSIVE MODE"))
    apps, items = raw_statistics(session)
    now = utcnow()
    session.execute(sa.delete(AppStatistics))
    session.execute(sa.delete(ServiceItemStatistics))
    if apps:
        session.execute(sa.insert(AppStatistics), [{"app_id": a, "updated_at": now, **v} for a, v in apps.items()])
    if items:
        session.execute(sa.insert(ServiceItemStatistics),
                        [{"service_item_id": i, "updated_at": now, **v} for i, v in items.items()])
    session.commit()
    # Bulk writes no session hook of the page cache sees: every catalogue page shows these figures.
    from marketplace.citizen import page_cache

    try:
        page_cache.catalogue_changed.send(None, items=(), everything=True)
    except RuntimeError:  # no app context: no cache to keep consistent
        pass
    return Rebuilt(len(apps), len(items), sum(v["completed"] for v in items.values()),
                   sum(v["ratings"] for v in apps.values()))
