"""The one redirect check (core.redirects): whatever a ``next=`` holds, a browser following the answer stays on the
platform or an app's origin. The oracle is ada (the WHATWG URL standard browsers implement), not urllib."""

from __future__ import annotations

from urllib.parse import quote, unquote

import pytest
from ada_url import URL, join_url
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.redirects import safe_redirect_target

PLATFORM = "localhost:5000"
APPS = "apps.localhost:5055"
BASE = f"http://{PLATFORM}/identity/personas"

# The probe's payloads (issue 14, item 3) and their relatives, each as the view receives it (query-decoded).
HOSTILE = [
    "/\t/attacker.localhost:5055/",
    "http://attacker.localhost\\.apps.localhost:5055/",
    "/\t/x",
    "//attacker.localhost",
    "///attacker.localhost",
    "/\\attacker.localhost",
    "\\/attacker.localhost",
    "/\n/attacker.localhost",
    "/\r\n/attacker.localhost",
    " //attacker.localhost",
    "\x00//attacker.localhost",
    "\x0b//attacker.localhost",
    "http:attacker.localhost",
    "http:/attacker.localhost",
    "https://attacker.localhost/",
    "https://localhost:5000@attacker.localhost/",
    "http://attacker.localhost#.apps.localhost:5055",
    "http://attacker.localhost?.apps.localhost:5055",
    "http://attacker.localhost/.apps.localhost:5055",
    "http://attacker.localhost%2f.apps.localhost:5055/",
    "http://attacker.localhost%5c.apps.localhost:5055/",
    "http://attacker。localhost.apps.localhost:5055/",
    "http://attacker.localhost／.apps.localhost:5055/",
    "http://a.b.apps.localhost:5055/",
    "http://apps.localhost:5055.attacker.localhost/",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "\tjavascript:alert(1)",
    "ftp://localhost:5000/",
    "http://[::1]/",
    "http://[/",
    "attacker.localhost",
    "../../attacker",
]


def lands_on_allowed_origin(target: str) -> bool:
    """Where a browser on BASE goes when a response says ``Location: target``."""
    url = URL(join_url(BASE, target))
    if url.protocol not in {"http:", "https:"}:
        return False
    if url.host == PLATFORM:
        return True
    label, _, rest = url.host.partition(".")
    return rest == APPS and bool(label) and "." not in label


def judge(target: str) -> str | None:
    return safe_redirect_target(target, hosts=(PLATFORM,), apps_domain=APPS)


@pytest.mark.parametrize("target", HOSTILE)
def test_the_probes_payloads_are_refused(target):
    assert judge(target) is None


@pytest.mark.parametrize("target", ["/", "/apps/food/launch", "/orders?q=a%20b&page=2#top", "/%09/x", "/.//x",
                                    "http://localhost:5000/my-data", "HTTP://LocalHost:5000/x",
                                    "http://food-shiantong.apps.localhost:5055/", "https://x1.apps.localhost:5055/a?b=c"])
def test_our_own_pages_and_app_origins_are_kept(target):
    kept = judge(target)
    assert kept is not None and lands_on_allowed_origin(kept)
    assert URL(join_url(BASE, kept)).href == URL(join_url(BASE, target)).href


def test_app_origins_only_where_the_caller_allows_them():
    assert safe_redirect_target("http://food.apps.localhost:5055/", hosts=(PLATFORM,)) is None
    assert safe_redirect_target("http://food.apps.localhost:5055/", hosts=("food.apps.localhost:5055",)) is not None


def test_control_characters_are_removed_not_passed_on():
    assert judge("/apps/\tfood\n/launch") == "/apps/food/launch"


PIECES = st.sampled_from([
    "/", "//", "\\", "\t", "\n", "\r", " ", "\x00", "\x1f", "\x7f", "%09", "%2F", "%2f", "%5C", "%5c", "%00", "%40",
    "@", ":", "?", "#", ".", "..", "[", "]", "%", "http:", "https:", "HTTP:", "javascript:", "data:", "／", "＼", "。",
    "attacker.localhost", "localhost:5000", "localhost", ".apps.localhost:5055", "apps.localhost:5055", "food",
    "5055", "a",
])


@settings(max_examples=600, deadline=None)
@given(st.lists(PIECES, min_size=1, max_size=8).map("".join), st.sampled_from(["raw", "decoded", "encoded"]))
@example("/\t/attacker.localhost:5055/", "raw")
@example("%2F%09%2Fattacker.localhost%3A5055%2F", "decoded")
@example("http://attacker.localhost%5C.apps.localhost:5055/", "decoded")
def test_whatever_next_holds_the_browser_stays_on_an_allowed_origin(target, form):
    """Pieces of the known tricks, glued at random, sent raw, query-decoded once more (a double-encoded
    parameter) or percent-encoded: what the check lets through never leaves the platform or an app origin."""
    value = {"raw": target, "decoded": unquote(target), "encoded": quote(target, safe="")}[form]
    kept = judge(value)
    if kept is not None:
        assert lands_on_allowed_origin(kept), f"{value!r} → {kept!r} leaves for {URL(join_url(BASE, kept)).host}"
