"""Instances started ahead of a citizen's first request (marketplace/gateway/warm.py), and the page a browser sees
while an app that is not running starts (marketplace/gateway/origin.py): with the echo app of test_gateway.py,
served in the bubblewrap sandbox."""

from __future__ import annotations

import time

from core.time import utcnow
from tests.marketplace import test_gateway
from tests.marketplace.test_gateway import APPS, enter, on_app

# The published echo app and its citizen, and the registry stopped at the module's end (test_gateway's fixtures).
gw, served_registry, ssc_ok = test_gateway.gw, test_gateway.served_registry, test_gateway.ssc_ok

NAVIGATE = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", "Sec-Fetch-Mode": "navigate"}


def _registry(app):
    from marketplace.gateway import instances

    return instances.registry(app)


def _stopped(app, slug="echo"):
    registry = _registry(app)
    registry.keep_warm(())
    deadline = time.monotonic() + 10
    while registry.instance(slug) is not None:  # a response's lease ends once its body is closed
        registry.stop_idle(now=time.monotonic() + 10 * registry.idle_seconds)
        assert time.monotonic() < deadline, registry.running()
        time.sleep(0.05)


def _second_app(app, world, gw):
    """Another published app ('echo2', the same bundle) with two cases this month."""
    from core.extensions import db
    from marketplace.accounts.models import User
    from marketplace.transactions.models import Transaction
    from marketplace.vendors import services as vendors
    from marketplace.vendors.models import App, AppVersion

    echo = db.session.get(App, gw["app_id"])
    other = vendors.app_create(db.session.get(User, world.ids["vendor_a"]), order_id=echo.order_id, name="Echo 2",
                               slug="echo2")
    first = db.session.get(AppVersion, gw["version_id"])
    db.session.add(AppVersion(app_id=other.id, version="1.0.0", bundle_sha256=first.bundle_sha256,
                              bundle_size=first.bundle_size, approved_at=utcnow(), published_at=utcnow()))
    order = echo.order
    for n in range(2):
        db.session.add(Transaction(case_number=f"WARM-{n}", app_id=other.id, citizen_id=gw["citizen_id"],
                                   order_id=order.id, service_item_id=order.service_item_id, started_at=utcnow()))
    db.session.commit()
    return other


def test_the_pool_chooses_the_most_used_published_apps_this_process_serves(app, world, gw):
    from marketplace.gateway.warm import WarmPool

    _second_app(app, world, gw)
    pool = WarmPool(app, _registry(app), limit=8)
    wanted = pool.wanted()
    assert [s.key for s in wanted] == ["echo2", "echo"], "most cases first"
    assert wanted[1].version_id == gw["version_id"] and wanted[1].audience == f"http://echo.{APPS}", \
        "the origin the gateway names for a request: the instance is the one a request asks for"
    assert [s.key for s in WarmPool(app, _registry(app), limit=1).wanted()] == ["echo2"]
    assert WarmPool(app, _registry(app), limit=0).wanted() == []
    assert [s.key for s in WarmPool(app, _registry(app), limit=8, owns=lambda slug: slug == "echo").wanted()] == ["echo"]


def test_a_suspended_version_is_not_started_ahead(app, gw):
    from core.extensions import db
    from marketplace.gateway.warm import WarmPool
    from marketplace.vendors.models import AppVersion

    assert [s.key for s in WarmPool(app, _registry(app), limit=8).wanted()] == ["echo"]
    db.session.get(AppVersion, gw["version_id"]).suspended_at = utcnow()
    db.session.commit()
    assert WarmPool(app, _registry(app), limit=8).wanted() == []


