"""Billing on PostgreSQL: metering ingestion vs a raw COPY, settlement preview vs one raw SQL aggregate.

    .venv/bin/python -m bench.billing_settlement --scale 1      # 10,000,000 events, 1,000,000 ratings
    .venv/bin/python -m bench.billing_settlement --scale 0.1    # a tenth of that (1,000 apps either way)

A scratch database is created (and dropped unless --keep) on the PostgreSQL server of
``BENCH_POSTGRES_URL`` (default: the test server, postgresql+psycopg://postgres@127.0.0.1:5432/postgres)
and migrated with the platform's migrations. Each phase runs in a forked child process so its peak
resident memory (ru_maxrss) is its own:

1. ingest: every event through ``billing.services.usage_record_batch`` (validation, quarter locking,
   INSERT … ON CONFLICT DO NOTHING RETURNING, audit row), 5,000 per batch and transaction;
2. copy: the same rows with ``COPY … FROM STDIN`` into a table with the same columns and indexes
   (no triggers, no validation) — the floor for getting those rows into PostgreSQL;
   (and last, after the preview: the same events again through ``POST /api/usage/batch`` with a bearer token,
   in-process through Flask's test client — the HTTP batch endpoint, JSON and per-record schema included);
3. preview: ``billing.services.settlement_preview`` of the quarter (usage aggregate, rating statistics
   from the bench's ratings table, exact formula, awards);
4. aggregate: one raw SQL statement computing per-app usage counts joined with per-app rating counts and
   sums over the same rows — the floor for reading what settlement needs.

The marketplace is not part of the bench: orders and apps are a bench-local ``SettlementSource`` held in
memory, and ratings are rows of a bench table (1,000,000 at scale 1, 2% of them flagged) aggregated in SQL.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import sqlalchemy as sa

QUARTER = "2026Q3"
APPS = 1000
APPS_PER_ORDER = 10
VENDORS = 400
BATCH = 5000
EVENTS_AT_SCALE_1 = 10_000_000
RATINGS_AT_SCALE_1 = 1_000_000


def admin_url() -> str:
    return os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def app_layout():
    """app_id -> (order_id, vendor_id, weight): usage is skewed, like real markets (a few apps dominate)."""
    rng = random.Random(7)
    layout = {}
    for app_id in range(1, APPS + 1):
        order_id = (app_id - 1) // APPS_PER_ORDER + 1
        layout[app_id] = (order_id, rng.randrange(1, VENDORS + 1), 1 / (1 + (app_id % APPS_PER_ORDER)) + rng.random())
    return layout


def event_rows(n_events: int, start: datetime, seconds: int, layout):
    """The deterministic event stream: dicts of the columns a usage record carries."""
    rng = random.Random(11)
    ids = list(layout)
    weights = [layout[a][2] for a in ids]
    for offset in range(0, n_events, BATCH):
        chosen = rng.choices(ids, weights, k=min(BATCH, n_events - offset))
        batch = []
        for k, app_id in enumerate(chosen):
            i = offset + k
            order_id, vendor_id, _ = layout[app_id]
            batch.append({"idempotency_key": f"e{i:09d}", "order_id": order_id, "app_id": app_id, "vendor_id": vendor_id,
                          "transaction_ref": f"T{i:09d}", "occurred_at": start + timedelta(seconds=i * seconds // n_events)})
        yield batch


class BenchSettlementSource:
    """Bench-local stand-in for the marketplace's data: orders and apps in memory, ratings in SQL."""

    def __init__(self, layout):
        from billing.source import AppFacts, MultiplierPoint, OrderTerms
        from core.money import Money

        table = (MultiplierPoint(Fraction(1), 5000), MultiplierPoint(Fraction(3), 8000),
                 MultiplierPoint(Fraction(4), 10000), MultiplierPoint(Fraction(5), 12000))
        self.terms = [OrderTerms(o, 1 + o % 20, Money(200), Money(20_000_000), table)
                      for o in sorted({v[0] for v in layout.values()})]
        self.facts = {a: AppFacts(a, v, o, datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=a))
                      for a, (o, v, _) in layout.items()}

    def orders(self, span):
        return self.terms

    def apps(self, app_ids):
        return {a: self.facts[a] for a in app_ids if a in self.facts}

    def apps_of_orders(self, order_ids):
        wanted = set(order_ids)
        return [f for f in self.facts.values() if f.order_id in wanted]

    def rating_stats(self, span, app_ids, as_of=None):
        from billing.source import RatingStats
        from core.extensions import db

        rows = db.session.execute(sa.text(
            "SELECT app_id, count(*), sum(stars), count(*) FILTER (WHERE stars = 1), count(*) FILTER (WHERE stars = 2),"
            " count(*) FILTER (WHERE stars = 3), count(*) FILTER (WHERE stars = 4), count(*) FILTER (WHERE stars = 5)"
            " FROM bench_ratings WHERE NOT flagged GROUP BY app_id"))
        wanted = set(app_ids)
        return {r[0]: RatingStats(r[0], r[1], int(r[2]), tuple(r[3:8])) for r in rows if r[0] in wanted}


