"""The serving host: ``govmarket gateway serve`` on a sandbox host runs the published apps' instances for the
web processes (marketplace/gateway/remote.py is the web's side; docs/gateway.md, "Serving hosts").

Each request must carry the shared secret (compared in constant time: 401 without it, 403 with another one) and
the app's slug. The live version, its bundle, scopes and the identity keys come from this host's own database
look-up (``services.served_app_get``), not from the web; the instance runs in this host's ServingRegistry
(``instances.registry``), whose listeners record department calls and decisions in the database. The request
goes to the app through ``proxy.forward`` with the same header filters, caps and timeouts as on the web.
"""

from __future__ import annotations

import hmac
import json
import logging
import ssl
import threading

import sqlalchemy as sa
from flask import Flask
from werkzeug.wrappers import Request

from core.errors import DomainError
from marketplace.gateway import instances, placement, services
from marketplace.gateway.origin import SLUG, failure, navigation, reserved_cookies, starting_page
from marketplace.gateway.proxy import ProxyLimits, forward, request_headers
from marketplace.gateway.remote import APP_HEADER, ERROR_HEADER, PREFIX, SECRET_HEADER, check_secret, without_hop_headers
from marketplace.gateway.warm import WarmPool

log = logging.getLogger(__name__)

_SECRET_KEY = "HTTP_" + SECRET_HEADER.upper().replace("-", "_")
_APP_KEY = "HTTP_" + APP_HEADER.upper().replace("-", "_")
_HOP_PREFIX = "HTTP_" + PREFIX.upper().replace("-", "_")
HEALTH_PATH = "/_serving/health"