def test_the_first_request_finds_the_instance_started_ahead_and_it_stays_when_idle(app, client, gw):
    from marketplace.gateway.warm import WarmPool

    _stopped(app)
    registry = _registry(app)
    pool = WarmPool(app, registry, limit=8)  # tests run with SERVING_WARM_APPS=0 (tests/conftest.py)
    assert pool.warm_once() == ["echo"]
    ahead = registry.instance("echo")
    assert ahead is not None and ahead.alive()
    assert pool.warm_once() == [], "running already"
    enter(client)
    started = time.perf_counter()
    response = on_app(client, "/", headers=NAVIGATE)
    assert response.status_code == 200 and response.json["path"] == "/"
    response.close()
    assert time.perf_counter() - started < 5 and registry.instance("echo") is ahead, "no start on the request"
    assert registry.stop_idle(now=time.monotonic() + 10 * registry.idle_seconds) == [], "kept though idle"
    _stopped(app)


def test_a_browser_sees_the_starting_page_until_the_app_answers_and_scripts_wait(app, client, gw, monkeypatch):
    from marketplace.gateway import host_dispatch

    enter(client)
    _stopped(app)
    monkeypatch.setattr(host_dispatch(app).origin, "starting_page_seconds", 0.001)
    page = on_app(client, "/", headers=NAVIGATE)
    assert page.status_code == 503 and page.headers["Retry-After"] == "1"
    html = page.get_data(as_text=True)
    assert 'id="govmarket-starting"' in html and '<meta http-equiv="refresh" content="0">' in html
    assert "正在打开“Echo”" in html and "Opening Echo" in html
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert page.headers["Cache-Control"] == "no-store"
    deadline = time.monotonic() + 120
    while page.status_code == 503:  # what the page's refresh does
        assert time.monotonic() < deadline, "the app never replaced the starting page"
        time.sleep(0.2)
        page = on_app(client, "/", headers=NAVIGATE)
    assert page.status_code == 200 and page.json["path"] == "/"
    page.close()
    # A script's request (not a navigation) is never answered with the page: it waits for the start.
    _stopped(app)
    fetched = on_app(client, "/", headers={"Accept": "*/*", "Sec-Fetch-Mode": "cors"})
    assert fetched.status_code == 200 and fetched.json["path"] == "/"
    fetched.close()
    _stopped(app)
    posted = on_app(client, "/", method="POST", data=b"{}", headers=NAVIGATE)
    assert posted.status_code == 200 and posted.json["method"] == "POST"
    posted.close()


def test_a_start_within_the_wait_shows_the_app_without_the_page(app, client, gw, monkeypatch):
    from marketplace.gateway import host_dispatch

    assert host_dispatch(app).origin.starting_page_seconds == app.config["GATEWAY_STARTING_PAGE_SECONDS"] == 1.0
    monkeypatch.setattr(host_dispatch(app).origin, "starting_page_seconds", 120.0)
    enter(client)
    _stopped(app)
    page = on_app(client, "/", headers=NAVIGATE)
    assert page.status_code == 200 and page.json["path"] == "/"
    page.close()


def test_a_web_process_serving_apps_itself_starts_its_pool_with_its_first_request(app, monkeypatch):
    from marketplace import gateway
    from marketplace.gateway import warm

    started = []
    monkeypatch.setattr(warm.WarmPool, "start", lambda self: started.append(self))
    monkeypatch.delitem(app.extensions, gateway.WARM_POOL, raising=False)
    start = gateway._warm_pool_starter(app)
    start()
    start()
    assert len(started) == 1 and app.extensions[gateway.WARM_POOL] is started[0]
    monkeypatch.delitem(app.extensions, gateway.WARM_POOL)


def test_a_serving_process_whose_deps_folder_cannot_be_written_installs_at_every_start(app, tmp_path, caplog):
    from marketplace.gateway.instances import _deps_cache

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert _deps_cache({"SERVING_DEPS_CACHE": str(blocked / "serving-deps")}) is None
    assert "not kept between starts" in caplog.text
    assert _deps_cache({"SERVING_DEPS_CACHE": "off"}) is None
    kept = _deps_cache({"SERVING_DEPS_CACHE": str(tmp_path / "kept")})
    assert kept is not None and kept.root == tmp_path / "kept"
