"""Failed logins slow an account down; they never lock it (issue 14, item 6).

A hard per-account limit let anyone lock a named account by failing its login on purpose. Instead, after
FREE_FAILURES failures within FAILURE_WINDOW_SECONDS, each further failure makes the account wait before the next
attempt — 1, 2, 4 … seconds, at most MAX_DELAY_SECONDS — which keeps online guessing of one account slow from any
number of addresses. A browser that has logged in to the account before carries a signed "known device" cookie and
is not made to wait, so the owner is never kept out by someone else's failures. Guessing from one address stays
limited by LOGIN_RATE_LIMIT per client address (the real one behind TRUSTED_PROXY_HOPS proxies).

A successful login does not reset the account's counters (the owner's login would otherwise free an attacker
working on the account); they run out FAILURE_WINDOW_SECONDS after the first failure. The counters live in the rate
limiter's storage (Redis when several web processes run), keyed by a hash of the
email address, so every process sees the same delay and no address is stored in clear.
"""

from __future__ import annotations

import math
import time

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

from core.extensions import limiter
from marketplace.accounts.staff_traces import account_digest

FREE_FAILURES = 3
MAX_DELAY_SECONDS = 60
FAILURE_WINDOW_SECONDS = 15 * 60
KNOWN_DEVICE_DAYS = 180
KNOWN_ACCOUNTS_KEPT = 5


def wait_seconds(email: str) -> int:
    """How long this request must wait before it may try ``email``'s password (0: now)."""
    if account_digest(email) in known_accounts():
        return 0
    key = "login-wait:" + account_digest(email)
    if not limiter.storage.get(key):
        return 0
    return max(1, math.ceil(limiter.storage.get_expiry(key) - time.time()))


def record_failure(email: str) -> None:
    account = account_digest(email)
    failures = limiter.storage.incr("login-failures:" + account, FAILURE_WINDOW_SECONDS)
    if failures > FREE_FAILURES:
        delay = min(2 ** (failures - FREE_FAILURES - 1), MAX_DELAY_SECONDS)
        limiter.storage.clear("login-wait:" + account)
        limiter.storage.incr("login-wait:" + account, delay)


# --- The known-device cookie -------------------------------------------------------------------------------------


def _cookie_name() -> str:
    return "__Host-known_device" if current_app.config.get("SESSION_COOKIE_SECURE") else "known_device"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="known-device")


def known_accounts() -> list[str]:
    """The accounts (hashed) this browser has logged in to."""
    raw = request.cookies.get(_cookie_name())
    if not raw:
        return []
    try:
        accounts = _serializer().loads(raw)
    except BadSignature:
        return []
    return [a for a in accounts if isinstance(a, str)] if isinstance(accounts, list) else []


def remember_device(response, email: str) -> None:
    """Mark this browser as one that logged in to ``email`` (it will not wait after others' failures)."""
    account = account_digest(email)
    accounts = [account] + [a for a in known_accounts() if a != account]
    response.set_cookie(_cookie_name(), _serializer().dumps(accounts[:KNOWN_ACCOUNTS_KEPT]),
                        max_age=KNOWN_DEVICE_DAYS * 86400, path="/", httponly=True, samesite="Lax",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
