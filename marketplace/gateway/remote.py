"""The hop from the web process to a serving host (docs/gateway.md, "Serving hosts").

The web process parses browser input and must not hold host root, so in production it starts no app: with
SERVING_URL set, the gateway sends each proxied request — already filtered by ``proxy.request_headers``, with the
identity token it minted — to ``govmarket gateway serve`` on the app's serving host, which runs the app's
instance. Which host that is, and where to go when it does not answer, is ``placement``'s (several serving hosts,
kept apart from this per-request path: the host list is read at most every few seconds); https hops verify the
host and present the web's certificate (mutual TLS, ``client_tls``).

The request carries two headers of its own: the shared secret (SERVING_SECRET; the serving host compares it in
constant time and refuses anything else) and the app's slug (the serving host looks the live version up itself).
The answer comes back through ``proxy.forward`` again, so the caps, timeouts and header filters apply on both
hosts. A failure of the serving host itself (unknown app, instance that cannot start, caps) is marked with the
ERROR header, which the serving host never lets an app set, and turns into the gateway's own page.
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from marketplace.gateway import placement
from marketplace.gateway.placement import Placement
from marketplace.gateway.proxy import ProxyLimits, Upstream, forward

log = logging.getLogger(__name__)

PREFIX = "x-govmarket-"  # the hop's own headers: never from the browser, never from the app
SECRET_HEADER = "X-Govmarket-Serving-Secret"  # noqa: S105 (a header name)
APP_HEADER = "X-Govmarket-App"
ERROR_HEADER = "X-Govmarket-Serving-Error"
# The serving host may first have to start the instance (unpack the bundle, install its wheels, start the app):
# the web waits this much longer than GATEWAY_TIMEOUT_SECONDS for the first byte.
START_ALLOWANCE_SECONDS = 120.0
ERROR_DETAIL_BYTES = 4096
# Statuses whose page the serving host words for the citizen; any other failure of the hop is the platform's.
PASSED_ON = frozenset({404, 413, 502, 503, 504})
MIN_SECRET_CHARS = 32
# A host that has not accepted the connection by then is skipped for the next one (it answers in milliseconds).
CONNECT_TIMEOUT_SECONDS = 3.0


class ServingFailed(Exception):
    """The serving host answered for itself, not the app: show the gateway's page with this status and text."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"{status} {detail}")
        self.status, self.detail = status, detail


def check_secret(secret: str) -> str:
    if len(secret or "") < MIN_SECRET_CHARS:
        raise ValueError(f"GOVMARKET_SERVING_SECRET must be set to at least {MIN_SECRET_CHARS} characters "
                         "(e.g. `openssl rand -hex 32`), the same on the web and the serving hosts")
    return secret


