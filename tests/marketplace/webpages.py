"""Driving the server-rendered pages in tests: CSRF tokens are real (WTF_CSRF_ENABLED is on), so every
POST first reads the token from the page that carries the form, as a browser would."""

from __future__ import annotations

import re

PASSWORD = "correct horse battery"  # the password of every user in the `world` fixture
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, page_url: str) -> str:
    """The CSRF token of the form on ``page_url`` (one token per session serves every form)."""
    response = client.get(page_url)
    assert response.status_code == 200, (page_url, response.status_code, response.get_data(as_text=True)[:500])
    match = _TOKEN.search(response.get_data(as_text=True))
    assert match, f"no CSRF token in the form on {page_url}"
    return match.group(1)


def submit(client, page_url: str, data: dict, *, action: str | None = None, **kw):
    """Fetch the page holding the form, then POST ``data`` with its CSRF token to ``action`` (default: the page)."""
    token = csrf_token(client, page_url)
    return client.post(action or page_url, data={"csrf_token": token, **data}, **kw)


def login(client, who: str):
    """Log in through the login form as one of the `world` fixture's users (e.g. 'staff_a')."""
    response = submit(client, "/login", {"email": f"{who}@test.example.cn", "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def text(response) -> str:
    return response.get_data(as_text=True)
