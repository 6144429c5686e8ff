"""Sustained concurrent citizens against a real threaded server on loopback: zero errors, no lost usage event,
rating or count in the catalogue's kept statistics. Runs on SQLite and, with TEST_DATABASE=postgres, on PostgreSQL."""

from __future__ import annotations

import logging
import os
import threading
import time

import requests
import sqlalchemy as sa
from werkzeug.serving import make_server

from tests.conftest import make_app, upgrade
from tests.faults.conftest import PASSWORD, build_market

CITIZENS = int(os.environ.get("FAULTS_LOAD_CITIZENS", "8"))
SECONDS = float(os.environ.get("FAULTS_LOAD_SECONDS", "30"))
DIMENSIONS = ("tangibility", "reliability", "responsiveness", "assurance", "empathy")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def test_concurrent_citizens_complete_and_rate_cases_without_errors_or_lost_writes(fresh_database_url, tmp_path):
    from core.extensions import db
    from marketplace.accounts.models import User
    from marketplace.transactions import services as transactions

    app = make_app(fresh_database_url, tmp_path, WTF_CSRF_ENABLED=False, TESTING=False, QUEUE_MODE="inline")
    upgrade(app)
    with app.app_context():
        market = build_market(CITIZENS)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()

    errors: list[str] = []
    server_errors = ServerErrors()
    logging.getLogger().addHandler(server_errors)
    latencies: list[float] = []
    acknowledged: list[str] = []  # case numbers whose rating the server acknowledged
    completed: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS

    def timed(what: str, call, expect: set[int] | None = None):
        started = time.monotonic()
        try:
            result = call()
        except Exception as exc:  # every exception is an error of the run
            with lock:
                errors.append(f"{what}: {exc.__class__.__name__}: {exc}")
            return None
        finally:
            with lock:
                latencies.append(time.monotonic() - started)
        status = getattr(result, "status_code", None)
        if expect is not None and status not in expect:
            with lock:
                errors.append(f"{what}: HTTP {status}")
            return None
        return result

    def citizen(index: int, user_id: int, email: str) -> None:
        web = requests.Session()
        login = timed("login", lambda: web.post(f"{base}/login", data={"email": email, "password": PASSWORD},
                                                allow_redirects=False, timeout=30), {302})
        if login is None:
            return
        n = 0
        while time.monotonic() < deadline:
            n += 1
            timed("catalogue", lambda: web.get(f"{base}/services", timeout=30), {200})
            timed("app page", lambda: web.get(f"{base}/services/apps/{market.app_slug}", timeout=30), {200})

            def complete_case(n=n) -> str:
                # The gateway's two calls: the citizen opens the app, the department accepts the submission.
                with app.app_context():
                    user = db.session.get(User, user_id)
                    txn = transactions.transaction_start(user, market.app_id)
                    done = transactions.transaction_record_submission(
                        txn.id, department_case_number=f"LOAD-{index}-{n}", decision="accepted", reasons=[])
                    return done.case_number

            case = timed("complete case", complete_case)
            if case is None:
                continue
            with lock:
                completed.append(case)
            form = {"stars": 1 + (n % 5), "comment": f"load {index}/{n}", **{d: 1 + ((n + i) % 5)
                                                                              for i, d in enumerate(DIMENSIONS)}}
            rated = timed("rate", lambda case=case, form=form: web.post(
                f"{base}/my/cases/{case}/rating", data=form, allow_redirects=False, timeout=30), {302})
            if rated is not None:
                with lock:
                    acknowledged.append(case)
            timed("my cases", lambda: web.get(f"{base}/my/cases", timeout=30), {200})

    threads = [threading.Thread(target=citizen, args=(i, uid, email)) for i, (uid, email) in enumerate(market.citizens)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=SECONDS + 120)
    elapsed = time.monotonic() - started
    server.shutdown()
    logging.getLogger().removeHandler(server_errors)

    print(f"\nload on {db_name(fresh_database_url)}: {CITIZENS} citizens, {elapsed:.1f} s, {len(latencies)} operations, "
          f"{len(latencies) / elapsed:.1f} ops/s, p95 {p95(latencies) * 1000:.0f} ms, "
          f"{len(completed)} cases completed, {len(acknowledged)} ratings acknowledged")
    assert not any(t.is_alive() for t in threads), "a citizen thread hung"
    assert errors == [], f"{len(errors)} errors, first: {errors[:5]}; the server logged: {server_errors.records[:3]}"
    assert len(completed) >= CITIZENS, "the load produced almost no cases"

    from billing.models import UsageEvent
    from marketplace.ratings.models import Rating
    from marketplace.transactions.models import Transaction

    with app.app_context():
        done = db.session.execute(sa.select(Transaction.case_number, Transaction.usage_key)
                                  .where(Transaction.status == "completed")).all()
        assert sorted(c for c, _ in done) == sorted(completed)
        per_key = dict(db.session.execute(sa.select(UsageEvent.idempotency_key, sa.func.count())
                                          .group_by(UsageEvent.idempotency_key)).all())
        assert {key: per_key.get(key) for _, key in done} == {key: 1 for _, key in done}, "usage events lost or doubled"
        assert len(per_key) == len(done)
        rated = set(db.session.scalars(sa.select(Transaction.case_number).join(
            Rating, Rating.transaction_id == Transaction.id)))
        assert set(acknowledged) <= rated, f"acknowledged ratings lost: {sorted(set(acknowledged) - rated)[:5]}"
        # Concurrent completions, ratings and the burst signals they fire left the catalogue's kept statistics
        # exactly as a recomputation from the rows gives them.
        from marketplace.catalogue.statistics import kept_statistics, raw_statistics

        kept, raw = kept_statistics(), raw_statistics()
        assert kept == raw
        assert kept[0][market.app_id]["completed"] == len(done)
        db.engine.dispose()


class ServerErrors(logging.Handler):
    """Keeps what the server logged at ERROR, tracebacks included, so a 5xx explains itself."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record):
        self.records.append(self.format(record))


def db_name(url: str) -> str:
    return url.split(":", 1)[0]
