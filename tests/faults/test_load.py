"""Sustained concurrent citizens using a real app through the gateway and rating it, against a real threaded
server on loopback: zero errors, no lost usage event, rating or count in the catalogue's kept statistics. Runs on
SQLite and, with TEST_DATABASE=postgres, on PostgreSQL.

The platform is the demo's base (departments, orders, vendors) with the sample app 卡宝 (examples/ssc-kabao)
packaged, certified in the bubblewrap sandbox, approved and published. Each citizen logs in, browses the
catalogue, presses "use this app", redeems the launch code on the app's origin, opens the app and applies for a
social-security card there; the app asks the department service, whose decision completes the citizen's case on
the platform; the citizen rates the case and looks at their cases — over and over until the time is up."""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa

from tests.conftest import make_app, upgrade
from tests.faults.conftest import PASSWORD
from tests.live import served
from tests.services import require_bwrap

CITIZENS = int(os.environ.get("FAULTS_LOAD_CITIZENS", "8"))  # concurrent clients
ACCOUNTS_EACH = int(os.environ.get("FAULTS_LOAD_ACCOUNTS_EACH", "36"))  # citizens each client logs in as in turn
SECONDS = float(os.environ.get("FAULTS_LOAD_SECONDS", "60"))
DIMENSIONS = ("tangibility", "reliability", "responsiveness", "assurance", "empathy")
SAMPLE = "ssc-kabao"
APPS_DOMAIN = "apps.localhost"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def eligible_citizens(count: int) -> list[dict]:
    """Adults of the serving dataset whose card application the app and the department accept (insured, no
    valid card). The department accepts one application per person (a second is answered as a duplicate), so
    every case needs its own citizen."""
    from marketplace.demo.history import serving_dataset
    from mockdata.rules import SSC_MATERIALS, decide_social_security_card

    data = serving_dataset()
    chosen = []
    for person in data.persons:
        application = {"applicant_resident_id": person["resident_id"], "guardian_resident_id": None,
                       "materials": list(SSC_MATERIALS), "mailing_address": "x", "contact_phone": None}
        held = [lic for lic in data.store.licences_of(person["resident_id"])
                if lic["type"] == "social_security_card" and lic["status"] == "valid"]  # what the app checks
        if not person.get("guardian_resident_id") and not held and not decide_social_security_card(
                data.store, application, date.today()):
            chosen.append(person)
            if len(chosen) == count:
                return chosen
    raise AssertionError(f"the serving dataset has only {len(chosen)} citizens the department would accept")


def build_served_market(app, citizens: int) -> tuple[int, list[tuple[int, str]]]:
    """The demo's base and 卡宝 certified and published; ``citizens`` password citizens who consented to share
    their name, resident ID and phone with it. Returns (app id, [(user id, email)])."""
    from core.auth import SYSTEM
    from core.extensions import db
    from core.time import utcnow
    from marketplace.accounts import services as accounts
    from marketplace.demo.apps import seed_apps
    from marketplace.demo.base import seed_base
    from marketplace.demo.timeline import timeline
    from marketplace.identity import services as identity
    from marketplace.transactions.services import published_version

    with app.app_context():
        seed_base(timeline(utcnow()))
        made = seed_apps(lambda *a, **k: None, only={SAMPLE},
                         bundle_cache=Path(os.environ.get("TMPDIR", "/tmp")) / "govmarket-test-bundles")
        app_id = made[SAMPLE].id
        assert published_version(app_id) is not None, f"{SAMPLE} was not certified and published"
        users = []
        for i, person in enumerate(eligible_citizens(citizens)):
            user = accounts.user_create(SYSTEM, email=f"load{i}@citizens.example.cn", display_name=person["name"],
                                        role="citizen", password=PASSWORD, resident_id=person["resident_id"])
            # Everything the app asks for: its identity claims and the department fields it declares (#12).
            identity.consent_grant(user, app_id, identity.consent_status(user, app_id).requested)
            users.append((user.id, user.email))
        db.session.remove()
        return app_id, users


