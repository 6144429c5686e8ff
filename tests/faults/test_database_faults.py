"""A private PostgreSQL restarted (``pg_ctl restart -m fast``) while writers record usage events and ratings
through the services: every acknowledged write survives, retried usage is counted once, and the app serves the
first request after a restart without a 500."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from tests.conftest import make_app, upgrade
from tests.faults.conftest import build_market

WRITE_SECONDS_BEFORE, WRITE_SECONDS_AFTER = 3.0, 4.0


def test_postgres_restart_under_writes_loses_no_acknowledged_write(private_postgres, tmp_path):
    from billing import services as billing
    from billing.models import UsageEvent
    from core.auth import SYSTEM
    from core.extensions import db
    from core.time import utcnow
    from marketplace.accounts.models import User
    from marketplace.ratings import services as ratings
    from marketplace.ratings.models import Rating
    from marketplace.transactions import services as transactions
    from marketplace.transactions.models import Transaction

    admin = sa.create_engine(private_postgres.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql('CREATE DATABASE "govmarket"')
    admin.dispose()
    app = make_app(private_postgres.url.rsplit("/", 1)[0] + "/govmarket", tmp_path, TESTING=False)
    upgrade(app)
    with app.app_context():
        market = build_market(4)

    stop = threading.Event()
    lock = threading.Lock()
    acknowledged_usage: dict[str, str] = {}  # key -> status the service answered
    acknowledged_ratings: list[int] = []  # transaction ids whose rating_create returned
    errors: list[str] = []
    connection_errors = [0]
    succeeded_at: list[float] = []

    def attempt(call):
        """Run ``call`` in a fresh app context until it returns; connection errors are retried."""
        while True:
            try:
                with app.app_context():
                    try:
                        return call()
                    finally:
                        try:
                            db.session.rollback()
                        except sa.exc.DBAPIError:
                            pass
            except sa.exc.DBAPIError as exc:
                if not exc.connection_invalidated and not isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
                    raise
                with lock:
                    connection_errors[0] += 1
                time.sleep(0.05)

    def usage_writer(n: int) -> None:
        i = 0
        try:
            while not stop.is_set():
                i += 1
                key, occurred = f"usage-{n}-{i}", utcnow()

                def record(key=key, occurred=occurred):
                    return billing.usage_record(SYSTEM, idempotency_key=key, order_id=market.order_id,
                                                app_id=market.app_id, vendor_id=market.vendor_id, transaction_ref=key,
                                                occurred_at=occurred).status

                status = attempt(record)
                again = attempt(record) if i % 10 == 0 else None  # a producer's retry after its answer
                with lock:
                    acknowledged_usage[key] = status
                    succeeded_at.append(time.monotonic())
                    if again is not None and again != "duplicate":
                        errors.append(f"retry of {key} answered {again}, not duplicate")
        except Exception as exc:
            with lock:
                errors.append(f"usage writer {n}: {exc.__class__.__name__}: {exc}")

    def rating_writer(n: int) -> None:
        user_id = market.citizens[n][0]
        i = 0
        try:
            while not stop.is_set():
                i += 1

                def complete(i=i):
                    case = f"DB-{n}-{i}"
                    done = db.session.scalar(sa.select(Transaction.id).where(Transaction.department_case_number == case))
                    if done is not None:
                        return done  # the attempt before the connection broke had committed, unacknowledged
                    txn = transactions.transaction_start(db.session.get(User, user_id), market.app_id)
                    return transactions.transaction_record_submission(
                        txn.id, department_case_number=case, decision="accepted", reasons=[]).id

                txn_id = attempt(complete)

                def rate(txn_id=txn_id):
                    user = db.session.get(User, user_id)
                    if ratings.rating_of_transaction(user, txn_id) is not None:
                        return False  # the attempt before the connection broke had committed, unacknowledged
                    ratings.rating_create(user, txn_id, stars=4, dimensions={
                        "tangibility": 4, "reliability": 4, "responsiveness": 4, "assurance": 4, "empathy": 4})
                    return True

                if attempt(rate):
                    with lock:
                        acknowledged_ratings.append(txn_id)
                        succeeded_at.append(time.monotonic())
        except Exception as exc:
            with lock:
                errors.append(f"rating writer {n}: {exc.__class__.__name__}: {exc}")

    threads = [threading.Thread(target=usage_writer, args=(n,)) for n in range(3)]
    threads += [threading.Thread(target=rating_writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    time.sleep(WRITE_SECONDS_BEFORE)
    restart_started = time.monotonic()
    private_postgres.restart()
    restart_ended = time.monotonic()
    restart_s = restart_ended - restart_started
    time.sleep(WRITE_SECONDS_AFTER)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    after = [t for t in succeeded_at if t > restart_ended]
    recovery_s = (min(after) - restart_ended) if after else float("inf")
    print(f"\npg restart {restart_s:.2f} s; first acknowledged write {recovery_s:.2f} s after it was back; "
          f"{len(acknowledged_usage)} usage events and {len(acknowledged_ratings)} ratings acknowledged; "
          f"{connection_errors[0]} connection errors retried")
    assert not any(t.is_alive() for t in threads), "a writer hung"
    assert errors == []
    assert after, "no write succeeded after the restart"

    with app.app_context():
        counts = dict(db.session.execute(sa.select(UsageEvent.idempotency_key, sa.func.count())
                                         .group_by(UsageEvent.idempotency_key)).all())
        assert {k: counts.get(k) for k in acknowledged_usage} == {k: 1 for k in acknowledged_usage}
        rated = set(db.session.scalars(sa.select(Rating.transaction_id)))
        assert set(acknowledged_ratings) <= rated
        completed = db.session.scalars(sa.select(Transaction.usage_key).where(Transaction.status == "completed")).all()
        assert all(counts.get(k) == 1 for k in completed), "a completed case without exactly one usage event"
        ledger_ok = billing.ledger_verify(SYSTEM)
        db.session.remove()

    # An idle pool across a restart: the first request afterwards must be served, not answered 500.
    client = app.test_client()
    assert client.get("/services").status_code == 200
    private_postgres.restart()
    assert client.get("/services").status_code == 200
    assert client.get(f"/services/apps/{market.app_slug}").status_code == 200
    assert ledger_ok is not None
    with app.app_context():
        db.engine.dispose()
