"""The mixed citizen load test: Locust (bench/locustfile.py) against gunicorn + PostgreSQL + Redis + a sandboxed app.

    .venv/bin/python bench/load_test.py --users 200 --minutes 10        # the issue's goal (as root, bwrap)
    .venv/bin/python bench/load_test.py --users 20 --minutes 1          # a quick run (make bench)

Creates a scratch PostgreSQL database (``BENCH_POSTGRES_URL``, default the test server; dropped afterwards),
seeds the demo's departments, items, orders, vendors and staff, packages, certifies and publishes
examples/ssc-kabao (as bench/gateway_overhead.py does), has the scenarios' personas consent to it, starts
gunicorn (``marketplace.wsgi:app``, gthread, ``--workers`` × ``--threads``, the cache on Redis as in production),
then runs Locust headless for ``--minutes`` with ``--users`` (spawned at ``--spawn-rate``/s) and writes
Locust's CSVs (``<out>_stats.csv``, ``<out>_stats_history.csv``, ``<out>_failures.csv``) and a chart
(``<out>.png``: users, requests/s, p50 and p95 over time) under bench/results/. Prints the command, the
machine's load and the totals as JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gateway_overhead import SAMPLE, Gunicorn, build_platform, publish_sample

ROOT = Path(__file__).resolve().parent.parent


def scratch_database(admin_url: str) -> tuple[str, callable]:
    import psycopg

    name = f"bench_load_{uuid.uuid4().hex[:8]}"
    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    base = admin_url.rsplit("/", 1)[0]
    return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://"), drop


def seed_citizens(app, app_id: int) -> tuple[list[str], list[str], str]:
    """(personas who consented to the sample app, item codes, staff email:password)."""
    from core.extensions import db
    from marketplace.catalogue.models import ServiceItem
    from marketplace.demo.base import STAFF
    from marketplace.demo.data import DEMO_PASSWORD
    from marketplace.identity import services as identity
    from marketplace.identity.personas import persona_list

    with app.app_context():
        personas = sorted({p.resident_id for p in persona_list()})
        for resident_id in personas:
            citizen = identity.citizen_login_persona(resident_id, settings=app.config)
            identity.consent_grant(citizen, app_id, identity.consent_status(citizen, app_id).requested)
        items = [code for (code,) in db.session.execute(db.select(ServiceItem.code).order_by(ServiceItem.id))]
        db.session.remove()
    return personas, items, f"{STAFF.get('social-security') or next(iter(STAFF.values()))}:{DEMO_PASSWORD}"


def chart(history_csv: Path, out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in csv.DictReader(history_csv.open()) if r["Name"] == "Aggregated"]
    if not rows:
        return
    start = int(rows[0]["Timestamp"])
    t = [(int(r["Timestamp"]) - start) / 60 for r in rows]

    def col(name):
        return [float(r[name]) if r[name] not in ("", "N/A") else float("nan") for r in rows]

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    top.plot(t, col("Requests/s"), label="requests/s")
    top.plot(t, col("Failures/s"), label="failures/s", color="tab:red")
    users = top.twinx()
    users.plot(t, col("User Count"), label="users", color="tab:gray", linestyle="--")
    users.set_ylabel("users")
    top.set_ylabel("requests/s")
    top.legend(loc="upper left")
    bottom.plot(t, col("50%"), label="p50")
    bottom.plot(t, col("95%"), label="p95")
    bottom.set_ylabel("ms (all requests)")
    bottom.set_xlabel("minutes")
    bottom.legend(loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=float, default=5)
    parser.add_argument("--minutes", type=float, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--out", default="bench/results/load", help="prefix of the CSVs and the chart")
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    admin = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    url, drop = scratch_database(admin)

    def echo(message: str = "", nl: bool = True):
        print(message, file=sys.stderr, end="\n" if nl else "", flush=True)

    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    server = None
    try:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            app = build_platform(Path(tmp), url)
            app_id, _certify_s = publish_sample(app, echo)
            personas, items, staff = seed_citizens(app, app_id)
            server_args = argparse.Namespace(server="gthread", workers=args.workers, threads=args.threads,
                                             cache="RedisCache")
            server = Gunicorn(server_args, app, Path(tmp))
            host = f"http://127.0.0.1:{server.port}"
            env = {**os.environ, "LOAD_APP_SLUG": SAMPLE,
                   "LOAD_APPS_DOMAIN": f"{app.config['APPS_DOMAIN'].split(':')[0]}:{server.port}",
                   "LOAD_ITEMS": ",".join(items), "LOAD_PERSONAS": ",".join(personas), "LOAD_STAFF": staff}
            command = [str(Path(sys.executable).parent / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"),
                       "--headless", "--host", host, "-u", str(args.users), "-r", str(args.spawn_rate),
                       "-t", f"{int(args.minutes * 60)}s", "--csv", str(out), "--csv-full-history",
                       "--only-summary", "--stop-timeout", "10"]
            echo("running: " + " ".join(command))
            started = time.monotonic()
            locust = subprocess.run(command, env=env, cwd=ROOT)
            wall = time.monotonic() - started
    finally:
        if server is not None:
            server.shutdown()
        drop()
    stats = {r["Name"]: r for r in csv.DictReader(Path(f"{out}_stats.csv").open())}
    total = stats.get("Aggregated", {})
    chart(Path(f"{out}_stats_history.csv"), Path(f"{out}.png"),
          f"{args.users} simulated users, gunicorn gthread {args.workers}×{args.threads}, PostgreSQL + Redis + bwrap "
          f"(load average at start {load_at_start[0]:.1f} on 2 cores)")
    result = {
        "command": f"bench/load_test.py --users {args.users} --minutes {args.minutes} --workers {args.workers} "
                   f"--threads {args.threads}",
        "load_average_at_start": load_at_start, "load_average_at_end": os.getloadavg(), "locust_exit": locust.returncode,
        "wall_s": round(wall, 1), "requests": int(total.get("Request Count", 0)),
        "failures": int(total.get("Failure Count", 0)), "requests_per_s": float(total.get("Requests/s", 0)),
        "by_name": {name: {"n": int(r["Request Count"]), "failures": int(r["Failure Count"]),
                           "p50_ms": r["50%"], "p95_ms": r["95%"]} for name, r in stats.items()},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
