"""Forwarding one request from a citizen's browser to a served app, and its answer back.

Both directions are filtered: hop-by-hop headers go (RFC 9110 §7.6.1, plus those named in Connection);
the browser's Authorization, forwarding headers and the platform's and gateway's cookies never reach the
app — the app gets the identity JWT instead; the app's cookies are made host-only on its own origin and
may not reuse the gateway's name. Bodies are streamed with caps: a request body over the cap answers 413
before the app sees it, a response over the cap is cut off (the connection is aborted, so the browser sees
a broken download rather than a silently shortened one). Every read from the app has a timeout.
"""

from __future__ import annotations

import http.client
import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from mockdata.delegation import HEADER as DELEGATION_HEADER

log = logging.getLogger(__name__)

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade"})
# Never forwarded to the app: the gateway sets what the app may know about the request itself.
NOT_FORWARDED = frozenset({"host", "cookie", "authorization", "forwarded", "x-forwarded-for", "x-forwarded-host",
                           "x-forwarded-proto", "x-forwarded-port", "x-real-ip", "content-length",
                           DELEGATION_HEADER.lower()})
SECURITY_HEADERS = (
    ("Content-Security-Policy", "frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
)
DEFAULT_HEADERS = (("Referrer-Policy", "strict-origin-when-cross-origin"),)
CHUNK = 64 * 1024
SPOOL_IN_MEMORY = 1024 * 1024
# Sent again on a new connection when a kept-alive one turns out closed before any answer came: a request that
# changes nothing twice is harmless, and govapp.serve never starts one on a connection it is closing.
RESENDABLE = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class Target(Protocol):
    """Where ``forward`` sends a request: a served instance (sandbox.serving.Instance), or the serving host.

    ``connection`` may hand out a kept-alive connection (marked ``reused``), ``fresh=True`` never does; a target
    that keeps connections takes back one whose answer was read to the end through ``give_back``."""

    served: Any

    def connection(self, timeout: float, *, fresh: bool = False) -> http.client.HTTPConnection: ...


class BodyTooLarge(Exception):
    pass


class ResponseTooLarge(Exception):
    """Raised while streaming: aborts the connection instead of ending a cut-off body cleanly."""


@dataclass(frozen=True)
class ProxyLimits:
    request_bytes: int
    response_bytes: int
    timeout_seconds: float


def filter_cookie_header(value: str, reserved: frozenset[str]) -> str:
    """The Cookie header without the pairs whose names are ``reserved`` (raw pairs kept byte for byte)."""
    kept = []
    for pair in value.split(";"):
        name = pair.split("=", 1)[0].strip()
        if name and name not in reserved:
            kept.append(pair.strip())
    return "; ".join(kept)


def filter_set_cookie(value: str, reserved: frozenset[str]) -> str | None:
    """The app's Set-Cookie made host-only (Domain removed: no cookie for sibling apps or the platform), or None
    when it would set a reserved name."""
    parts = [p.strip() for p in value.split(";")]
    name = parts[0].split("=", 1)[0].strip() if parts and parts[0] else ""
    if not name or name in reserved:
        return None
    return "; ".join(p for p in parts if p.split("=", 1)[0].strip().lower() != "domain")


def request_headers(environ: dict, *, reserved_cookies: frozenset[str], host: str, proto: str,
                    identity_token: str, department_token: str | None = None) -> dict[str, str]:
    """The headers the app gets: the browser's, filtered, with the identity JWT and — the only way the app gets
    one — the department access token the gateway minted for this request (never one a browser sent)."""
    connection_named = {h.strip().lower() for h in environ.get("HTTP_CONNECTION", "").split(",") if h.strip()}
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if not key.startswith("HTTP_"):
            continue
        name = key[5:].replace("_", "-").lower()
        if name in HOP_BY_HOP or name in NOT_FORWARDED or name in connection_named:
            continue
        headers[name.title()] = value
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    cookies = filter_cookie_header(environ.get("HTTP_COOKIE", ""), reserved_cookies)
    if cookies:
        headers["Cookie"] = cookies
    headers["Host"] = host
    headers["X-Forwarded-Host"] = host
    headers["X-Forwarded-Proto"] = proto
    headers["Authorization"] = f"Bearer {identity_token}"
    if department_token:
        headers[DELEGATION_HEADER] = department_token
    return headers


def response_headers(raw: list[tuple[str, str]], *, reserved_cookies: frozenset[str]) -> list[tuple[str, str]]:
    connection_named = {h.strip().lower() for name, value in raw if name.lower() == "connection"
                        for h in value.split(",") if h.strip()}
    headers: list[tuple[str, str]] = []
    for name, value in raw:
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in connection_named:
            continue
        if lower == "set-cookie":
            filtered = filter_set_cookie(value, reserved_cookies)
            if filtered:
                headers.append(("Set-Cookie", filtered))
            continue
        headers.append((name, value))
    present = {name.lower() for name, _ in headers}
    # In addition to the app's own CSP (browsers enforce every policy given); once, also when the answer passed
    # through a serving host that added them already.
    headers.extend(h for h in SECURITY_HEADERS if h not in headers)
    headers.extend(h for h in DEFAULT_HEADERS if h[0].lower() not in present)
    return headers


SPOOLED = "govmarket.spooled_body"  # the environ key under which spool_body keeps what it read


def spool_body(environ: dict, limit: int):
    """The request body in a temporary file (memory up to 1 MiB), or None; BodyTooLarge beyond ``limit``. Read once
    per request: a second call (the gateway looks into the body before forwarding it) gets the same spool, rewound."""
    if SPOOLED in environ:
        spool, size = environ[SPOOLED]
        if spool is not None:
            spool.seek(0)
        return spool, size
    length_text = environ.get("CONTENT_LENGTH") or ""
    length = int(length_text) if length_text.isdigit() else None
    if length is not None and length > limit:
        raise BodyTooLarge(length)
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not length and not chunked:
        environ[SPOOLED] = (None, 0)
        return None, 0
    stream = environ["wsgi.input"]
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    size = 0
    remaining = length if length is not None else limit + 1
    while remaining > 0:
        chunk = stream.read(min(CHUNK, remaining))
        if not chunk:
            break
        size += len(chunk)
        remaining -= len(chunk)
        if size > limit:
            spool.close()
            raise BodyTooLarge(size)
        spool.write(chunk)
    spool.seek(0)
    environ[SPOOLED] = (spool, size)
    return spool, size


def target_of(environ: dict) -> str:
    path = quote(environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace"), safe="/:@!$&'()*+,;=-._~%")
    query = environ.get("QUERY_STRING")
    return f"{path}?{query}" if query else path


@dataclass
class Upstream:
    """An app's answer: status line, filtered headers and a body iterator that releases everything when done."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: Iterator[bytes]


def forward(instance: Target, environ: dict, headers: dict[str, str], limits: ProxyLimits, *,
            reserved_cookies: frozenset[str], on_close: Callable[[], None]) -> Upstream:
    """Send the request to the app and return its answer for streaming. ``on_close`` runs exactly once, when the
    body has been sent or abandoned (or at once, if this raises). Raises BodyTooLarge, ResponseTooLarge
    (declared length over the cap), TimeoutError and OSError/HTTPException for an app that does not answer."""
    conn: http.client.HTTPConnection | None = None
    body = None
    try:
        body, size = spool_body(environ, limits.request_bytes)
        method = environ.get("REQUEST_METHOD", "GET")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            headers = {**headers, "Content-Length": str(size)}
        conn = instance.connection(limits.timeout_seconds)
        try:
            resp = _exchange(conn, method, target_of(environ), body, headers)
        except ConnectionError:
            # A kept connection the app closed meanwhile (idle too long, or its server needed the thread).
            if not getattr(conn, "reused", False) or method not in RESENDABLE:
                raise
            conn.close()
            if body is not None:
                body.seek(0)
            conn = instance.connection(limits.timeout_seconds, fresh=True)
            resp = _exchange(conn, method, target_of(environ), body, headers)
        declared = resp.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > limits.response_bytes:
            raise ResponseTooLarge(f"the app answered {declared} bytes, over the cap of {limits.response_bytes}")
        filtered = response_headers(resp.getheaders(), reserved_cookies=reserved_cookies)
    except BaseException:
        if conn is not None:
            conn.close()
        if body is not None:
            body.close()
        on_close()
        raise

    return Upstream(resp.status, resp.reason, filtered, _Body(instance, resp, conn, body, limits, on_close))


def _exchange(conn: http.client.HTTPConnection, method: str, target: str, body, headers: dict[str, str]):
    conn.request(method, target, body=body, headers=headers)
    return conn.getresponse()


class _Body:
    """The app's response body as a WSGI iterable; ``close`` (called by every WSGI server, also when the body
    was never iterated) releases the connection — kept for the next request when the answer was read to its end —
    and the lease, once."""

    def __init__(self, target: Target, resp: http.client.HTTPResponse, conn: http.client.HTTPConnection, spool,
                 limits: ProxyLimits, on_close: Callable[[], None]):
        self.target, self.key = target, target.served.key
        self.resp, self.conn, self.spool, self.limits = resp, conn, spool, limits
        self.complete = False
        self._on_close: Callable[[], None] | None = on_close

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        while True:
            try:
                chunk = self.resp.read1(CHUNK)
            except TimeoutError as exc:
                raise TimeoutError(f"the app {self.key} stopped sending for {self.limits.timeout_seconds} s") from exc
            if not chunk:
                self.complete = True
                return
            sent += len(chunk)
            if sent > self.limits.response_bytes:
                log.warning("gateway: %s answered more than %d bytes; cut off", self.key, self.limits.response_bytes)
                raise ResponseTooLarge(f"the response is larger than {self.limits.response_bytes} bytes")
            yield chunk

    def close(self) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is None:
            return
        try:
            give_back = getattr(self.target, "give_back", None)
            if give_back is not None and self.complete and not self.resp.will_close:
                # read1 does not mark a Content-Length answer finished at its last byte; read() (b"") does, and
                # http.client sends the next request only after a finished answer.
                self.resp.read()
            if give_back is not None and self.complete and not self.resp.will_close and self.resp.isclosed():
                give_back(self.conn)
            else:
                self.conn.close()
            if self.spool is not None:
                self.spool.close()
        finally:
            on_close()
