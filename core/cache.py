"""The shared cache on Redis, degrading to "nothing kept" while Redis cannot be reached.

Everything kept in ``core.extensions.cache`` (the gateway's session claims, the catalogue's pages) is also read
from the database or rendered when missing, so an unreachable Redis must cost speed, not answers. This backend
(``CACHE_TYPE = "core.cache.ResilientRedisCache"``, what ``init_cache`` picks for Redis) answers every operation
as a miss while Redis fails — reads return nothing, writes keep nothing — behind a circuit breaker, so that only
one request in ``COOLDOWN_SECONDS`` waits for Redis's (short) timeouts, not each one.

An invalidation that could not be written (a generation renewed after a consent was revoked, a rating changed a
page) would let an entry written before the outage come back when Redis does. So once a write has failed, this
process trusts nothing it kept in Redis until it has cleared the cache's keys there: a background thread tries
every ``COOLDOWN_SECONDS`` and only then closes the breaker. (A process that dies in between leaves that clearing
undone; every web process that failed a write during the outage does it, and entries also end by their own time.)

State is per process, logged when it changes, counted in /metrics (``govmarket_cache_outages_total``,
``govmarket_cache_bypassed_total``) and shown by /healthz (``cache``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from flask_caching.backends.rediscache import RedisCache
from redis import from_url
from redis.exceptions import RedisError

from core import metrics

log = logging.getLogger(__name__)

COOLDOWN_SECONDS = 5.0  # how long every operation skips Redis after a failure, before one tries again
SOCKET_TIMEOUT_SECONDS = 0.5  # Redis answers in well under a millisecond; past this it counts as down
CLEAR_BATCH = 500


class Breaker:
    """Closed (use Redis), open (skip it) for ``cooldown`` after a failure, then one trial; ``dirty`` once a write was
    lost, which only ``recover`` (clearing the kept entries) ends."""

    def __init__(self, cooldown: float = COOLDOWN_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.cooldown = cooldown
        self.clock = clock
        self._lock = threading.Lock()
        self.opened_at: float | None = None
        self.trying = False
        self.dirty = False
        self.last_error = ""

    @property
    def open(self) -> bool:
        return self.opened_at is not None or self.dirty

    def allow(self) -> bool:
        """Whether this operation may use Redis (closed, or the one trial after the cooldown)."""
        with self._lock:
            if self.dirty:
                return False  # only the recovery thread talks to Redis until it has cleared the kept entries
            if self.opened_at is None:
                return True
            if self.trying or self.clock() - self.opened_at < self.cooldown:
                return False
            self.trying = True
            return True

    def succeeded(self) -> None:
        with self._lock:
            was_open, self.opened_at, self.trying = self.opened_at is not None, None, False
        if was_open:
            log.warning("cache: Redis answers again; using the shared cache")

    def failed(self, exc: Exception, *, write: bool) -> bool:
        """Record a failure; True when it newly opened the breaker or newly lost a write."""
        with self._lock:
            first = self.opened_at is None and not self.dirty
            self.opened_at, self.trying = self.clock(), False
            self.last_error = f"{exc.__class__.__name__}: {exc}"
            newly_dirty = write and not self.dirty
            self.dirty = self.dirty or write
        if first:
            metrics.CACHE_OUTAGES.inc()
            log.error("cache: Redis cannot be reached (%s); serving from the database for at least %g s",
                      self.last_error, self.cooldown)
        return newly_dirty

    def lost_write(self) -> bool:
        """A write skipped while open; True when it newly made the kept entries untrustworthy."""
        with self._lock:
            newly, self.dirty = not self.dirty, True
        return newly

    def recovered(self) -> None:
        with self._lock:
            self.dirty, self.opened_at, self.trying = False, None, False
        log.warning("cache: Redis answers again; the entries kept before the outage were cleared")

    def state(self) -> dict[str, Any]:
        with self._lock:
            if self.opened_at is None and not self.dirty:
                return {"state": "ok"}
            return {"state": "unavailable", "since_seconds": round(self.clock() - (self.opened_at or self.clock()), 1),
                    "error": self.last_error, "clearing_before_use": self.dirty}


class ResilientRedisCache(RedisCache):
    """Flask-Caching's RedisCache behind a ``Breaker``: a Redis failure is a miss, never an error."""

    def __init__(self, *args: Any, cooldown: float = COOLDOWN_SECONDS, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.breaker = Breaker(cooldown)
        self._recovery: threading.Thread | None = None
        self._recovery_lock = threading.Lock()

    @classmethod
    def factory(cls, app, config, args, kwargs):
        client = from_url(config["CACHE_REDIS_URL"], socket_timeout=SOCKET_TIMEOUT_SECONDS,
                          socket_connect_timeout=SOCKET_TIMEOUT_SECONDS, health_check_interval=30)
        return cls(client, key_prefix=config.get("CACHE_KEY_PREFIX"), **kwargs)

    def _guard(self, operation: Callable[[], Any], missed: Any, *, write: bool) -> Any:
        if not self.breaker.allow():
            metrics.CACHE_BYPASSED.inc()
            if write and self.breaker.lost_write():
                self._start_recovery()
            return missed
        try:
            result = operation()
        except RedisError as exc:
            metrics.CACHE_BYPASSED.inc()
            if self.breaker.failed(exc, write=write):
                self._start_recovery()
            return missed
        self.breaker.succeeded()
        return result

    # -- recovery after a lost write --------------------------------------------------------------
    def _start_recovery(self) -> None:
        with self._recovery_lock:
            if self._recovery is not None and self._recovery.is_alive():
                return
            self._recovery = threading.Thread(target=self._recover_loop, name="cache-recovery", daemon=True)
            self._recovery.start()

    def _recover_loop(self) -> None:
        while self.breaker.dirty:
            time.sleep(self.breaker.cooldown)
            try:
                self.clear_kept()
            except RedisError as exc:
                self.breaker.last_error = f"{exc.__class__.__name__}: {exc}"
                continue
            self.breaker.recovered()

    def clear_kept(self) -> int:
        """Delete every key under this cache's prefix (SCAN, not KEYS: Redis keeps answering others meanwhile)."""
        removed = 0
        batch: list[bytes] = []
        for key in self._write_client.scan_iter(match=f"{self.key_prefix}*", count=CLEAR_BATCH):
            batch.append(key)
            if len(batch) >= CLEAR_BATCH:
                removed += self._write_client.unlink(*batch)
                batch = []
        if batch:
            removed += self._write_client.unlink(*batch)
        return removed

    # -- the operations -----------------------------------------------------------------------------
    def get(self, key: str) -> Any:
        return self._guard(lambda: super(ResilientRedisCache, self).get(key), None, write=False)

    def get_many(self, *keys: str) -> list[Any]:
        return self._guard(lambda: super(ResilientRedisCache, self).get_many(*keys), [None] * len(keys), write=False)

    def has(self, key: str) -> bool:
        return self._guard(lambda: super(ResilientRedisCache, self).has(key), False, write=False)

    def set(self, key: str, value: Any, timeout: int | None = None) -> Any:
        return self._guard(lambda: super(ResilientRedisCache, self).set(key, value, timeout), False, write=True)

    def add(self, key: str, value: Any, timeout: int | None = None) -> Any:
        return self._guard(lambda: super(ResilientRedisCache, self).add(key, value, timeout), False, write=True)

    def set_many(self, mapping: dict[str, Any], timeout: int | None = None) -> Any:
        return self._guard(lambda: super(ResilientRedisCache, self).set_many(mapping, timeout), [], write=True)

    def delete(self, key: str) -> Any:
        return self._guard(lambda: super(ResilientRedisCache, self).delete(key), False, write=True)

    def delete_many(self, *keys: str) -> Any:
        return self._guard(lambda: super(ResilientRedisCache, self).delete_many(*keys), [], write=True)

    def inc(self, key: str, delta: int = 1) -> Any:
        return self._guard(lambda: super(ResilientRedisCache, self).inc(key, delta), None, write=True)

    def dec(self, key: str, delta: int = 1) -> Any:
        return self._guard(lambda: super(ResilientRedisCache, self).dec(key, delta), None, write=True)

    def clear(self) -> bool:
        return self._guard(lambda: super(ResilientRedisCache, self).clear(), False, write=True)


def state(cache) -> dict[str, Any]:
    """This process's view of the shared cache: {"state": "ok"} or why it is skipped (for /healthz)."""
    backend = getattr(cache, "cache", None)
    breaker = getattr(backend, "breaker", None)
    if breaker is None:
        return {"state": "ok", "backend": type(backend).__name__}
    return {**breaker.state(), "backend": "redis"}