def make_app(url: str, instance: str, layout):
    from billing.source import set_settlement_source
    from marketplace.app import create_app

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "INSTANCE_PATH": instance, "QUEUE_MODE": "sync"})
    set_settlement_source(app, BenchSettlementSource(layout))
    sa.orm.configure_mappers()  # once per process, as a running server has; not part of any phase's time
    return app


def in_child(fn, *args):
    """Run ``fn(*args)`` in a forked process; return (its result, its peak RSS in MiB)."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()

    def target():
        # What was loaded before the phase lives as long as the process: out of the collector's way, as in a
        # server process (marketplace.wsgi freezes the loaded app the same way).
        gc.collect()
        gc.freeze()
        try:
            result = fn(*args)
            queue.put(("ok", result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
        except BaseException as exc:
            queue.put(("error", repr(exc), 0))
            raise

    process = ctx.Process(target=target)
    process.start()
    status, result, peak = queue.get()
    process.join()
    if status != "ok":
        raise RuntimeError(f"{fn.__name__} failed: {result}")
    return result, round(peak, 1)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _backend_cpu(url) -> dict[int, float] | None:
    """CPU seconds so far of each PostgreSQL backend connected to the bench database (read from /proc: the server
    runs on this machine), or None when they cannot be read."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        pids = [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return cpu


class CpuMeter:
    """CPU time of a phase: this process's, and its database connections' (the work PostgreSQL did for it). Under
    a shared machine's load wall time stretches; CPU time much less."""

    def __init__(self, url):
        self.url = url
        self.client = _own_cpu()
        self.server = _backend_cpu(url)

    def read(self) -> dict:
        client = _own_cpu() - self.client
        after = _backend_cpu(self.url)
        server = None if after is None or self.server is None else sum(
            seconds - self.server.get(pid, 0.0) for pid, seconds in after.items())
        return {"client": round(client, 2), "server": None if server is None else round(server, 2),
                "total": None if server is None else round(client + server, 2)}


def phase_ingest(url, instance, layout, n_events, start, seconds, now):
    from billing import services
    from core.auth import SYSTEM

    app = make_app(url, instance, layout)
    accepted = 0
    cpu = CpuMeter(url)
    began = time.perf_counter()
    with app.app_context():
        for n, batch in enumerate(event_rows(n_events, start, seconds, layout)):
            accepted += sum(r.status == "accepted" for r in services.usage_record_batch(SYSTEM, batch, now=now))
            if n % 200 == 0:
                print(f"  ingest: {accepted:,} accepted in {time.perf_counter() - began:.0f}s", file=sys.stderr)
        elapsed = time.perf_counter() - began
        return {"seconds": elapsed, "accepted": accepted, "cpu": cpu.read()}


def phase_ingest_http(url, instance, layout, n_events, start, seconds, now):
    """The same events (keys ``h…``) through ``POST /api/usage/batch`` (JSON, bearer token, schema per record),
    in-process through the Flask test client: the HTTP batch endpoint without a network hop."""
    import base64

    import orjson

    from core.auth import SYSTEM
    from marketplace.accounts import services as accounts

    app = make_app(url, instance, layout)
    client = app.test_client()
    with app.app_context():
        user = accounts.user_create(SYSTEM, email="bench-metering@example.cn", display_name="bench", role="admin",
                                    password="bench-password-2026")
        oauth_client, secret = accounts.client_create(user, name="bench", scopes=["usage:write"])
        basic = base64.b64encode(f"{oauth_client.client_id}:{secret}".encode()).decode()
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                        headers={"Authorization": f"Basic {basic}"}).json["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    accepted = 0
    cpu = CpuMeter(url)
    began = time.perf_counter()
    for batch in event_rows(n_events, start, seconds, layout):
        records = [{**r, "idempotency_key": "h" + r["idempotency_key"][1:]} for r in batch]
        # The client's own JSON with orjson (times as RFC 3339 with their offset), as a metering client in Python
        # would (the test client's json= sorts and encodes with the json module: client time, not the endpoint's).
        response = client.post("/api/usage/batch", data=orjson.dumps({"records": records}), headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"POST /api/usage/batch answered {response.status_code}: {response.get_data()[:300]}")
        accepted += orjson.loads(response.get_data())["accepted"]
    elapsed = time.perf_counter() - began
    return {"seconds": elapsed, "accepted": accepted, "cpu": cpu.read()}


def phase_copy(url, layout, n_events, start, seconds, now, table="bench_usage_copy"):
    import psycopg

    raw = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw) as conn:
        conn.execute(f"CREATE TABLE {table} (LIKE billing_usage_events INCLUDING DEFAULTS INCLUDING INDEXES)")
        conn.commit()
        cpu = CpuMeter(url)
        began = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
                f"COPY {table} (idempotency_key, order_id, app_id, vendor_id, transaction_ref, occurred_at,"
                " received_at, quarter_code, settle_quarter_code, is_late) FROM STDIN") as copy:
            for batch in event_rows(n_events, start, seconds, layout):
                for r in batch:
                    copy.write_row((r["idempotency_key"], r["order_id"], r["app_id"], r["vendor_id"],
                                    r["transaction_ref"], r["occurred_at"], now, QUARTER, QUARTER, False))
        conn.commit()
        elapsed = time.perf_counter() - began
        return {"seconds": elapsed, "cpu": cpu.read()}


