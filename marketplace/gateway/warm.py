"""The warm pool: published apps' instances started ahead of their first request (docs/gateway.md, "Served
instances").

A citizen's first open of an app used to wait for its instance's whole start. The pool keeps the most used published
apps running on the process that serves them — the serving host (``govmarket gateway serve``), or the web process
when it serves apps itself (development, the demo): at most ``SERVING_WARM_APPS`` apps, chosen by their cases of the
last WINDOW, then the newest published. Every WARM_SECONDS (and at once when the process starts) it starts those
not running, one at a time, in the background — so a version published, replaced or restarted elsewhere is running
within WARM_SECONDS — and keeps them running when idle; every other app idles out after ``SERVING_IDLE_SECONDS`` as
before. On a serving host that knows the other hosts (the Redis registry), it warms only the apps placed on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask

from core.extensions import db
from core.time import utcnow
from marketplace.gateway import instances
from marketplace.orders.models import Order
from marketplace.transactions.models import Transaction
from marketplace.vendors.models import App, AppVersion
from sandbox.serving import ServedVersion, ServingRegistry

log = logging.getLogger(__name__)

WARM_SECONDS = 10.0
WINDOW = timedelta(days=30)
START_WAIT_SECONDS = 300.0  # the longest the pool waits for one start before going on with the next


class WarmPool:
    """Keeps up to ``limit`` published apps running in ``registry`` (default: the app's SERVING_WARM_APPS).
    ``owns(slug)`` says whether this process serves the app (placement across serving hosts)."""

    def __init__(self, app: Flask, registry: ServingRegistry | None = None, *, limit: int | None = None,
                 owns: Callable[[str], bool] | None = None, every: float = WARM_SECONDS):
        self.app = app
        self.registry = registry or instances.registry(app)
        self.limit = int(app.config["SERVING_WARM_APPS"] if limit is None else limit)
        self.owns = owns or (lambda slug: True)
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def origin(self, slug: str) -> str:
        """The app's origin as the gateway names it for a request (the audience of its identity tokens)."""
        config = self.app.config
        scheme = "https" if config.get("ENV") == "production" else (urlsplit(str(config["ISSUER"])).scheme or "http")
        return f"{scheme}://{slug}.{config['APPS_DOMAIN']}"

    def wanted(self) -> list[ServedVersion]:
        """The apps to keep running, most used first: live versions, by cases started within WINDOW, then the
        newest app; only those this process serves; at most ``limit``."""
        if self.limit <= 0:
            return []
        cases = (sa.select(Transaction.app_id, sa.func.count().label("n"))
                 .where(Transaction.started_at >= utcnow() - WINDOW).group_by(Transaction.app_id).subquery())
        with self.app.app_context():
            rows = db.session.execute(
                sa.select(App, AppVersion)
                .join(AppVersion, sa.and_(AppVersion.app_id == App.id, AppVersion.live()))
                .join(Order, Order.id == App.order_id)
                .outerjoin(cases, cases.c.app_id == App.id)
                .order_by(sa.func.coalesce(cases.c.n, 0).desc(), App.id.desc())).all()
            chosen, seen = [], set()
            for app, version in rows:
                if app.slug in seen or not self.owns(app.slug):
                    continue
                seen.add(app.slug)
                chosen.append(instances.served_version(self.app.config, app, version, origin=self.origin(app.slug)))
                if len(chosen) >= self.limit:
                    break
            db.session.remove()
        return chosen

    def warm_once(self, *, wait: bool = True) -> list[str]:
        """Start the wanted apps that are not running (one after another: a host's cores serve requests too) and
        keep them warm; returns the keys started. ``wait=False`` only queues the starts."""
        wanted = self.wanted()
        self.registry.keep_warm(served.key for served in wanted)
        started = []
        for served in wanted:
            if self._stop.is_set():
                break
            future = self.registry.prewarm(served)
            if future is None:
                continue
            started.append(served.key)
            if wait:
                try:
                    future.result(timeout=START_WAIT_SECONDS)
                except Exception as exc:  # an app that cannot start now is retried on the next round
                    log.warning("warm pool: %s could not be started ahead: %s", served.key, exc)
        if started:
            log.info("warm pool: started %s ahead of their requests", ", ".join(started))
        return started

    def start(self) -> None:
        """Warm now and every ``every`` seconds on a daemon thread, until ``stop``."""
        if self.limit <= 0 or (self._thread is not None and self._thread.is_alive()):
            return

        def loop() -> None:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    self.warm_once()
                except Exception:
                    log.exception("warm pool: a round failed")
                self._stop.wait(max(0.0, self.every - (time.monotonic() - began)))

        self._stop.clear()
        self._thread = threading.Thread(target=loop, name="serving-warm-pool", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
