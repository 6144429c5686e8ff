"""Web login and logout, and the API clients page (vendors need a client for `govapp login`)."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, flash, g, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from core.auth import web_actor
from core.errors import Unauthenticated, ValidationError
from core.extensions import limiter, login_manager
from core.redirects import platform_next
from marketplace.accounts import login_delay, services
from marketplace.accounts.forms import ClientForm, LoginForm, LogoutForm
from marketplace.accounts.scopes import ROLE_SCOPES, SCOPES
from marketplace.forms import select_choices, show_service_errors

bp = Blueprint("accounts", __name__, template_folder="templates")
# A session's last use is written into it at most this often (each write re-sends the cookie).
SEEN_EVERY = 60


@login_manager.user_loader
def _load_user(session_id: str):
    """The user of this request's session while the session is current: issued under the user's present session
    version (logging out moves it on), used within SESSION_IDLE_SECONDS and younger than SESSION_MAX_SECONDS."""
    now = int(time.time())
    login_at, seen_at = session.get("login_at"), session.get("seen_at")
    if not isinstance(login_at, int) or not isinstance(seen_at, int):
        return None  # a session from before these rules, or a remember-me cookie: log in again
    if now - login_at >= current_app.config["SESSION_MAX_SECONDS"] or now - seen_at >= current_app.config["SESSION_IDLE_SECONDS"]:
        return None
    user = services.session_user(session_id)
    if user is not None and now - seen_at >= SEEN_EVERY:
        session["seen_at"] = now
    return user


def start_session(user) -> None:
    """Log ``user`` in on a new session (no fixation: nothing of the anonymous session is kept, and the CSRF token
    is new), stamped with its login time for the idle and absolute lifetimes. Staff and citizen logins use it."""
    session.clear()
    g.pop("csrf_token", None)  # Flask-WTF caches the token of the old session here
    login_user(user)
    session["login_at"] = session["seen_at"] = int(time.time())


def _login_failed(response) -> bool:
    return response.status_code == 401


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"], deduct_when=_login_failed,
               error_message="Too many failed logins; wait a minute and try again.")
def login():
    form = LoginForm()
    if form.validate_on_submit():
        # Per account a progressive delay, never a lock (login_delay): someone else's failures cannot keep the owner out.
        wait = login_delay.wait_seconds(form.email.data)
        if wait:
            message = _("Too many failed logins for this account: try again in %(seconds)d seconds.", seconds=wait)
            response = make_response(render_template("accounts/login.html", form=form, wait=message), 429)
            response.headers["Retry-After"] = str(wait)
            return response
        try:
            user = services.user_authenticate(form.email.data, form.password.data)
        except Unauthenticated as exc:
            login_delay.record_failure(form.email.data)
            form.password.errors.append(_("The email or password is wrong."))
            return render_template("accounts/login.html", form=form, error=exc.message), 401
        start_session(user)
        flash(_("Welcome, %(name)s.", name=user.display_name), "success")
        # Only the platform's own pages: an open redirect would let phishing pages borrow our login.
        response = redirect(platform_next(request.args.get("next")) or url_for("home.index"))
        login_delay.remember_device(response, form.email.data)
        return response
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
def logout():
    form = LogoutForm()
    if form.validate_on_submit():
        user = web_actor(required=False)
        if user is not None:
            services.user_logout(user)
        logout_user()
        session.clear()
        flash(_("You are logged out."), "info")
    return redirect(url_for("home.index"))


# --- API clients: vendors' CI and `govapp login` authenticate with these -----------------------------


def _client_form(actor) -> ClientForm:
    form = ClientForm()
    form.scopes.choices = select_choices({scope: f"{scope} — {SCOPES[scope]}" for scope in sorted(ROLE_SCOPES[actor.role])})
    return form


def _render_clients(actor, form, *, created=None, secret=None, status=200):
    response = make_response(render_template(
        "accounts/clients.html", clients=services.client_list(actor), form=form, created=created, secret=secret,
        token_url=url_for("oauth.issue_token", _external=True)), status)
    # The page may show a secret once: never keep it in a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/account/clients")
def client_list():
    actor = web_actor()
    return _render_clients(actor, _client_form(actor))


@bp.post("/account/clients")
def client_create():
    actor = web_actor()
    form = _client_form(actor)
    if form.validate_on_submit():
        try:
            client, secret = services.client_create(actor, name=form.name.data, scopes=form.scopes.data)
        except ValidationError as exc:
            show_service_errors(form, exc.errors, exc.message)
            return _render_clients(actor, form, status=422)
        return _render_clients(actor, _client_form(actor), created=client, secret=secret, status=201)
    return _render_clients(actor, form, status=422)


@bp.post("/account/clients/<client_id>/revoke")
def client_revoke(client_id: str):
    # The button's CSRF token was checked by CSRFProtect before this view runs.
    actor = web_actor()
    client = services.client_revoke(actor, client_id)
    flash(_("API client %(name)s revoked; its tokens no longer work.", name=client.name), "success")
    return redirect(url_for("accounts.client_list"))