def client_tls(config) -> ssl.SSLContext | None:
    """The web's TLS context for https serving hosts: their certificates verified against SERVING_TLS_CA (the
    system's CAs when unset), the web's own certificate SERVING_TLS_CERT/SERVING_TLS_KEY presented when set
    (mutual TLS: the serving hosts then accept only certificates from that CA)."""
    ca, cert, key = (config.get(name) or None for name in ("SERVING_TLS_CA", "SERVING_TLS_CERT", "SERVING_TLS_KEY"))
    if not (ca or cert):
        return None
    if bool(cert) != bool(key):
        raise ValueError("GOVMARKET_SERVING_TLS_CERT and GOVMARKET_SERVING_TLS_KEY go together")
    context = ssl.create_default_context(cafile=ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        context.load_cert_chain(cert, key)
    return context


def without_hop_headers(items):
    """(name, value) pairs without the hop's own headers."""
    return [(name, value) for name, value in items if not name.lower().startswith(PREFIX)]


@dataclass(frozen=True)
class _Key:
    key: str


class NoServingHost(OSError):
    """No serving host accepted a connection for the app."""


class _Target:
    """What ``proxy.forward`` needs of an instance: a connection (here to the app's serving host, the first of its
    placement order that accepts one) and a name for logs."""

    def __init__(self, serving: RemoteServing, slug: str):
        self.serving = serving
        self.served = _Key(slug)
        self.host: str | None = None

    def connection(self, timeout: float, *, fresh: bool = False) -> http.client.HTTPConnection:
        # Always a new connection (``fresh`` or not; none is kept). Connected here, host by host: a host that
        # refuses (stopped, restarting) has received nothing, so the request goes to the next one at once. Once
        # connected, a failure is the request's (no resend: the host may have acted on it).
        tried = []
        for url in self.serving.placement.order(self.served.key):
            conn = self.serving.connect(url)
            try:
                conn.connect()
            except OSError as exc:
                conn.close()
                tried.append(f"{url}: {exc}")
                self.serving.placement.mark_down(url)
                continue
            self.serving.placement.mark_up(url)
            conn.sock.settimeout(timeout + START_ALLOWANCE_SECONDS)
            self.host = url
            return conn
        raise NoServingHost("no serving host answered: " + ("; ".join(tried) or "none is known"))


class RemoteServing:
    """The web process's side of the hop: the serving hosts (GOVMARKET_SERVING_URL), the placement of each app
    on one of them (marketplace/gateway/placement.py) and the TLS the hop uses."""

    def __init__(self, source, secret: str, *, tls: ssl.SSLContext | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT_SECONDS):
        self.placement = Placement(source)
        self.secret = check_secret(secret)
        self.tls = tls
        self.connect_timeout = connect_timeout

    @classmethod
    def from_config(cls, config) -> RemoteServing:
        url = str(config["SERVING_URL"]).strip()
        if url == placement.REGISTRY:
            from redis import Redis

            source = placement.RedisRegistry(Redis.from_url(config["REDIS_URL"], socket_timeout=2,
                                                            socket_connect_timeout=2))
        else:
            try:
                source = placement.StaticHosts(url.split(","))
            except ValueError as exc:
                raise ValueError(f"GOVMARKET_SERVING_URL: {exc} (or `registry`: the hosts announce themselves in "
                                 "Redis)") from exc
        return cls(source, str(config.get("SERVING_SECRET") or ""), tls=client_tls(config))

    def connect(self, url: str) -> http.client.HTTPConnection:
        """An unconnected connection to the serving host at ``url``; https verifies its certificate (and presents
        the web's own, for mutual TLS) with the SERVING_TLS_* files."""
        parts = urlsplit(url)
        if parts.scheme == "https":
            return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=self.connect_timeout,
                                               context=self.tls or ssl.create_default_context())
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.connect_timeout)

    def forward(self, slug: str, environ: dict, headers: dict[str, str], limits: ProxyLimits, *,
                reserved_cookies: frozenset[str]) -> Upstream:
        """The app's answer through the serving host; ServingFailed when the serving host answered for itself,
        otherwise what ``proxy.forward`` raises."""
        sent = {name: value for name, value in headers.items() if not name.lower().startswith(PREFIX)}
        sent[SECRET_HEADER] = self.secret
        sent[APP_HEADER] = slug
        target = _Target(self, slug)
        upstream = forward(target, environ, sent, limits, reserved_cookies=reserved_cookies, on_close=lambda: None)
        if not any(name.lower() == ERROR_HEADER.lower() for name, _ in upstream.headers):
            upstream.headers = without_hop_headers(upstream.headers)
            return upstream
        try:
            raw = b""
            for chunk in upstream.body:
                raw += chunk
                if len(raw) > ERROR_DETAIL_BYTES:
                    break
        finally:
            upstream.body.close()  # type: ignore[attr-defined]
        try:
            detail = str(json.loads(raw)["error"])
        except (ValueError, KeyError, TypeError):
            detail = ""
        if upstream.status in PASSED_ON and detail:
            raise ServingFailed(upstream.status, detail)
        log.error("gateway: the serving host %s refused the request for %s: %s %s", target.host, slug,
                  upstream.status, detail or raw[:200])
        raise ServingFailed(502, "The app is not answering right now; please try again.")
