"""Which serving host runs an app (docs/gateway.md, "Several serving hosts").

The rule: **rendezvous hashing** (highest random weight) of the app's slug over the healthy serving hosts. Each
host scores ``sha256(url + "\\n" + slug)``; the app goes to the highest score, and if that host does not answer,
to the next. Every web process computes the same order from the same host list, so each app runs on one host at
a time; adding or removing a host moves only the apps whose first choice it is (about 1/n of them).

Where the host list comes from (GOVMARKET_SERVING_URL):

- a comma-separated list of ``http(s)://host:port`` (static);
- ``registry``: the serving hosts announce themselves in Redis (``govmarket gateway serve --advertise URL``):
  every HEARTBEAT_SECONDS, while their backend and database answer, they set their score in the sorted set
  REGISTRY_KEY to the current time, and remove it when they stop. A host whose last heartbeat is older than
  HOST_TTL_SECONDS is not healthy. Web processes read that set at most every CACHE_SECONDS (never per request),
  and keep the last list they read while Redis does not answer.

Health on the web's side: a host that refuses a connection is marked down in this process for DOWN_SECONDS and
goes to the end of every order, so the next requests go straight to the next host (the request that found it
down is sent there at once: nothing reached the dead host). A citizen's gateway session lives in the database,
so it survives the move; the app's own in-memory state does not (its instance starts fresh on the new host).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

REGISTRY = "registry"  # GOVMARKET_SERVING_URL's value for hosts announced in Redis
REGISTRY_KEY = "govmarket:serving:hosts"
HEARTBEAT_SECONDS = 5.0
HOST_TTL_SECONDS = 15.0
CACHE_SECONDS = 2.0
DOWN_SECONDS = 10.0


def check_url(url: str) -> str:
    """``url`` if it is http(s)://host[:port] of a serving host; ValueError saying what to write otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise ValueError(f"a serving host's address is http(s)://host:port, not {url!r}")
    return url.rstrip("/")


def rendezvous(slug: str, hosts: Sequence[str]) -> list[str]:
    """``hosts`` in the order the app ``slug`` tries them: highest sha256(host + newline + slug) first."""
    return sorted(hosts, key=lambda url: hashlib.sha256(f"{url}\n{slug}".encode()).digest(), reverse=True)


class StaticHosts:
    """The hosts listed in GOVMARKET_SERVING_URL."""

    def __init__(self, urls: Sequence[str]):
        self.urls = [check_url(url.strip()) for url in urls if url.strip()]
        if not self.urls:
            raise ValueError("GOVMARKET_SERVING_URL lists no serving host")

    def hosts(self) -> list[str]:
        return list(self.urls)


class RedisRegistry:
    """The serving hosts that announced themselves in Redis within the last HOST_TTL_SECONDS.

    https only: the web sends its secret to whatever the registry lists, so a host is taken from it only when its
    certificate proves it is one (mutual TLS, a private CA); an http entry is refused on both sides."""

    def __init__(self, redis, *, ttl: float = HOST_TTL_SECONDS, clock: Callable[[], float] = time.time):
        self.redis = redis
        self.ttl = ttl
        self.clock = clock

    def announce(self, url: str) -> None:
        if not url.startswith("https://"):
            raise ValueError(f"a serving host announces an https:// address in the registry, not {url!r} (mutual "
                             "TLS: GOVMARKET_SERVING_TLS_*; docs/operations.md, \"TLS\")")
        now = self.clock()
        pipe = self.redis.pipeline()
        pipe.zadd(REGISTRY_KEY, {check_url(url): now})
        pipe.zremrangebyscore(REGISTRY_KEY, "-inf", now - 10 * self.ttl)  # long-gone hosts do not pile up
        pipe.execute()

    def withdraw(self, url: str) -> None:
        self.redis.zrem(REGISTRY_KEY, check_url(url))

    def hosts(self) -> list[str]:
        alive_since = self.clock() - self.ttl
        found = [raw.decode() if isinstance(raw, bytes) else raw
                 for raw in self.redis.zrangebyscore(REGISTRY_KEY, alive_since, "+inf")]
        refused = [url for url in found if not url.startswith("https://")]
        if refused:
            log.error("gateway: the serving-host registry lists %s; ignored: only https hosts are used", refused)
        return [url for url in found if url.startswith("https://")]


class Placement:
    """The web process's view of the serving hosts: a briefly cached host list, hosts found down, and the
    order in which an app tries them. Thread-safe."""

    def __init__(self, source, *, cache_seconds: float = CACHE_SECONDS, down_seconds: float = DOWN_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.source = source
        self.cache_seconds = cache_seconds
        self.down_seconds = down_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._hosts: list[str] = []
        self._read_at: float | None = None
        self._down: dict[str, float] = {}  # url -> until when it is skipped

    def hosts(self) -> list[str]:
        """The known hosts (read from the source at most every cache_seconds)."""
        now = self.clock()
        with self._lock:
            if self._read_at is not None and now - self._read_at < self.cache_seconds:
                return self._hosts
            self._read_at = now  # one reader refreshes; the others use the list they have meanwhile
        try:
            hosts = self.source.hosts()
        except Exception as exc:  # Redis restarting: keep serving with what we knew
            log.warning("gateway: the serving-host registry could not be read (%s); using the %d host(s) known",
                        exc, len(self._hosts))
            return self._hosts
        with self._lock:
            if sorted(hosts) != sorted(self._hosts):
                log.info("gateway: serving hosts now %s", ", ".join(sorted(hosts)) or "none")
            self._hosts = hosts
            return hosts

    def order(self, slug: str) -> list[str]:
        """Where requests for ``slug`` go, first choice first: the rendezvous order, hosts found down last."""
        ranked = rendezvous(slug, self.hosts())
        now = self.clock()
        with self._lock:
            down = {url for url, until in self._down.items() if until > now}
        return [url for url in ranked if url not in down] + [url for url in ranked if url in down]

    def mark_down(self, url: str) -> None:
        with self._lock:
            self._down[url] = self.clock() + self.down_seconds
        log.warning("gateway: serving host %s does not answer; its apps go to the next host for %.0f s", url,
                    self.down_seconds)

    def mark_up(self, url: str) -> None:
        if url in self._down:
            with self._lock:
                self._down.pop(url, None)
