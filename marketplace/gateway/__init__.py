"""The app gateway (ARCHITECTURE.md §3, §5; docs/gateway.md): each published app on its own origin
``<slug>.<APPS_DOMAIN>``, launched from the platform with a one-time code, proxied to its long-lived sandboxed
instance with a fresh identity JWT per request, its department calls recorded."""

from __future__ import annotations

import threading

from flask import Flask

from marketplace.accounts.services import sessions_ended
from marketplace.gateway import cli, services, views, warm
from marketplace.gateway import models as _models  # noqa: F401  (the tables)
from marketplace.gateway.origin import AppOrigin, HostDispatch, split_host

DISPATCH = "govmarket_host_dispatch"
WARM_POOL = "govmarket_warm_pool"


def init_app(app: Flask) -> None:
    """Register the gateway's tables and pages, and put host dispatch in front of the platform's WSGI app."""
    cookie_domain = (app.config.get("SESSION_COOKIE_DOMAIN") or "").lstrip(".").lower()
    apps_domain, _port = split_host(app.config["APPS_DOMAIN"])
    if cookie_domain and (apps_domain == cookie_domain or apps_domain.endswith("." + cookie_domain)):
        raise RuntimeError(f"SESSION_COOKIE_DOMAIN {cookie_domain!r} would send the platform's session cookie to "
                           f"every app under {apps_domain!r}; leave it unset (host-only cookie)")
    app.register_blueprint(views.bp)
    sessions_ended.connect(services.gateway_sessions_end)  # logging out of the platform ends the app sessions
    app.cli.add_command(cli.gateway_cli)
    if not app.config.get("SERVING_URL") and not app.testing and int(app.config["SERVING_WARM_APPS"]) > 0:
        app.before_request(_warm_pool_starter(app))
    dispatch = HostDispatch(app.wsgi_app, AppOrigin(app), app.config["APPS_DOMAIN"])
    app.extensions[DISPATCH] = dispatch  # found here under whatever wraps it later (request guards, ProxyFix)
    app.wsgi_app = dispatch  # type: ignore[method-assign]


def _warm_pool_starter(app: Flask):
    """A web process that serves apps itself (development, the demo) starts its warm pool with the first request it
    serves — not in create_app, which every CLI command runs too. Serving hosts start theirs in serving_host."""
    lock = threading.Lock()

    def start_warm_pool() -> None:
        if WARM_POOL in app.extensions:
            return
        with lock:
            if WARM_POOL not in app.extensions:
                pool = warm.WarmPool(app)
                app.extensions[WARM_POOL] = pool
                pool.start()

    return start_warm_pool


def host_dispatch(app: Flask) -> HostDispatch:
    """The app's host dispatch (its ``origin`` answers the apps' origins)."""
    return app.extensions[DISPATCH]
