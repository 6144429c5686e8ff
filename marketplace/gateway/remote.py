"""The hop from the web process to a serving host (docs/gateway.md, "Serving hosts").

The web process parses browser input and must not hold host root, so in production it starts no app: with
SERVING_URL set, the gateway sends each proxied request — already filtered by ``proxy.request_headers``, with the
identity token it minted — to ``govmarket gateway serve`` on a sandbox host, which runs the app's instance.
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
from dataclasses import dataclass
from urllib.parse import urlsplit

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


def without_hop_headers(items):
    """(name, value) pairs without the hop's own headers."""
    return [(name, value) for name, value in items if not name.lower().startswith(PREFIX)]


@dataclass(frozen=True)
class _Key:
    key: str


class _Target:
    """What ``proxy.forward`` needs of an instance: a connection (here to the serving host) and a name for logs."""

    def __init__(self, serving: RemoteServing, slug: str):
        self.serving = serving
        self.served = _Key(slug)

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.serving.scheme == "https" else http.client.HTTPConnection
        return cls(self.serving.host, self.serving.port, timeout=timeout + START_ALLOWANCE_SECONDS)


class RemoteServing:
    """The web process's side of the hop."""

    def __init__(self, url: str, secret: str):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(f"GOVMARKET_SERVING_URL must be http(s)://host:port of the serving host, not {url!r}")
        self.url = url
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.secret = check_secret(secret)

    @classmethod
    def from_config(cls, config) -> RemoteServing:
        return cls(str(config["SERVING_URL"]), str(config.get("SERVING_SECRET") or ""))

    def forward(self, slug: str, environ: dict, headers: dict[str, str], limits: ProxyLimits, *,
                reserved_cookies: frozenset[str]) -> Upstream:
        """The app's answer through the serving host; ServingFailed when the serving host answered for itself,
        otherwise what ``proxy.forward`` raises."""
        sent = {name: value for name, value in headers.items() if not name.lower().startswith(PREFIX)}
        sent[SECRET_HEADER] = self.secret
        sent[APP_HEADER] = slug
        upstream = forward(_Target(self, slug), environ, sent, limits, reserved_cookies=reserved_cookies,
                           on_close=lambda: None)
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
        log.error("gateway: the serving host %s refused the request for %s: %s %s", self.url, slug, upstream.status,
                  detail or raw[:200])
        raise ServingFailed(502, "The app is not answering right now; please try again.")
