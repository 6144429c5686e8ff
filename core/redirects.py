"""Where a ``next=`` address may send the browser: the one check every redirect taken from a request goes through.

Browsers do not read an address the way ``urllib`` does (the WHATWG URL standard): they drop tabs and newlines
anywhere in it and spaces and control characters around it, take ``\\`` for ``/`` in http(s) addresses, and
map full-width or other look-alike characters of a host name to ASCII. So ``/\\t/evil.example``,
``/\\evil.example`` and ``http://evil.example\\.apps.host/`` all lead off-site although they look local. The
check therefore first removes what a browser would remove, refuses what a browser would reinterpret
(backslashes, non-ASCII or percent-encoded host names, user info), and only then compares the host with the
ones allowed: a relative path of our own origin, our own host, or an app's origin ``<slug>.<apps domain>``
where the caller allows it (docs/security.md, "Redirects").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from flask import current_app, request

# C0 controls, space and DEL: browsers strip them around an address and drop tab/CR/LF inside it; a redirect
# target has no business holding any of them, so they are removed before the address is judged.
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_HOST = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::[0-9]{1,5})?$")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def safe_redirect_target(target: str | None, *, hosts: Iterable[str] = (), apps_domain: str | None = None) -> str | None:
    """``target`` cleaned of control characters if a browser following it stays on an allowed origin, else None.

    Allowed: a path of the current origin (``/…`` but not ``//…``); an ``http``/``https`` address whose
    ``host[:port]`` is one of ``hosts``; with ``apps_domain``, one whose host is a single label under it (an
    app's own origin). Everything else — other hosts, scheme-relative ``//host``, backslashes, user info,
    non-ASCII or percent-encoded hosts, other schemes (``javascript:``, ``data:``) — is None: the caller then
    uses its own default page.
    """
    if not target:
        return None
    cleaned = _CONTROL.sub("", target)
    if not cleaned or "\\" in cleaned:
        return None
    try:
        parts = urlsplit(cleaned)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return None
    if not parts.scheme and not parts.netloc:
        # A relative reference: only an absolute path of this origin. "//x" is scheme-relative (another host),
        # "x" or "../x" depend on the current page; neither is what a next= means.
        if not cleaned.startswith("/") or cleaned.startswith("//"):
            return None
        return cleaned
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    netloc = parts.netloc.lower()
    if not _HOST.match(netloc):  # user info ("@"), "%", non-ASCII, brackets: nothing a next= needs
        return None
    allowed = {h.lower() for h in hosts if h}
    if netloc not in allowed and not _is_app_origin(netloc, apps_domain):
        return None
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


def _is_app_origin(netloc: str, apps_domain: str | None) -> bool:
    if not apps_domain:
        return False
    suffix = "." + apps_domain.lower()
    if not netloc.endswith(suffix):
        return False
    return bool(_LABEL.match(netloc[: -len(suffix)]))


def platform_next(target: str | None, *, apps: bool = False) -> str | None:
    """The ``next=`` of a platform page, judged by ``safe_redirect_target``: a path of the platform, an address on
    the platform's own host (its public ``ISSUER`` or the host this request came to) and, with ``apps``, an app's
    origin (the citizen login and consent pages send citizens back to the app they came from)."""
    issuer_host = urlsplit(str(current_app.config.get("ISSUER") or "")).netloc
    return safe_redirect_target(target, hosts=(issuer_host, request.host),
                                apps_domain=current_app.config["APPS_DOMAIN"] if apps else None)
