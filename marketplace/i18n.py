"""The platform's two languages: which one a request is served in (``?lang=``, remembered in a cookie, then the
browser's preference, then Chinese), and Flask-Babel set up to follow it."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_babel import Babel, force_locale, get_locale, gettext, refresh
from flask_babel import lazy_gettext as _l

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


# --- errors in the reader's language ----------------------------------------------------------------------------

STATUS_TITLES = {
    400: _l("Bad request"), 401: _l("Please log in"), 403: _l("Not allowed"), 404: _l("Not found"),
    405: _l("Method not allowed"), 409: _l("Conflict"), 413: _l("Too large"), 415: _l("Unsupported media type"),
    422: _l("Invalid input"), 429: _l("Too many requests"), 500: _l("Server error"), 503: _l("Service unavailable"),
}
# What a person can do about each kind of error, when the error's own message has no translation.
STATUS_ADVICE = {
    400: _l("The request could not be understood; go back and try again."),
    401: _l("Log in to see this page."),
    403: _l("Your account may not do this. Log in with an account that has the right role."),
    404: _l("The page does not exist, or you may not see it with your account."),
    405: _l("This address does not accept that kind of request."),
    409: _l("Reload the page to see the current state, then try again."),
    413: _l("The upload is too large; make it smaller and try again."),
    415: _l("Send the data in the format the form or API expects."),
    422: _l("Some of what you entered is not valid; correct it and send again."),
    429: _l("Too many attempts; wait a minute and try again."),
    500: _l("Something went wrong on our side; it has been logged."),
    503: _l("A service the platform needs is not available; try again later."),
}


def status_title(status: int, fallback: str = "") -> str:
    """The localized name of an HTTP error status (the English fallback for an unknown one)."""
    return str(STATUS_TITLES[status]) if status in STATUS_TITLES else fallback


def translated(message: str) -> str | None:
    """``message`` in the reader's language when the catalogue has it (messages with no variable part), else
    None (the English original is then shown marked as English, after localized advice)."""
    if locale_code() == "en":
        return message
    result = gettext(message)
    return result if result != message else None


def api_language():
    """API clients get English unless they ask for Chinese (Accept-Language): scripts parse English titles."""
    best = request.accept_languages.best_match(LOCALES)
    return force_locale("zh_CN" if best == "zh_CN" else "en")
