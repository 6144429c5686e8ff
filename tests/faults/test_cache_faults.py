"""Redis, the shared cache (core/cache.py), unreachable under a running platform: proxied requests and catalogue
pages are answered from the database and by rendering, without waiting for Redis on every request; a consent
revoked meanwhile is not undone by what Redis kept from before once it is back; /healthz and /metrics say so.

A private redis-server (tests/faults/conftest.py) is stopped and started again; the shared one is never touched."""

from __future__ import annotations

import socket
import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.marketplace.conftest import held_jobs, world  # noqa: F401 - fixtures of the gateway tests
from tests.marketplace.test_gateway import citizen_of, enter, gw, on_app, served_registry, ssc_ok  # noqa: F401

pytestmark = [pytest.mark.redis, pytest.mark.bwrap]
COOLDOWN = 0.5


def use_redis(app, url: str):
    """Give the app the production cache on ``url`` (as init_cache does with RedisCache); returns the undo."""
    from core.extensions import cache

    saved = app.extensions["cache"][cache]
    cache.init_app(app, config={"CACHE_TYPE": "core.cache.ResilientRedisCache", "CACHE_REDIS_URL": url,
                                "CACHE_KEY_PREFIX": "govmarket-faults:", "CACHE_OPTIONS": {"cooldown": COOLDOWN}})

    def undo():
        app.extensions["cache"][cache] = saved
    return undo


@pytest.fixture
def private_cache(app, private_redis):
    undo = use_redis(app, private_redis.url)
    yield private_redis
    undo()


def claims_seen(client) -> dict:
    from marketplace.identity import keys

    response = on_app(client, "/")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    token = response.json["headers"]["Authorization"].removeprefix("Bearer ")
    return jwt.decode(token, KeySet.import_key_set(keys.jwks())).claims


def wait_until(check, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.1)


def test_with_redis_stopped_the_gateway_and_catalogue_answer_and_nothing_stale_comes_back(app, client, gw,  # noqa: F811
                                                                                          private_cache):
    from redis import Redis
    from redis.exceptions import BusyLoadingError

    from marketplace.gateway import services as gateway
    from marketplace.identity import services as identity

    redeemed, _target = enter(client)
    token = redeemed.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]

    def consented() -> dict:
        """The claims the gateway holds for the session (the identity and department tokens come from them)."""
        return gateway.gateway_session_claims(gateway.served_app_cached("echo"), token).claims

    assert claims_seen(client)["name"] == gw["name"] and consented() == {"name": gw["name"]}
    assert client.get("/services/items/item-a").status_code == 200
    kept = Redis.from_url(private_cache.url)
    assert kept.keys("govmarket-faults:gw:session:*"), "the warm path is kept in Redis"
    assert client.get("/healthz").json["cache"]["state"] == "ok"

    private_cache.stop()
    assert claims_seen(client)["name"] == gw["name"], "answered from the database"
    page = client.get("/services/items/item-a")
    assert page.status_code == 200 and "csrf_token" in page.get_data(as_text=True), "rendered without the cache"
    assert "ETag" not in page.headers, "no validator that a later request could be answered 304 with"
    health = client.get("/healthz").json["cache"]
    assert health["state"] == "unavailable" and "Connection" in health["error"]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "govmarket_cache_outages_total" in metrics and "govmarket_cache_bypassed_total" in metrics

    # Revoked while Redis is down: its invalidation cannot be written, and Redis comes back with the entry that
    # still holds the name (append-only file). That entry must never be used.
    identity.consent_revoke(citizen_of(gw), gw["app_id"])
    assert consented() == {} and "name" not in claims_seen(client)
    private_cache.start()

    def loaded() -> bool:
        try:
            return bool(kept.ping())
        except BusyLoadingError:  # still reading its append-only file (the cache takes that as down too)
            return False
    wait_until(loaded)
    assert kept.keys("govmarket-faults:gw:session:*"), "Redis is back with what it kept before the outage"

    def back_without_stale_claims() -> bool:
        assert consented() == {}, "nothing kept from before the outage is used"
        return client.get("/healthz").json["cache"]["state"] == "ok"
    wait_until(back_without_stale_claims)
    assert consented() == {} and "name" not in claims_seen(client)
    assert kept.keys("govmarket-faults:gw:session:*"), "and the cache is used again"


def test_a_redis_that_does_not_answer_is_waited_for_once_per_cooldown_not_per_request(app, client, gw):  # noqa: F811
    # A port that accepts connections and never answers: every Redis call would wait its full socket timeout.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        undo = use_redis(app, f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        try:
            enter(client)
            started = time.monotonic()
            for _ in range(10):
                assert claims_seen(client)["name"] == gw["name"]
            elapsed = time.monotonic() - started
        finally:
            undo()
    # Without the breaker: ~6 cache calls per request × 0.5 s each = 30 s. With it: one 0.5 s wait per cooldown.
    assert elapsed < 6, f"10 proxied requests took {elapsed:.1f} s with a silent Redis"
