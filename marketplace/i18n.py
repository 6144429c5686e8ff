"""The platform's two languages: which one a request is served in (``?lang=``, remembered in a cookie, then the
browser's preference, then Chinese), and Flask-Babel set up to follow it."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_babel import Babel, get_locale, refresh

LOCALES = ("zh_CN", "en")
LANG_COOKIE = "lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


def select_locale() -> str:
    """?lang= (remembered in a cookie by the pages), then the browser's preference, then Chinese."""
    chosen = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    if chosen in LOCALES:
        return chosen
    return request.accept_languages.best_match(LOCALES) or LOCALES[0]


def locale_code() -> str:
    """The chosen catalogue: "zh_CN" or "en"."""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh_CN"


def choose_language_per_request() -> None:
    # Flask-Babel caches the locale on the application context, which a request reuses when one is already
    # pushed (CLI commands, tests): forget it so every request applies its own ?lang= / cookie.
    refresh()


def remember_language(response):
    chosen = request.args.get("lang")
    if chosen in LOCALES and request.cookies.get(LANG_COOKIE) != chosen:
        response.set_cookie(LANG_COOKIE, chosen, max_age=LANG_COOKIE_MAX_AGE, samesite="Lax", httponly=True,
                            secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return response


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.before_request(choose_language_per_request)
    app.after_request(remember_language)