class ServingHost:
    """WSGI app of the serving host."""

    def __init__(self, app: Flask):
        self.app = app
        config = app.config
        self.secret = check_secret(str(config.get("SERVING_SECRET") or "")).encode()
        self.apps_domain = config["APPS_DOMAIN"]
        self.limits = ProxyLimits(config["GATEWAY_REQUEST_BYTES"], config["GATEWAY_RESPONSE_BYTES"],
                                  float(config["GATEWAY_TIMEOUT_SECONDS"]))
        self.reserved = reserved_cookies(config)
        self.starting_page_seconds = float(config["GATEWAY_STARTING_PAGE_SECONDS"])  # as the web's (origin.py)

    def __call__(self, environ, start_response):
        given = environ.get(_SECRET_KEY)
        if not given and environ.get("PATH_INFO") == HEALTH_PATH and _APP_KEY not in environ:
            return self.health_answer(start_response)
        if not given:
            return self.error(start_response, 401, "the serving host answers the platform's gateway only")
        if not hmac.compare_digest(given.encode("latin-1"), self.secret):
            log.warning("serving host: a request from %s with a wrong secret refused", environ.get("REMOTE_ADDR"))
            return self.error(start_response, 403, "the serving host answers the platform's gateway only")
        slug = environ.get(_APP_KEY, "")
        proto = environ.get("HTTP_X_FORWARDED_PROTO", "")
        token = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ").strip()
        if not SLUG.match(slug) or proto not in ("http", "https") or not token:
            return self.error(start_response, 400, "a forwarded request names its app, scheme and identity token")
        origin = f"{proto}://{slug}.{self.apps_domain}"
        try:
            with self.app.app_context():
                app, version = services.served_app_get(slug)
                app_name = app.name
                served = instances.served_version(self.app.config, app, version, origin=origin)
            # The hop's own headers stop here; the rest was filtered by the gateway and is filtered again.
            inner = {key: value for key, value in environ.items() if not key.startswith(_HOP_PREFIX)}
            headers = request_headers(inner, reserved_cookies=self.reserved, host=origin.split("://", 1)[1],
                                      proto=proto, identity_token=token,
                                      department_token=environ.get("HTTP_X_DEPARTMENT_TOKEN"))
            registry = instances.registry(self.app)
            if (self.starting_page_seconds > 0 and navigation(Request(inner))
                    and not registry.ready_within(served, self.starting_page_seconds)):
                # Not marked as the serving host's error: the web passes the page on as the app's answer.
                page = starting_page(self.app, app_name, str(self.app.config["ISSUER"]).rstrip("/") + "/")
                return page(environ, start_response)
            instance = registry.acquire(served)
        except DomainError as exc:
            if exc.status >= 500:
                log.error("serving host: %s: %s", slug, exc.message)
                return self.error(start_response, exc.status, "The app cannot be started right now; please try again later.")
            return self.error(start_response, exc.status, exc.message)
        except Exception:
            log.exception("serving host: %s %s for %s failed", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                          slug)
            return self.error(start_response, 500, "Something went wrong on our side; it has been logged.")
        try:
            upstream = forward(instance, inner, headers, self.limits, reserved_cookies=self.reserved,
                               on_close=lambda: registry.release(instance))
        except Exception as exc:
            status, detail = failure(exc, self.limits, slug)
            return self.error(start_response, status, detail)
        start_response(f"{upstream.status} {upstream.reason}", without_hop_headers(upstream.headers))
        return upstream.body

    def health(self) -> str | None:
        """None while this host can serve (its database and sandbox backend answer), else what is wrong."""
        try:
            with self.app.app_context():
                from core.extensions import db

                db.session.execute(sa.text("SELECT 1"))
                db.session.remove()
            instances.registry(self.app).backend().check()
        except Exception as exc:
            return f"{exc.__class__.__name__}: {exc}"
        return None

    def health_answer(self, start_response):
        """``GET /_serving/health`` (no secret needed; it tells nothing about apps): 200, or 503 and why."""
        problem = self.health()
        body = json.dumps({"status": "ok"} if problem is None else {"status": "unavailable", "error": problem}).encode()
        start_response("200 OK" if problem is None else "503 Service Unavailable",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def error(self, start_response, status: int, detail: str):
        body = json.dumps({"error": detail}).encode()
        start_response(f"{status} Serving host", [("Content-Type", "application/json"), (ERROR_HEADER, "1"),
                                                  ("Content-Length", str(len(body)))])
        return [body]


class Announcer:
    """Keeps this serving host in the Redis registry (marketplace/gateway/placement.py) while it is healthy:
    every HEARTBEAT_SECONDS it checks itself and announces ``url``, or withdraws while a check fails."""

    def __init__(self, host: ServingHost, url: str, registry: placement.RedisRegistry,
                 every: float = placement.HEARTBEAT_SECONDS):
        self.host, self.url, self.registry, self.every = host, placement.check_url(url), registry, every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._healthy: bool | None = None

    def beat(self) -> None:
        problem = self.host.health()
        try:
            if problem is None:
                self.registry.announce(self.url)
            else:
                self.registry.withdraw(self.url)
        except Exception as exc:  # Redis restarting: the web keeps its last list meanwhile
            log.warning("serving host: could not update the registry: %s", exc)
            return
        if (problem is None) != self._healthy:
            self._healthy = problem is None
            if problem is None:
                log.info("serving host: %s announced in the registry", self.url)
            else:
                log.error("serving host: %s withdrawn from the registry: %s", self.url, problem)

    def start(self) -> None:
        def loop():
            while not self._stop.is_set():
                self.beat()
                self._stop.wait(self.every)

        self._thread = threading.Thread(target=loop, name="serving-announcer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Withdraw at once (a stop or restart), so the web processes send this host's apps elsewhere now."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.registry.withdraw(self.url)
            log.info("serving host: %s withdrawn from the registry", self.url)
        except Exception as exc:
            log.warning("serving host: could not withdraw from the registry: %s", exc)


def tls_settings(config) -> dict:
    """gunicorn's TLS settings from SERVING_TLS_*: https with the host's certificate; with the CA too, only
    clients presenting a certificate from that CA (the web processes) are accepted."""
    cert, key, ca = (config.get(name) or None for name in ("SERVING_TLS_CERT", "SERVING_TLS_KEY", "SERVING_TLS_CA"))
    if not cert:
        if ca:
            raise ValueError("GOVMARKET_SERVING_TLS_CA on a serving host needs its certificate "
                             "(GOVMARKET_SERVING_TLS_CERT and GOVMARKET_SERVING_TLS_KEY)")
        return {}
    if not key:
        raise ValueError("GOVMARKET_SERVING_TLS_CERT and GOVMARKET_SERVING_TLS_KEY go together")
    settings = {"certfile": cert, "keyfile": key}
    if ca:
        settings |= {"ca_certs": ca, "cert_reqs": ssl.CERT_REQUIRED}
    return settings


def serve(app: Flask, bind: str, threads: int, advertise: str = "") -> None:
    """Run the serving host under gunicorn: one process (one registry holds this host's instances), ``threads``
    requests at a time; announced in the Redis registry as ``advertise`` when given."""
    from gunicorn.app.base import BaseApplication

    wsgi = ServingHost(app)  # refuses to start without a secret
    timeout = int(app.config["GATEWAY_TIMEOUT_SECONDS"] + 120)
    tls = tls_settings(app.config)
    announcer: list[Announcer] = []
    if advertise:
        placement.check_url(advertise)
        if not advertise.startswith("https://") or not tls:
            raise ValueError(f"--advertise {advertise}: a serving host in the registry serves https with mutual TLS "
                             "(an https:// address and GOVMARKET_SERVING_TLS_CERT/_KEY/_CA): the web sends its "
                             "secret to whatever the registry lists")

    pools: list[WarmPool] = []

    def post_worker_init(worker) -> None:
        """In the worker process (threads do not survive gunicorn's fork): start announcing this host, and start
        the warm pool's apps ahead of their requests — those placed on this host when it knows the others."""
        owns = None
        if advertise:
            from redis import Redis

            registry = placement.RedisRegistry(Redis.from_url(app.config["REDIS_URL"], socket_timeout=2,
                                                              socket_connect_timeout=2))
            announcer.append(Announcer(wsgi, advertise, registry))
            announcer[0].start()
            hosts = placement.Placement(registry)
            owns = lambda slug: (placement.rendezvous(slug, hosts.hosts()) or [advertise])[0] == advertise  # noqa: E731
        pools.append(WarmPool(app, owns=owns))
        pools[0].start()

    def worker_exit(server, worker) -> None:
        """Leave the registry first, then stop this host's instances when the process ends (a stop or restart of
        the service), rather than leave them to the next start's sweep."""
        for each in announcer:
            each.stop()
        for pool in pools:
            pool.stop()
        existing = app.extensions.get(instances.EXTENSION)
        if existing is not None:
            existing.close()

    class _Server(BaseApplication):
        def load_config(self):
            for key, value in {"bind": [bind], "workers": 1, "worker_class": "gthread", "threads": threads,
                               "timeout": timeout, "accesslog": "-", "proc_name": "govmarket-serving",
                               "post_worker_init": post_worker_init, "worker_exit": worker_exit, **tls}.items():
                self.cfg.set(key, value)

        def load(self):
            return wsgi

    _Server().run()