def test_concurrent_citizens_use_an_app_and_rate_it_without_errors_or_lost_writes(fresh_database_url, tmp_path):
    require_bwrap()
    from core.extensions import db
    from marketplace.transactions.models import Transaction

    # The department accepts, reviews and decides each case on its own clock (#13): here a day passes in 0.1 s.
    app = make_app(fresh_database_url, tmp_path, WTF_CSRF_ENABLED=False, TESTING=False, QUEUE_MODE="inline",
                   APPS_DOMAIN=APPS_DOMAIN, DEPARTMENT_TIME_SCALE=1_000_000)
    upgrade(app)
    app_id, citizens = build_served_market(app, CITIZENS * ACCOUNTS_EACH)
    with served(app) as port:
        base = f"http://127.0.0.1:{port}"
        app_host = f"{SAMPLE}.{APPS_DOMAIN}:{port}"

        errors: list[str] = []
        server_errors = ServerErrors()
        latencies: dict[str, list[float]] = {}
        acknowledged: list[str] = []  # platform case numbers whose rating the server acknowledged
        completed: list[str] = []
        exhausted: list[int] = []  # clients that ran out of fresh citizens before the end
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
                    latencies.setdefault(what, []).append(time.monotonic() - started)
            status = getattr(result, "status_code", None)
            if expect is not None and status not in expect:
                with lock:
                    errors.append(f"{what}: HTTP {status}: {result.text[:300]}")
                return None
            return result

        def platform_case(department_case_number: str) -> tuple[str, str] | None:
            # The test's own bookkeeping: which platform case the department's decision completed.
            with app.app_context():
                row = db.session.execute(sa.select(Transaction.case_number, Transaction.status).where(
                    Transaction.department_case_number == department_case_number)).first()
                db.session.remove()
                return tuple(row) if row else None

        def browse(web: requests.Session) -> None:
            timed("catalogue", lambda: web.get(f"{base}/services", timeout=30), {200})
            timed("app page", lambda: web.get(f"{base}/services/apps/{SAMPLE}", timeout=30), {200})

        def use_and_rate(index: int, n: int, email: str) -> None:
            """One citizen's visit: log in, browse, open the app, apply in it, rate the completed case."""
            web = requests.Session()  # the platform's origin
            on_app = requests.Session()  # the app's origin (its own cookie jar, as in a browser)
            on_app.headers["Host"] = app_host
            login = timed("login", lambda: web.post(f"{base}/login", data={"email": email, "password": PASSWORD},
                                                    allow_redirects=False, timeout=30), {302})
            if login is None:
                return
            browse(web)
            launched = timed("launch", lambda: web.post(f"{base}/apps/{SAMPLE}/launch", allow_redirects=False,
                                                        timeout=30), {303})
            if launched is None:
                return
            target = urlsplit(launched.headers["Location"])
            if target.path != "/_gateway/launch":
                with lock:
                    errors.append(f"launch: sent to {launched.headers['Location']}, not to the app")
                return
            entered = timed("enter app", lambda: on_app.get(f"{base}{target.path}?{target.query}",
                                                            allow_redirects=False, timeout=30), {303})
            if entered is None:
                return
            # The gateway's cookie is __Host-, Secure: browsers send it to http://*.localhost (a secure origin),
            # Python's cookie jar only over https, so this client sends it as a browser would.
            on_app.headers["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in entered.cookies)
            timed("app home", lambda: on_app.get(f"{base}/", timeout=60), {200})
            body = {"mailing_address": f"上海市徐汇区负载路 {index}-{n} 号",
                    "materials": ["application_form", "id_card", "photo"]}
            applied = timed("apply in app", lambda: on_app.post(f"{base}/applications", json=body, timeout=60), {200, 201})
            if applied is None:
                return
            answer = applied.json()
            if answer.get("status") != "accepted":
                with lock:
                    errors.append(f"apply in app: {answer}")
                return
            case, decided_by = platform_case(answer["case_number"]), time.monotonic() + 20
            while (case is None or case[1] != "completed") and time.monotonic() < decided_by:
                time.sleep(0.5)  # the department decides on its next tick
                case = platform_case(answer["case_number"])
            if case is None or case[1] != "completed":
                with lock:
                    errors.append(f"the decision on {answer['case_number']} did not complete a case: {case}")
                return
            with lock:
                completed.append(case[0])
            form = {"stars": 1 + (n % 5), "comment": f"load {index}/{n}",
                    **{d: 1 + ((n + i) % 5) for i, d in enumerate(DIMENSIONS)}}
            rated = timed("rate", lambda: web.post(f"{base}/my/cases/{case[0]}/rating", data=form,
                                                   allow_redirects=False, timeout=30), {302})
            if rated is not None:
                with lock:
                    acknowledged.append(case[0])
            timed("my cases", lambda: web.get(f"{base}/my/cases", timeout=30), {200})

        def client(index: int, emails: list[str]) -> None:
            n = 0
            while time.monotonic() < deadline and emails:
                n += 1
                use_and_rate(index, n, emails.pop())
            if time.monotonic() < deadline:  # out of fresh citizens: keep browsing until the time is up
                with lock:
                    exhausted.append(index)
                web = requests.Session()
                while time.monotonic() < deadline:
                    browse(web)

        emails = [email for _uid, email in citizens]
        threads = [threading.Thread(target=client, args=(i, emails[i::CITIZENS])) for i in range(CITIZENS)]
        logging.getLogger().addHandler(server_errors)
        started = time.monotonic()
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=SECONDS + 120)
            elapsed = time.monotonic() - started
        finally:
            logging.getLogger().removeHandler(server_errors)

    operations = sum(len(v) for v in latencies.values())
    every = [x for v in latencies.values() for x in v]
    print(f"\nload on {db_name(fresh_database_url)}: {CITIZENS} citizens using {SAMPLE} through the gateway, "
          f"{elapsed:.1f} s, {operations} operations, {operations / elapsed:.1f} ops/s, p95 {p95(every) * 1000:.0f} ms, "
          f"{len(completed)} cases completed, {len(acknowledged)} ratings acknowledged, {len(exhausted)} clients ran "
          f"out of fresh citizens; p95 per step: "
          + ", ".join(f"{k} {p95(v) * 1000:.0f} ms" for k, v in latencies.items()))
    assert not any(t.is_alive() for t in threads), "a citizen thread hung"
    assert errors == [], f"{len(errors)} errors, first: {errors[:5]}; the server logged: {server_errors.records[:3]}"
    assert len(completed) >= CITIZENS, "the load produced almost no cases"
    assert len(acknowledged) == len(completed)

    from billing.models import UsageEvent
    from marketplace.ratings.models import Rating

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
        from marketplace.citizen.statistics import kept_statistics, raw_statistics

        kept, raw = kept_statistics(), raw_statistics()
        assert kept == raw
        assert kept[0][app_id]["completed"] == len(done)
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