def phase_preview(url, instance, layout):
    from billing import services
    from core.auth import SYSTEM

    app = make_app(url, instance, layout)
    with app.app_context():
        began = time.perf_counter()
        preview = services.settlement_preview(SYSTEM, QUARTER)
        seconds = time.perf_counter() - began
        return {"seconds": seconds, "total_fen": preview.total_fen, "orders": len(preview.orders),
                "apps_paid": sum(len(o.lines) for o in preview.orders.values()),
                "winners": [a.candidate.app_id for a in preview.awards]}


def phase_aggregate(url):
    import psycopg

    raw = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw) as conn:
        began = time.perf_counter()
        rows = conn.execute(
            "WITH u AS (SELECT order_id, app_id, vendor_id, count(*) AS n FROM billing_usage_events"
            "           WHERE settle_quarter_code = %s AND flagged_at IS NULL GROUP BY order_id, app_id, vendor_id),"
            "     r AS (SELECT app_id, count(*) AS c, sum(stars) AS s FROM bench_ratings WHERE NOT flagged GROUP BY app_id)"
            " SELECT u.order_id, u.app_id, u.vendor_id, u.n, r.c, r.s FROM u LEFT JOIN r USING (app_id)",
            (QUARTER,)).fetchall()
        return {"seconds": time.perf_counter() - began, "rows": len(rows)}


