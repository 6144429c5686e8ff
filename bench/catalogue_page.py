"""The citizen catalogue with 10,000 apps and 1,000,000 ratings: item and search pages vs a trivial endpoint.

    .venv/bin/python bench/catalogue_page.py                  # PostgreSQL, full scale
    .venv/bin/python bench/catalogue_page.py --scale 0.1      # 1,000 apps, 100,000 ratings
    .venv/bin/python bench/catalogue_page.py --sqlite --scale 0.1

Creates a scratch database on ``BENCH_POSTGRES_URL`` (an admin URL; default the test server) — or a SQLite file
with ``--sqlite`` —, migrates it and seeds the demo's departments, items, orders, life events and vendors through
the services. It then bulk-inserts (COPY on PostgreSQL, SQLAlchemy Core executemany on SQLite) what a busy
market has: 50·scale extra departments' worth of service items (500·scale items), two published orders per
item, ten apps per order (10,000·scale apps from 200 vendors), each with a published version, citizens, one
completed transaction per rating and 1,000,000·scale ratings (stars and the five dimensions, 2 % hidden),
spread unevenly over the apps. Every item page therefore shows 20 apps side by side, as a popular item would.
As an operator does after a bulk import, it then rebuilds the catalogue's kept statistics from the raw rows
(``govmarket statistics rebuild``; timed and reported as ``statistics_rebuild_s``).

Timed through the Flask test client, warm (after two untimed requests), median of ``--repeat`` requests (and
``uncached_*``: the same with the kept catalogue pages forgotten before each request, what rendering costs):
``GET /services/items/<code>`` (20 apps: Bayesian ratings, counts, distributions, completed cases, median
handling time, certification dates), ``GET /services/search?q=…`` and the trivial ``GET /healthz``. Then what
keeping the statistics costs writers: a case completed and rated through the services for the most-rated app and
a middle one, and the statistics part of each alone. Prints JSON with seconds per page and each page's ratio to
/healthz (measured in the same run), the write figures, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

APPS_PER_ORDER = 10
ORDERS_PER_ITEM = 2
BATCH = 20_000


def admin_url() -> str:
    return os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def scratch_database(use_sqlite: bool, tmp: Path) -> tuple[str, callable]:
    if use_sqlite:
        return f"sqlite:///{tmp / 'catalogue.db'}", lambda: None
    engine = sa.create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    name = f"govmarket_bench_catalogue_{uuid.uuid4().hex[:8]}"
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop():
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()

    return admin_url().rsplit("/", 1)[0] + "/" + name, drop


def insert(conn, table: sa.Table, columns: list[str], rows) -> int:
    """Bulk insert ``rows`` (tuples in ``columns`` order): COPY on PostgreSQL, executemany in batches elsewhere."""
    count = 0
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    batch = []
    for row in rows:
        batch.append(dict(zip(columns, row, strict=True)))
        if len(batch) >= BATCH:
            conn.execute(table.insert(), batch)
            count += len(batch)
            batch = []
    if batch:
        conn.execute(table.insert(), batch)
        count += len(batch)
    return count


def jsonish(conn, value):
    """JSON columns: COPY takes the JSON text, executemany the Python value (the column type encodes it)."""
    return json.dumps(value) if conn.dialect.name == "postgresql" else value


def fill(app, scale: float, seed: int) -> dict:
    """Bulk-insert the market; returns the counts and the codes of the items to request."""
    from core.extensions import db
    from marketplace.accounts.models import User
    from marketplace.catalogue.models import Department, ServiceItem
    from marketplace.orders.models import Order
    from marketplace.ratings.models import Rating
    from marketplace.transactions.models import Transaction
    from marketplace.vendors.models import App, AppVersion, Vendor

    rng = random.Random(seed)
    items_n = max(1, round(500 * scale))
    orders_n = items_n * ORDERS_PER_ITEM
    apps_n = orders_n * APPS_PER_ORDER
    ratings_n = round(1_000_000 * scale)
    citizens_n = max(100, round(100_000 * scale))
    vendors_n = 200
    now = datetime.now(UTC).replace(microsecond=0)
    quarter_ago = now - timedelta(days=90)

    with app.app_context():
        department_ids = list(db.session.scalars(sa.select(Department.id).order_by(Department.id)))
        engine = db.engine
    with engine.begin() as conn:
        def max_id(model):
            return conn.scalar(sa.select(sa.func.coalesce(sa.func.max(model.id), 0)))

        base = {m: max_id(m) for m in (ServiceItem, Order, Vendor, App, AppVersion, User, Transaction, Rating)}
        item_ids = [base[ServiceItem] + i + 1 for i in range(items_n)]
        item_dept = {i: department_ids[n % len(department_ids)] for n, i in enumerate(item_ids)}
        insert(conn, ServiceItem.__table__, ["id", "department_id", "code", "name", "name_en", "description",
                                             "materials", "time_limit_days", "trips", "fee_fen", "channels",
                                             "created_at"],
               ((i, item_dept[i], f"bench-item-{n}", f"基准事项 {n} 许可办理", f"Bench item {n} licence", "",
                 jsonish(conn, []), 20, 1, 0, jsonish(conn, ["online"]), quarter_ago)
                for n, i in enumerate(item_ids)))
        order_ids = [base[Order] + i + 1 for i in range(orders_n)]
        order_item = {o: item_ids[n // ORDERS_PER_ITEM] for n, o in enumerate(order_ids)}
        insert(conn, Order.__table__, ["id", "department_id", "service_item_id", "slug", "title", "description",
                                       "contract", "dept_scopes", "citizen_scopes", "currency",
                                       "fee_per_transaction_fen", "quarterly_budget_fen", "rating_multipliers",
                                       "award_eligible", "created_at", "updated_at", "published_at", "revision"],
               ((o, item_dept[order_item[o]], order_item[o], f"bench-order-{n}", f"Bench order {n}", "",
                 jsonish(conn, {"openapi": "3.1.0", "info": {"title": "bench", "version": "1"}, "paths": {}}),
                 jsonish(conn, ["person.read", "application.submit"]), jsonish(conn, ["name", "resident_id"]),
                 "CNY", 200, 10_000_000, jsonish(conn, [[4.5, 1.2], [4.0, 1.0], [3.0, 0.8], [0.0, 0.5]]), True,
                 quarter_ago, quarter_ago, quarter_ago, 1)
                for n, o in enumerate(order_ids)))
        vendor_ids = [base[Vendor] + i + 1 for i in range(vendors_n)]
        insert(conn, Vendor.__table__, ["id", "name", "credit_code", "contact_email", "created_at"],
               ((v, f"基准软件公司 {n}", f"91BENCH{n:011d}", f"v{n}@bench.example", quarter_ago)
                for n, v in enumerate(vendor_ids)))
        app_ids = [base[App] + i + 1 for i in range(apps_n)]
        app_order = {a: order_ids[n // APPS_PER_ORDER] for n, a in enumerate(app_ids)}
        app_vendor = {a: vendor_ids[rng.randrange(vendors_n)] for a in app_ids}
        insert(conn, App.__table__, ["id", "vendor_id", "order_id", "slug", "name", "summary", "created_at"],
               ((a, app_vendor[a], app_order[a], f"bench-app-{n}", f"基准应用 {n}", "A bench app.", quarter_ago)
                for n, a in enumerate(app_ids)))
        insert(conn, AppVersion.__table__, ["id", "app_id", "version", "bundle_sha256", "bundle_size",
                                            "uploaded_at", "approved_at", "published_at"],
               ((base[AppVersion] + n + 1, a, "1.0.0", f"{n:064x}", 1_000_000, quarter_ago, quarter_ago,
                 quarter_ago) for n, a in enumerate(app_ids)))
        citizen_ids = [base[User] + i + 1 for i in range(citizens_n)]
        insert(conn, User.__table__, ["id", "email", "display_name", "role", "resident_id", "active", "created_at"],
               ((u, f"c{n}@bench.example", f"市民 {n}", "citizen", f"B{n:017d}", True, quarter_ago)
                for n, u in enumerate(citizen_ids)))
        # Ratings spread unevenly: app weights drawn from a Pareto distribution (a few popular apps, a long tail).
        weights = [rng.paretovariate(1.5) for _ in app_ids]
        rated_app = rng.choices(app_ids, weights=weights, k=ratings_n)
        quality = {a: rng.uniform(2.5, 4.9) for a in app_ids}

        def transactions():
            for n, a in enumerate(rated_app):
                started = quarter_ago + timedelta(seconds=rng.randrange(80 * 86400))
                done = started + timedelta(seconds=rng.randrange(600, 10 * 86400))
                yield (base[Transaction] + n + 1, f"BENCH{n:012d}", citizen_ids[n % citizens_n], a, app_order[a],
                       order_item[app_order[a]], "completed", started, started + timedelta(seconds=300), done,
                       jsonish(conn, []), f"bench-usage-{n}")

        started_at = time.perf_counter()
        insert(conn, Transaction.__table__, ["id", "case_number", "citizen_id", "app_id", "order_id",
                                             "service_item_id", "status", "started_at", "submitted_at",
                                             "completed_at", "decision_reasons", "usage_key"], transactions())
        transactions_s = time.perf_counter() - started_at

        def ratings():
            for n, a in enumerate(rated_app):
                stars = max(1, min(5, round(rng.gauss(quality[a], 0.9))))
                dims = [max(1, min(5, stars + rng.choice((-1, 0, 0, 1)))) for _ in range(5)]
                at = now - timedelta(seconds=rng.randrange(80 * 86400))
                hidden = at if rng.random() < 0.02 else None
                yield (base[Rating] + n + 1, base[Transaction] + n + 1, citizen_ids[n % citizens_n], a,
                       app_order[a], app_vendor[a], stars, *dims, "", at, at, "", False, hidden,
                       "bench: hidden" if hidden else None)

        started_at = time.perf_counter()
        insert(conn, Rating.__table__, ["id", "transaction_id", "citizen_id", "app_id", "order_id", "vendor_id",
                                        "stars", "tangibility", "reliability", "responsiveness", "assurance",
                                        "empathy", "comment", "created_at", "updated_at", "device_hash",
                                        "under_review", "hidden_at", "hidden_reason"], ratings())
        ratings_s = time.perf_counter() - started_at
        if conn.dialect.name == "postgresql":
            for model in (ServiceItem, Order, Vendor, App, AppVersion, User, Transaction, Rating):
                table = model.__table__.name
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE")
    # The COPY bypassed the services, so the kept statistics are rebuilt as an operator does after a bulk import.
    from marketplace.citizen.statistics import statistics_rebuild

    started_at = time.perf_counter()
    with app.app_context():
        rebuilt = statistics_rebuild()
    rebuild_s = time.perf_counter() - started_at
    popular_item = order_item[app_order[max(app_ids, key=lambda a: weights[a - app_ids[0]])]]
    return {"items": items_n, "orders": orders_n, "apps": apps_n, "apps_per_item_page": ORDERS_PER_ITEM * APPS_PER_ORDER,
            "vendors": vendors_n, "citizens": citizens_n, "completed_transactions": ratings_n, "ratings": ratings_n,
            "insert_transactions_s": round(transactions_s, 1), "insert_ratings_s": round(ratings_s, 1),
            "statistics_rebuild_s": round(rebuild_s, 1), "statistics_rebuilt": vars(rebuilt),
            "item_codes": [f"bench-item-{item_ids.index(popular_item)}", f"bench-item-{items_n // 2}"],
            "write_apps": [max(app_ids, key=lambda a: weights[a - app_ids[0]]), app_ids[len(app_ids) // 2]],
            "citizen_id": citizen_ids[0]}


def timed(client, path: str, repeat: int) -> tuple[float, int]:
    for _ in range(2):
        warm = client.get(path)
        if warm.status_code != 200:
            raise SystemExit(f"GET {path} answered {warm.status_code}: {warm.get_data(as_text=True)[:300]}")
    times = []
    size = 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        size = len(response.get_data())
    return statistics.median(times), size


def timed_cold(app, client, path: str, repeat: int) -> float | None:
    """The median of GETs with the kept catalogue pages forgotten before each (marketplace/citizen/page_cache.py):
    what rendering the page costs, as every request paid before the cache. None on code without the cache."""
    from core import extensions

    if not hasattr(extensions, "cache"):
        return None
    times = []
    for _ in range(repeat):
        with app.app_context():
            extensions.cache.clear()
        started = time.perf_counter()
        client.get(path)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def timed_writes(app, app_id: int, citizen_id: int, repeat: int) -> dict:
    """What keeping the statistics costs a writer: a case completed and rated through the services for
    ``app_id`` (``repeat`` times, median seconds), and the statistics part alone — ``case_completed`` (+1 and the
    app's median over its latest 1,000 cases) and ``apply_rating_increments`` (a rating's difference added) — plus
    the fallback ``refresh_ratings`` (the app's counted ratings re-aggregated), each measured inside a transaction
    that is rolled back."""
    from core.extensions import db
    from core.time import utcnow
    from marketplace.accounts.models import User
    from marketplace.citizen import statistics as kept
    from marketplace.ratings import services as ratings
    from marketplace.ratings.models import DIMENSIONS, Rating
    from marketplace.transactions import services as transactions

    complete_s, rate_s, completed_part_s, ratings_part_s, recompute_s = [], [], [], [], []
    with app.app_context():
        counted = db.session.scalar(sa.select(sa.func.count()).select_from(Rating).where(Rating.app_id == app_id))
        for n in range(repeat):
            citizen = db.session.get(User, citizen_id)
            started = time.perf_counter()
            txn = transactions.transaction_start(citizen, app_id)
            done = transactions.transaction_record_submission(txn.id, department_case_number=f"BENCH-W-{app_id}-{n}",
                                                              decision="accepted")
            complete_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            # Dated apart so that the burst rule does not put them under review.
            ratings.rating_create(citizen, done.id, stars=4, dimensions=dict.fromkeys(DIMENSIONS, 4),
                                  now=utcnow() - timedelta(days=3, hours=n))
            rate_s.append(time.perf_counter() - started)
            assert done.app_id == app_id and done.service_item_id  # loaded before the clock starts
            started = time.perf_counter()
            kept.case_completed(done)
            completed_part_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            kept.apply_rating_increments(db.session, {app_id: {"ratings": 1, "stars_sum": 4, "stars_4": 1,
                                                               **{f"{d}_sum": 4 for d in DIMENSIONS}}})
            ratings_part_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            kept.refresh_ratings([app_id])
            recompute_s.append(time.perf_counter() - started)
            db.session.rollback()
        db.session.remove()
    return {"app_id": app_id, "ratings_of_app": counted, "complete_case_s": round(statistics.median(complete_s), 5),
            "rate_case_s": round(statistics.median(rate_s), 5),
            "of_which_case_completed_s": round(statistics.median(completed_part_s), 5),
            "of_which_rating_increments_s": round(statistics.median(ratings_part_s), 5),
            "fallback_recompute_ratings_s": round(statistics.median(recompute_s), 5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 10,000 apps and 1,000,000 ratings")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    load_average = os.getloadavg()

    import flask_migrate

    from core.time import utcnow
    from marketplace.app import create_app
    from marketplace.demo.base import seed_base
    from marketplace.demo.timeline import timeline

    with tempfile.TemporaryDirectory(prefix="bench-catalogue-") as tmp:
        url, drop = scratch_database(args.sqlite, Path(tmp))
        try:
            app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret", "INSTANCE_PATH": tmp,
                              "QUEUE_MODE": "sync", "RATELIMIT_ENABLED": False,
                              "RATELIMIT_STORAGE_URI": "memory://", "PASSWORD_HASH_PROFILE": "CHEAPEST"})
            with app.app_context():
                flask_migrate.upgrade(revision="heads")
                seed_base(timeline(utcnow()))
            started = time.perf_counter()
            data = fill(app, args.scale, args.seed)
            fill_s = time.perf_counter() - started
            codes = data.pop("item_codes")
            write_apps, citizen_id = data.pop("write_apps"), data.pop("citizen_id")
            client = app.test_client()
            pages = {"trivial /healthz": "/healthz",
                     "item page (most-rated app's item)": f"/services/items/{codes[0]}",
                     "item page (middle item)": f"/services/items/{codes[1]}",
                     "search ?q=许可": "/services/search?q=%E8%AE%B8%E5%8F%AF",
                     "search ?q=licence": "/services/search?q=licence"}
            figures = {}
            for name, path in pages.items():
                seconds, size = timed(client, path, args.repeat)
                figures[name] = {"path": path, "median_s": round(seconds, 5), "bytes": size}
                cold = timed_cold(app, client, path, args.repeat) if path != "/healthz" else None
                if cold is not None:
                    figures[name]["uncached_median_s"] = round(cold, 5)
            base = figures["trivial /healthz"]["median_s"]
            for figure in figures.values():
                figure["ratio_to_trivial"] = round(figure["median_s"] / base, 1)
                if "uncached_median_s" in figure:
                    figure["uncached_ratio_to_trivial"] = round(figure["uncached_median_s"] / base, 1)
            writes = {name: timed_writes(app, app_id, citizen_id, max(5, args.repeat // 2))
                      for name, app_id in zip(("most-rated app", "middle app"), write_apps, strict=True)}
            with app.app_context():
                from core.extensions import db
                db.engine.dispose()
        finally:
            drop()
    print(json.dumps({"load_average_at_start": load_average, "load_average_at_end": os.getloadavg(),
                      "database": "sqlite" if args.sqlite else "postgresql", "scale": args.scale,
                      "repeat": args.repeat, "fill_s": round(fill_s, 1), **data, "pages": figures,
                      "writes": writes,
                      "how": "Flask test client in-process, warm, median wall time of `repeat` GETs per page; "
                             "ratio = page median / GET /healthz median"}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
