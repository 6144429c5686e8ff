"""The shared cache's circuit breaker (core/cache.py): after a failure Redis is skipped for the cooldown, then one
operation tries it; once a write was lost nothing uses Redis until the kept entries were cleared."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError

from core.cache import Breaker


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_failure_skips_redis_for_the_cooldown_then_one_operation_tries_again():
    clock = Clock()
    breaker = Breaker(cooldown=5, clock=clock)
    assert breaker.allow() and breaker.state() == {"state": "ok"}
    assert breaker.failed(RedisConnectionError("refused"), write=False) is False
    assert not breaker.allow(), "skipped during the cooldown"
    assert breaker.state()["state"] == "unavailable" and "refused" in breaker.state()["error"]
    clock.now += 5
    assert breaker.allow(), "one trial after the cooldown"
    assert not breaker.allow(), "only one at a time"
    breaker.failed(RedisConnectionError("still refused"), write=False)
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()
    breaker.succeeded()
    assert breaker.allow() and breaker.allow() and breaker.state() == {"state": "ok"}


def test_a_lost_write_keeps_redis_unused_until_the_kept_entries_are_cleared():
    clock = Clock()
    breaker = Breaker(cooldown=5, clock=clock)
    assert breaker.failed(RedisConnectionError("refused"), write=True) is True, "the first lost write starts recovery"
    assert breaker.lost_write() is False, "later ones do not start another"
    clock.now += 60
    assert not breaker.allow(), "however long ago: Redis may hold entries a lost invalidation should have ended"
    assert breaker.state()["clearing_before_use"] is True
    breaker.recovered()
    assert breaker.allow() and breaker.state() == {"state": "ok"}
