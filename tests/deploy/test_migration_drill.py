"""The migration drill: a schema change applied while the running version keeps serving (expand/contract), with
nothing lost — on PostgreSQL, where locks decide it.

The running version is the platform served for real on loopback, with vendors' API clients entering apps
(``POST /api/apps``: a write to the ``apps`` table) and reading them back, continuously. Meanwhile the drill's
expand migration (tests/deploy/drill_migrations, an Alembic branch of its own on top of the platform's) adds a
column to ``apps``, builds its index concurrently and backfills the existing rows in small batches — the pattern
docs/operations.md prescribes — and later its contract migration drops them again. The serving version never
knew the column, as an old version does not know a new one.

Must hold: no request fails, every app a client was told was created is there afterwards, no write waits behind
the migration for longer than its lock timeout, and every row that existed before the expand is backfilled.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import requests
import sqlalchemy as sa
from alembic import command

from tests.conftest import make_app, upgrade
from tests.deploy.conftest import ROOT
from tests.live import served
from tests.services import require_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
DRILL = ROOT / "tests" / "deploy" / "drill_migrations"
WRITERS = 4


def migrate(app, revision: str) -> float:
    """``alembic upgrade revision`` with the drill's branch next to the platform's; returns the seconds it took."""
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        config.set_main_option("path_separator", "space")
        config.set_main_option("version_locations", f"{ROOT / 'migrations' / 'versions'} {DRILL}")
        started = time.monotonic()
        command.upgrade(config, revision)
        return time.monotonic() - started


def test_expand_and_contract_while_the_old_version_serves_lose_nothing(tmp_path):
    admin = require_postgres()
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    name = f"govmarket_test_drill_{uuid.uuid4().hex[:8]}"
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0] + "/" + name
    try:
        run_drill(url, tmp_path)
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


def run_drill(url: str, tmp_path) -> None:
    from core.extensions import db
    from core.time import utcnow
    from marketplace.accounts import services as accounts
    from marketplace.accounts.models import User
    from marketplace.demo.base import seed_base, vendor_email
    from marketplace.demo.timeline import timeline
    from marketplace.orders.models import Order

    app = make_app(url, tmp_path, TESTING=False, QUEUE_MODE="inline")
    upgrade(app)
    with app.app_context():
        seed_base(timeline(utcnow()))
        member = db.session.scalar(sa.select(User).where(User.email == vendor_email("minshengyun")))
        client, secret = accounts.client_create(member, name="drill", scopes=["apps:read", "apps:write"])
        order_id = db.session.scalar(sa.select(Order.id).where(Order.slug == "food-licence"))
        client_id = client.client_id
        db.session.remove()

    with served(app) as port:
        base = f"http://127.0.0.1:{port}"
        http = requests.Session()
        http.trust_env = False
        token = http.post(f"{base}/oauth/token", data={"grant_type": "client_credentials",
                                                       "scope": "apps:read apps:write"},
                          auth=(client_id, secret), timeout=30).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        created: list[tuple[str, float, float]] = []  # (slug, started, seconds)
        errors: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def writer(index: int) -> None:
            session = requests.Session()
            session.trust_env = False
            n = 0
            while not stop.is_set():
                n += 1
                slug = f"drill-{index}-{n}"
                started = time.monotonic()
                try:
                    reply = session.post(f"{base}/api/apps", json={"order_id": order_id, "name": f"Drill {index}/{n}",
                                                                  "slug": slug}, headers=headers, timeout=30)
                    listed = session.get(f"{base}/api/apps?page_size=5", headers=headers, timeout=30)
                except requests.RequestException as exc:
                    with lock:
                        errors.append(f"{slug}: {exc}")
                    continue
                seconds = time.monotonic() - started
                with lock:
                    if reply.status_code != 201 or listed.status_code != 200:
                        errors.append(f"{slug}: {reply.status_code} {reply.text[:200]} / {listed.status_code}")
                    else:
                        created.append((slug, started, seconds))

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(2)  # the old version serving, before the change
            expand_started = time.monotonic()
            expand_seconds = migrate(app, "drill_0001")
            with lock:
                existing = [slug for slug, started, seconds in created if started + seconds < expand_started]
            with app.app_context():
                not_backfilled = db.session.scalar(sa.text(
                    "SELECT count(*) FROM apps WHERE slug = ANY(:slugs) AND drill_note IS DISTINCT FROM 'from ' || slug"),
                    {"slugs": existing})
                db.session.remove()
            time.sleep(1)  # the old version on the expanded schema
            contract_started = time.monotonic()
            contract_seconds = migrate(app, "drill_0002")
            time.sleep(1)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)

    assert errors == [], f"{len(errors)} requests failed, first: {errors[:3]}"
    during = [seconds for _slug, started, seconds in created
              if expand_started - 1 <= started <= expand_started + expand_seconds]
    assert len(existing) >= WRITERS and during, "writes went on before and during the migration"
    assert not_backfilled == 0, f"{not_backfilled} of the {len(existing)} rows from before the expand not backfilled"
    slowest = max(seconds for _slug, _started, seconds in created)
    assert slowest < 5, f"a write waited {slowest:.1f} s: the migration held a lock too long"
    with app.app_context():
        slugs = set(db.session.scalars(sa.text("SELECT slug FROM apps WHERE slug LIKE 'drill-%'")))
        assert {slug for slug, _s, _t in created} <= slugs, "an acknowledged app is missing"
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("apps")}
        assert "drill_note" not in columns, "the contract step dropped the column"
        db.engine.dispose()
    print(f"\nmigration drill: {len(created)} apps entered by {WRITERS} clients, expand {expand_seconds:.2f} s, "
          f"contract {contract_seconds:.2f} s ({contract_started - expand_started:.1f} s apart), slowest write "
          f"{slowest * 1000:.0f} ms, {len(during)} writes during the expand, 0 errors")