def load_ratings(url, n_ratings, layout):
    import psycopg

    rng = random.Random(13)
    ids = list(layout)
    weights = [layout[a][2] for a in ids]
    raw = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw) as conn:
        conn.execute("CREATE TABLE bench_ratings (id bigserial PRIMARY KEY, app_id integer NOT NULL,"
                     " stars smallint NOT NULL, flagged boolean NOT NULL)")
        with conn.cursor() as cur, cur.copy("COPY bench_ratings (app_id, stars, flagged) FROM STDIN") as copy:
            for app_id in rng.choices(ids, weights, k=n_ratings):
                copy.write_row((app_id, rng.choices((1, 2, 3, 4, 5), (2, 3, 10, 35, 50))[0], rng.random() < 0.02))
        conn.execute("CREATE INDEX ON bench_ratings (app_id)")
        conn.commit()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 10,000,000 events and 1,000,000 ratings")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--metering-only", action="store_true",
                        help="only the ingests and COPY (no ratings, no preview), with a second COPY at the end")
    args = parser.parse_args(argv)
    n_events = int(EVENTS_AT_SCALE_1 * args.scale)
    n_ratings = int(RATINGS_AT_SCALE_1 * args.scale)
    layout = app_layout()

    from billing.calendar import quarter_span

    span = quarter_span(QUARTER)
    seconds = int((span.ends_at - span.starts_at).total_seconds())
    now = span.ends_at + timedelta(days=2)

    admin = sa.create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    name = f"govmarket_bench_billing_{uuid.uuid4().hex[:8]}"
    # The endpoint's events go into a second database: each ingest fills an empty usage table, as COPY does.
    names = [name, name + "_http"]
    with admin.connect() as conn:
        for each in names:
            conn.exec_driver_sql(f'CREATE DATABASE "{each}"')
    url, http_url = (admin_url().rsplit("/", 1)[0] + "/" + each for each in names)
    instance = tempfile.mkdtemp(prefix="bench-billing-")
    load = os.getloadavg()
    try:
        import flask_migrate

        for each in (url, http_url):
            app = make_app(each, instance, layout)
            with app.app_context():
                flask_migrate.upgrade(revision="heads")
                from core.extensions import db

                db.engine.dispose()
        if not args.metering_only:
            print(f"loading {n_ratings:,} ratings …", file=sys.stderr)
            load_ratings(url, n_ratings, layout)
        print(f"ingesting {n_events:,} events through usage_record_batch …", file=sys.stderr)
        ingest, ingest_rss = in_child(phase_ingest, url, instance, layout, n_events, span.starts_at, seconds, now)
        print("copying the same rows with COPY …", file=sys.stderr)
        copy, copy_rss = in_child(phase_copy, url, layout, n_events, span.starts_at, seconds, now)
        result = {
            "benchmark": "billing_settlement",
            "scale": args.scale, "events": n_events, "ratings": 0 if args.metering_only else n_ratings, "apps": APPS,
            "machine": {"cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in load]},
        }
        if not args.metering_only:
            engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.exec_driver_sql("VACUUM ANALYZE billing_usage_events")
                conn.exec_driver_sql("VACUUM ANALYZE bench_ratings")
            engine.dispose()
            print("settlement preview …", file=sys.stderr)
            preview, preview_rss = in_child(phase_preview, url, instance, layout)
            aggregate, aggregate_rss = in_child(phase_aggregate, url)
            preview_warm, preview_warm_rss = in_child(phase_preview, url, instance, layout)
            aggregate_warm, _ = in_child(phase_aggregate, url)
            result |= {
                "preview": {"seconds": round(preview["seconds"], 3), "warm_seconds": round(preview_warm["seconds"], 3),
                            "peak_rss_mib": max(preview_rss, preview_warm_rss), "orders": preview["orders"],
                            "apps_paid": preview["apps_paid"], "total_fen": preview["total_fen"],
                            "winners": preview["winners"]},
                "aggregate": {"seconds": round(aggregate["seconds"], 3),
                              "warm_seconds": round(aggregate_warm["seconds"], 3), "rows": aggregate["rows"],
                              "peak_rss_mib": aggregate_rss},
                "preview_over_aggregate_time": round(preview_warm["seconds"] / aggregate_warm["seconds"], 2),
            }
        print(f"ingesting the same {n_events:,} events through POST /api/usage/batch …", file=sys.stderr)
        http, http_rss = in_child(phase_ingest_http, http_url, instance, layout, n_events, span.starts_at, seconds, now)
        copies = [copy]
        if args.metering_only:  # a second COPY after the endpoint, so that both ingests sit between two
            print("copying the same rows with COPY again …", file=sys.stderr)
            copies.append(in_child(phase_copy, url, layout, n_events, span.starts_at, seconds, now,
                                   "bench_usage_copy_after")[0])
        floor = sum(c["seconds"] for c in copies) / len(copies)
        floor_cpu = (None if any(c["cpu"]["total"] is None for c in copies)
                     else sum(c["cpu"]["total"] for c in copies) / len(copies))

        def cpu_ratio(phase):
            return None if floor_cpu is None or phase["cpu"]["total"] is None else round(phase["cpu"]["total"] / floor_cpu, 2)

        result |= {
            "ingest": {"seconds": round(ingest["seconds"], 2), "events_per_second": round(n_events / ingest["seconds"]),
                       "accepted": ingest["accepted"], "cpu_seconds": ingest["cpu"], "peak_rss_mib": ingest_rss},
            "copy": {"seconds": round(copy["seconds"], 2), "events_per_second": round(n_events / copy["seconds"]),
                     "cpu_seconds": copy["cpu"], "peak_rss_mib": copy_rss},
            "ingest_http": {"seconds": round(http["seconds"], 2), "events_per_second": round(n_events / http["seconds"]),
                            "accepted": http["accepted"], "cpu_seconds": http["cpu"], "peak_rss_mib": http_rss},
            "ingest_over_copy_time": round(ingest["seconds"] / floor, 2),
            "ingest_http_over_copy_time": round(http["seconds"] / floor, 2),
            "ingest_over_copy_cpu": cpu_ratio(ingest),
            "ingest_http_over_copy_cpu": cpu_ratio(http),
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        }
        if len(copies) > 1:
            result["copy_after"] = {"seconds": round(copies[1]["seconds"], 2), "cpu_seconds": copies[1]["cpu"]}
        print(json.dumps(result, indent=2))
    finally:
        if not args.keep:
            with admin.connect() as conn:
                for each in names:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{each}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
