"""The catalogue's kept statistics follow every write of a case or a rating, can be rebuilt from the raw rows by
an operator, and let an item page answer in a fixed number of queries however many apps and ratings it shows."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from core.auth import SYSTEM
from core.extensions import db
from core.ids import uscc_check_char
from core.time import utcnow
from tests.marketplace.citizen_world import *  # noqa: F403  (the `market` fixture)
from tests.marketplace.citizen_world import publish
from tests.marketplace.webpages import text

DIMS = {"tangibility": 4, "reliability": 5, "responsiveness": 4, "assurance": 5, "empathy": 3}


def kept_and_raw():
    from marketplace.citizen.statistics import kept_statistics, raw_statistics

    return kept_statistics(), raw_statistics()


def kept_app(app) -> dict:
    (apps, _items), _raw = kept_and_raw()
    return apps.get(app.id, {})


def assert_in_step():
    kept, raw = kept_and_raw()
    assert kept == raw, "the kept statistics differ from a recomputation from the raw rows"


def handled(citizen, app_, minutes: int, decision: str = "accepted"):
    """A case of ``citizen`` with ``app_`` started ``minutes`` ago and decided now."""
    from marketplace.transactions import services as transactions

    now = utcnow()
    txn = transactions.transaction_start(citizen, app_.id, occurred_at=now - timedelta(minutes=minutes))
    return transactions.transaction_record_submission(txn.id, department_case_number=f"DEPT-{txn.id}",
                                                      decision=decision, occurred_at=now)


def rate(citizen, txn, stars, **kw):
    from marketplace.ratings import services

    return services.rating_create(citizen, txn.id, stars=stars, dimensions=kw.pop("dimensions", DIMS),
                                  comment="", **kw)


def test_completions_count_for_app_and_item_with_the_median_handling_time(market):
    app_a, app_b = market.apps["a"], market.apps["b"]
    for minutes in (10, 20, 60):
        handled(market.citizen(f"m{minutes}"), app_a, minutes)
    market.complete(market.citizen("rejected"), app_a, decision="rejected")
    market.complete(market.citizen("b1"), app_b)
    stats = kept_app(app_a)
    assert stats["completed"] == 3, "a rejected case is not a completed one"
    assert 20 * 60 <= stats["median_handling_seconds"] <= 20 * 60 + 5
    (_apps, items), _raw = kept_and_raw()
    assert items[app_a.order.service_item_id] == {"completed": 4}
    assert_in_step()


def test_every_rating_write_keeps_the_figures_in_step(market, world):
    from marketplace.accounts.models import User
    from marketplace.ratings import services
    from marketplace.ratings.services import DEVICE_ACCOUNTS, device_fingerprint

    app_a = market.apps["a"]
    admin = db.session.get(User, world.ids["admin"])
    first = rate(market.citizens["citizen"], market.complete(market.citizens["citizen"], app_a), 4)
    stats = kept_app(app_a)
    assert (stats["ratings"], stats["stars_sum"], stats["stars_4"], stats["empathy_sum"]) == (1, 4, 1, 3)
    services.rating_update(market.citizens["citizen"], first.id, stars=2, dimensions={**DIMS, "empathy": 1})
    stats = kept_app(app_a)
    assert (stats["ratings"], stats["stars_sum"], stats["stars_2"], stats["stars_4"], stats["empathy_sum"]) == \
        (1, 2, 1, 0, 1), "an edit replaces the rating's stars and dimensions"
    assert_in_step()

    second = rate(market.citizen("two"), market.complete(market.citizen("two"), app_a), 5)
    assert kept_app(app_a)["ratings"] == 2
    services.rating_flag(market.citizen("reporter"), second.id, "looks fake")
    assert kept_app(app_a)["ratings"] == 2, "a flagged rating keeps counting until a moderator hides it"
    services.rating_review_resolve(admin, second.id, "checked: genuine")
    assert kept_app(app_a)["ratings"] == 2, "a cleared rating still counts"
    services.rating_hide(admin, second.id, "辱骂性语言")
    stats = kept_app(app_a)
    assert (stats["ratings"], stats["stars_5"]) == (1, 0), "a hidden rating does not count"
    assert_in_step()

    # A same-device cluster puts earlier ratings under review too: the signal writes other ratings than the new one.
    device = device_fingerprint("Mozilla/5.0 Phone", "10.1.2.3")
    for i in range(DEVICE_ACCOUNTS):
        citizen = market.citizen(f"sock{i}")
        rate(citizen, market.complete(citizen, app_a), 5, device_hash=device)
        assert_in_step()
    assert kept_app(app_a)["ratings"] == 1 + DEVICE_ACCOUNTS, "signalled ratings count until a moderator hides them"


def test_the_page_reads_the_kept_figures(client, market):
    from marketplace.citizen.models import AppStatistics

    app_a = market.apps["a"]
    rate(market.citizens["citizen"], market.complete(market.citizens["citizen"], app_a), 5)
    page = text(client.get("/services/apps/app-a?lang=en"))
    assert "1 rating" in page
    # The page shows what the statistics row says (an operator's rebuild is what repairs a wrong row).
    db.session.execute(sa.update(AppStatistics).where(AppStatistics.app_id == app_a.id)
                       .values(ratings=7, stars_5=7, stars_sum=35, completed=41))
    db.session.commit()
    page = text(client.get("/services/apps/app-a?lang=en"))
    assert "7 ratings" in page and "<dd>41</dd>" in page


def test_rebuild_command_recomputes_from_the_raw_rows(app, market):
    from marketplace.citizen.models import AppStatistics, ServiceItemStatistics

    app_a, app_b = market.apps["a"], market.apps["b"]
    for name, app_ in (("r1", app_a), ("r2", app_a), ("r3", app_b)):
        citizen = market.citizen(name)
        rate(citizen, market.complete(citizen, app_), 3 if app_ is app_b else 5)
    market.complete(market.citizen("unrated"), app_b)
    kept, raw = kept_and_raw()
    assert kept == raw
    # Damage them the way a bulk import that bypasses the services would leave them.
    db.session.execute(sa.update(AppStatistics).where(AppStatistics.app_id == app_a.id).values(completed=99))
    db.session.execute(sa.delete(AppStatistics).where(AppStatistics.app_id == app_b.id))
    db.session.execute(sa.delete(ServiceItemStatistics))
    db.session.commit()
    runner = app.test_cli_runner()
    check = runner.invoke(args=["statistics", "check"])
    assert check.exit_code == 1
    assert f"app {app_a.id}: kept" in check.output and f"app {app_b.id}: kept None" in check.output
    assert "3 statistics differ" in check.output
    result = runner.invoke(args=["statistics", "rebuild"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ("rebuilt statistics of 2 apps and 1 service items: "
                                     "4 completed cases, 3 counted ratings")
    assert kept_and_raw()[0] == raw
    check = runner.invoke(args=["statistics", "check"])
    assert check.exit_code == 0 and "match the raw rows" in check.output


def uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


def _count_queries(client, path: str, *, cold: bool = True) -> int:
    """The queries of one request for ``path``; ``cold``: with the kept catalogue pages forgotten (what rendering
    the page costs), else as a warm request (marketplace/citizen/page_cache.py)."""
    from core.extensions import cache

    statements = []
    if cold:
        cache.clear()

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    # As in a real request, nothing is in the session yet: a lazy load per app cannot hide in the identity map.
    db.session.commit()
    db.session.expunge_all()
    engine = db.session.get_bind().engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(path)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(statements)


ITEM_PAGE_QUERY_BOUND = 14


def test_item_page_queries_do_not_grow_with_apps_and_ratings(client, market, world):
    from marketplace.vendors import services as vendors
    from marketplace.vendors.models import App

    def busy(app_id, n):
        app_ = db.session.get(App, app_id)  # by id: counting queries empties the session
        for i in range(n):
            citizen = db.session.merge(market.citizen(f"{app_.slug}-{i}"))
            rate(citizen, handled(citizen, app_, i + 1), 1 + i % 5, now=utcnow() + timedelta(hours=i))

    app_a, app_b = market.apps["a"].id, market.apps["b"].id
    busy(app_a, 1)
    small = _count_queries(client, "/services/items/item-a")
    for n in range(4):
        # Each from a vendor of its own: a vendor loaded per app would show as a query per app.
        vendor = vendors.vendor_create(SYSTEM, name=f"Extra vendor {n}",
                                       credit_code=uscc(f"91310000MA1EX{n:03d}0"))
        extra = App(vendor_id=vendor.id, order_id=world.ids["order_a"], name=f"Extra {n}", slug=f"extra-{n}")
        db.session.add(extra)
        db.session.commit()
        publish(extra)
        busy(extra.id, 3)
    busy(app_b, 4)
    body = text(client.get("/services/items/item-a"))
    assert body.count('class="app-card"') == 6
    large = _count_queries(client, "/services/items/item-a")
    assert large == small, f"{small} queries with 2 apps but {large} with 6: something is loaded per app"
    assert large <= ITEM_PAGE_QUERY_BOUND
    # Warm, an anonymous visitor's item page and search read nothing: the kept parts serve them.
    assert _count_queries(client, "/services/items/item-a", cold=False) == 0
    _count_queries(client, "/services/search?q=licence")
    assert _count_queries(client, "/services/search?q=licence", cold=False) == 0


def test_concurrent_completions_and_ratings_lose_no_count(fresh_database_url, tmp_path):
    """Citizens completing and rating cases of one app at the same moment, each in its own database transaction
    (real commits, threads released together): every completion and every rating is counted."""
    import threading

    from marketplace.accounts.models import User
    from marketplace.citizen.models import AppStatistics, ServiceItemStatistics
    from marketplace.ratings import services as ratings
    from marketplace.transactions import services as transactions
    from tests.conftest import make_app, upgrade
    from tests.faults.conftest import build_market

    threads_n, rounds = 6, 4
    app = make_app(fresh_database_url, tmp_path, QUEUE_MODE="inline")
    upgrade(app)
    with app.app_context():
        market = build_market(threads_n)
    start = threading.Barrier(threads_n)
    errors: list[str] = []

    def citizen(index: int, user_id: int) -> None:
        for n in range(rounds):
            start.wait(timeout=60)
            try:
                with app.app_context():
                    user = db.session.get(User, user_id)
                    txn = transactions.transaction_start(user, market.app_id)
                    done = transactions.transaction_record_submission(
                        txn.id, department_case_number=f"RACE-{index}-{n}", decision="accepted")
                    ratings.rating_create(user, done.id, stars=1 + (index + n) % 5, dimensions=DIMS,
                                          now=utcnow() - timedelta(hours=index * rounds + n))
            except Exception as exc:  # every failure is a failure of the test
                errors.append(f"citizen {index} round {n}: {exc.__class__.__name__}: {exc}")

    workers = [threading.Thread(target=citizen, args=(i, uid)) for i, (uid, _email) in enumerate(market.citizens)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert errors == []
    with app.app_context():
        row = db.session.get(AppStatistics, market.app_id)
        assert (row.completed, row.ratings) == (threads_n * rounds, threads_n * rounds)
        assert db.session.scalar(sa.select(ServiceItemStatistics.completed)) == threads_n * rounds
        assert_in_step()
        db.engine.dispose()


def test_the_migration_fills_the_statistics_of_the_cases_and_ratings_already_recorded(fresh_database_url, tmp_path):
    import flask_migrate

    from marketplace.accounts.models import User
    from marketplace.citizen.statistics import kept_statistics, raw_statistics
    from marketplace.ratings import services as ratings
    from marketplace.transactions import services as transactions
    from tests.conftest import make_app, upgrade
    from tests.faults.conftest import build_market

    app = make_app(fresh_database_url, tmp_path, QUEUE_MODE="inline")
    upgrade(app)
    with app.app_context():
        market = build_market(3)
        for index, (user_id, _email) in enumerate(market.citizens):
            user = db.session.get(User, user_id)
            for n in range(index + 1):
                started = utcnow() - timedelta(hours=10 * (index + 1) + n)
                txn = transactions.transaction_start(user, market.app_id, occurred_at=started)
                done = transactions.transaction_record_submission(
                    txn.id, department_case_number=f"MIG-{index}-{n}", decision="accepted",
                    occurred_at=started + timedelta(minutes=7 * (n + 1)))
                ratings.rating_create(user, done.id, stars=2 + index, dimensions=DIMS,
                                      now=utcnow() - timedelta(days=index + 3, hours=n))
        expected = raw_statistics()
        assert expected[0][market.app_id]["completed"] == 6 and expected[0][market.app_id]["ratings"] == 6
        db.session.remove()
        # Back to before the statistics existed, then forward: the migration computes them from the rows.
        flask_migrate.downgrade(revision="citizen_0001")
        assert "app_statistics" not in sa.inspect(db.engine).get_table_names()
        flask_migrate.upgrade(revision="heads")
        assert kept_statistics() == expected
        db.session.remove()
        db.engine.dispose()


def test_a_new_rating_adds_its_share_without_reading_the_apps_ratings(market, world):
    """The common rating write stays cheap on an app with many ratings: a new rating adds its own share. Changes
    of existing ratings (moderation, edits) recompute the app from the rows, which concurrent writers cannot
    make count twice."""
    from marketplace.accounts.models import User
    from marketplace.ratings import services

    app_a = market.apps["a"]
    written = [rate(c, handled(c, app_a, 5), 3, now=utcnow() - timedelta(hours=i))
               for i, c in enumerate(market.citizen(f"many{i}") for i in range(4))]
    txn = handled(market.citizen("many4"), app_a, 5)

    def statements_of(call) -> list[str]:
        statements = []

        def note(_conn, _cursor, statement, *_args):
            statements.append(statement)

        engine = db.session.get_bind().engine
        sa.event.listen(engine, "before_cursor_execute", note)
        try:
            call()
        finally:
            sa.event.remove(engine, "before_cursor_execute", note)
        return statements

    def aggregates(statements):
        return [s for s in statements if "FROM ratings" in s and "GROUP BY" in s]

    created = statements_of(lambda: rate(market.citizen("many4"), txn, 5, now=utcnow() - timedelta(hours=9)))
    assert aggregates(created) == [], "the app's ratings were re-aggregated for one new rating"
    assert any("UPDATE app_statistics" in s for s in created)
    hidden = statements_of(lambda: services.rating_hide(db.session.get(User, world.ids["admin"]), written[0].id,
                                                        "spam"))
    assert len(aggregates(hidden)) == 1
    services.rating_update(market.citizen("many1"), written[1].id, stars=1, dimensions=DIMS)
    stats = kept_app(app_a)
    assert (stats["ratings"], stats["stars_sum"], stats["stars_1"], stats["stars_3"], stats["stars_5"]) == \
        (4, 12, 1, 2, 1)
    assert_in_step()


def test_catalogue_pages_revalidate_and_change_with_exactly_their_writes(client, market, world):
    """The kept item page (marketplace/citizen/page_cache.py): ETag and Last-Modified, 304 while nothing changed,
    a new page after a rating of one of its apps; a publication for another item leaves it alone."""
    from marketplace.vendors import services as vendors
    from marketplace.vendors.models import App

    first = client.get("/services/items/item-a")
    etag = first.headers["ETag"]
    assert first.status_code == 200 and first.headers["Cache-Control"] == "private, no-cache" and first.last_modified
    assert 'name="csrf_token" value="' in text(first) and "__govmarket_csrf_token__" not in text(first)
    again = client.get("/services/items/item-a", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert client.get("/services/items/item-a", headers={"If-Modified-Since": first.headers["Last-Modified"]}
                      ).status_code == 304

    etag_b = client.get("/services/items/item-b").headers["ETag"]
    vendor = vendors.vendor_create(SYSTEM, name="Other vendor", credit_code=uscc("91310000MA1EX0100"))
    other = App(vendor_id=vendor.id, order_id=world.ids["order_b"], name="Other item's app", slug="other-b")
    db.session.add(other)
    db.session.commit()
    publish(other)
    assert client.get("/services/items/item-a", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/services/items/item-b", headers={"If-None-Match": etag_b}).status_code == 200

    citizen = db.session.merge(market.citizen("cache-1"))
    rate(citizen, handled(citizen, db.session.get(App, market.apps["a"].id), 5), 5)
    changed = client.get("/services/items/item-a", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.last_modified >= first.last_modified
