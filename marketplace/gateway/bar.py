"""The platform bar: the gateway puts a thin bar at the top of every HTML page an app serves, with the way back
to the platform (the app's page in the market, My cases). Citizens always know where they are and how to leave,
whatever the app's own design.

The bar is plain links in a <nav> with inline styles: under an app's strict Content-Security-Policy the styles
are dropped and the links remain. It is inserted right after the page's <body> tag (or after </head> when the
page omits <body>), found within the first ``SEARCH_BYTES`` of the page; compressed bodies and pages where
neither tag appears are passed through unchanged. The app's Content-Length no longer holds and is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from html import escape

BODY_TAG = re.compile(rb"<body\b[^>]*>", re.I)
HEAD_END = re.compile(rb"</head\s*>", re.I)
SEARCH_BYTES = 64 * 1024
TEXTS = {
    "zh": {"label": "政务应用市场", "back": "← 返回政务应用市场", "cases": "我的办件", "via": "本应用经平台认证"},
    "en": {"label": "Gov App Market", "back": "← Back to the Gov App Market", "cases": "My cases",
           "via": "Certified by the platform"},
}
STYLE = ("display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center;margin:0;padding:.5rem .75rem;"
         "background:#0b3d6e;color:#fff;font:15px/1.6 system-ui,sans-serif")
LINK_STYLE = "color:#fff;text-decoration:underline;padding:.35rem 0;display:inline-block"


def bar_html(platform_url: str, slug: str, app_name: str, language: str) -> bytes:
    """The bar's markup: ``platform_url`` is the platform's base URL, ``language`` "zh" or "en"."""
    t = TEXTS["en" if language == "en" else "zh"]
    base = escape(platform_url.rstrip("/"))
    lang = "en" if language == "en" else "zh-CN"
    return (f'<nav id="govmarket-bar" lang="{lang}" aria-label="{t["label"]}" style="{STYLE}">'
            f'<a href="{base}/services/apps/{escape(slug)}" style="{LINK_STYLE}">{t["back"]}</a>'
            f'<a href="{base}/my/cases" style="{LINK_STYLE}">{t["cases"]}</a>'
            f'<span style="opacity:.9">{escape(app_name)} · {t["via"]}</span></nav>').encode()


def injectable(status: int, headers: list[tuple[str, str]]) -> bool:
    """Only whole HTML pages the browser shows: 200, text/html, not compressed."""
    values = {k.lower(): v for k, v in headers}
    return (status == 200 and values.get("content-type", "").lower().startswith("text/html")
            and values.get("content-encoding", "identity").lower() == "identity")


def without_length(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() != "content-length"]


class WithBar:
    """The app's body with the bar inserted; ``close`` closes the app's body (the gateway's lease)."""

    def __init__(self, body: Iterable[bytes], bar: bytes):
        self.body, self.bar = body, bar

    def __iter__(self) -> Iterator[bytes]:
        head = b""
        chunks = iter(self.body)
        for chunk in chunks:
            head += chunk
            match = BODY_TAG.search(head) or (HEAD_END.search(head) if len(head) >= SEARCH_BYTES else None)
            if match:
                yield head[:match.end()] + self.bar + head[match.end():]
                break
            if len(head) >= SEARCH_BYTES:
                yield head
                break
        else:
            match = BODY_TAG.search(head) or HEAD_END.search(head)
            yield head[:match.end()] + self.bar + head[match.end():] if match else head
            return
        yield from chunks

    def close(self) -> None:
        close = getattr(self.body, "close", None)
        if close is not None:
            close()
