"""WSGI guards in front of the platform and every app origin: tossed cookies and malformed request bodies.

Cookie tossing: a request carrying two cookies of one name is refused.

Script on one app's origin (``a.apps.<host>``) may set a cookie for the whole parent domain (``Domain=apps.<host>``);
the browser then sends it to every sibling app, next to — and often before — the sibling's own cookie of that name.
A server cannot tell which of the two is its own (the ``Cookie`` header carries neither domain nor path), so
reading either would let one app plant a session, a language or anything else in another. The gateway's and the
platform's own cookies carry the ``__Host-`` prefix where the browser accepts it (the browser refuses a ``__Host-``
cookie with a ``Domain``), and this guard, outermost in front of both, answers any duplicated name with a 400 that
also expires the name on the parent domains and on the paths above the request, so a reload works again.
docs/security.md, "Cookies".

Malformed bodies: the server decodes a chunked body while the application reads it, so a broken chunk surfaces as an
``OSError`` (werkzeug) or ``IOError`` subclass (gunicorn) deep inside form or JSON parsing — a 500. ``BodyReadGuard``
turns every failure to read the body into werkzeug's ``ClientDisconnected`` (a 400), which both the platform's error
handlers and the gateway answer as a problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape

from werkzeug.exceptions import ClientDisconnected
from werkzeug.http import dump_cookie, parse_cookie

PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>400</title>
<h1>请求中有重名的 Cookie / Conflicting cookies</h1>
<p>您的浏览器为同一名称发送了两个 Cookie（{names}），其中一个可能由同一上级域名下的其他网站设置。
我们已请浏览器删除来自上级域名的那一个，请重新加载页面。</p>
<p lang="en">Your browser sent two cookies named {names}; one was probably set by another site under the same parent
domain. We asked the browser to delete the parent domain's copy: reload the page.</p></html>"""


def duplicated_names(cookie_header: str) -> list[str]:
    """Cookie names that occur more than once in a ``Cookie`` header."""
    cookies = parse_cookie(cookie_header)
    return sorted(name for name in cookies if len(cookies.getlist(name)) > 1)


def parent_domains(host: str) -> list[str]:
    """The domains a sibling site could have set a cookie for: every parent of ``host`` but the last label
    (``a.apps.gov.cn`` → ``apps.gov.cn``, ``gov.cn``). Browsers ignore the ones on the Public Suffix List."""
    name = host.strip().lower()
    if name.startswith("["):  # an IPv6 address
        return []
    labels = name.partition(":")[0].strip(".").split(".")
    if len(labels) < 2 or all(label.isdigit() for label in labels):  # a bare name or an IPv4 address
        return []
    return [".".join(labels[i:]) for i in range(1, len(labels) - 1)]


def path_prefixes(path: str) -> list[str]:
    """``/a/b/c`` → ``/``, ``/a``, ``/a/b``, ``/a/b/c``: the paths a planted cookie may have chosen to be sent first."""
    parts = [p for p in path.split("/") if p][:8]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def expiring_cookies(names: Iterable[str], host: str, path: str) -> list[str]:
    headers = []
    for name in names:
        if name.startswith("__Host-"):
            continue  # never set with a Domain: nobody else can have planted it
        for domain in parent_domains(host):
            for cookie_path in path_prefixes(path):
                headers.append(dump_cookie(name, "", max_age=0, path=cookie_path, domain=domain))
    return headers


class DuplicateCookieGuard:
    """WSGI middleware: refuse a request whose ``Cookie`` header names a cookie twice (400, with the copies on the
    parent domains expired)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        names = duplicated_names(environ.get("HTTP_COOKIE", ""))
        if not names:
            return self.app(environ, start_response)
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        path = environ.get("PATH_INFO", "/") or "/"
        listed = ", ".join(names)
        if path.startswith(("/api/", "/oauth/")) or "application/json" in environ.get("HTTP_ACCEPT", ""):
            body = json.dumps({
                "type": "about:blank#duplicate_cookie", "title": "Bad Request", "status": 400, "code": "duplicate_cookie",
                "detail": f"the request carries more than one cookie named {listed}; one was probably set by another "
                          "site under the same parent domain. Delete these cookies and send the request again."}).encode()
            content_type = "application/problem+json"
        else:
            body = PAGE.format(names=escape(listed)).encode()
            content_type = "text/html; charset=utf-8"
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
        headers += [("Set-Cookie", cookie) for cookie in expiring_cookies(names, host, path)]
        start_response("400 Bad Request", headers)
        return [body]


class _GuardedInput:
    """``wsgi.input`` whose read failures are a 400 naming the problem."""

    def __init__(self, stream):
        self._stream = stream

    def _call(self, method: str, *args):
        try:
            return getattr(self._stream, method)(*args)
        except (OSError, ValueError) as exc:
            raise ClientDisconnected(f"the request body could not be read ({exc}); if it is sent in chunks, each "
                                     "chunk needs its size in hexadecimal and the body a final zero-size chunk") from exc

    def read(self, *args):
        return self._call("read", *args)

    def readline(self, *args):
        return self._call("readline", *args)

    def readlines(self, *args):
        return self._call("readlines", *args)

    def __iter__(self):
        return iter(self.readline, b"")


class BodyReadGuard:
    """WSGI middleware: a request body that breaks while being read is the client's error (400), not ours."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        stream = environ.get("wsgi.input")
        if stream is not None:
            environ["wsgi.input"] = _GuardedInput(stream)
        return self.app(environ, start_response)
