"""The platform served for real on loopback, and a phone-sized Chromium, for the tests that need them."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.services import launch_chromium

PHONE = {"width": 360, "height": 740}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(app, port: int = 0) -> Iterator[int]:
    """``app`` (the whole WSGI app, host dispatch included) behind werkzeug's threaded server on 127.0.0.1:``port``
    (0: a free one); yields the port. On the way out: the server stops, the app instances it served are stopped
    and the database connections it pooled are closed."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(timeout=10)
        from marketplace.gateway import instances

        if instances.EXTENSION in app.extensions:
            instances.registry(app).close()
        with app.app_context():
            from core.extensions import db

            db.engine.dispose()


@contextmanager
def chromium() -> Iterator:
    """Headless Debian Chromium under Playwright (fails under CI, skips locally, when it is missing)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def phone_page(browser, *, timeout_ms: int = 15_000) -> Iterator:
    """A new page in a fresh context sized, touched and localised (zh-CN) like a citizen's phone."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    try:
        yield page
    finally:
        context.close()
