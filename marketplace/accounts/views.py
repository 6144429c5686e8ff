"""Web login and logout."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from core.errors import Unauthenticated
from core.extensions import limiter, login_manager
from marketplace.accounts import services
from marketplace.accounts.forms import LoginForm, LogoutForm

bp = Blueprint("accounts", __name__)


@login_manager.user_loader
def _load_user(user_id: str):
    return services.user_get(int(user_id))


def _login_failed(response) -> bool:
    return response.status_code == 401


def _account_key() -> str:
    return "login:" + (request.form.get("email") or "").strip().lower()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"], deduct_when=_login_failed,
               error_message="Too many failed logins; wait a minute and try again.")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"], deduct_when=_login_failed,
               key_func=_account_key, error_message="Too many failed logins for this account; wait a minute.")
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.user_authenticate(form.email.data, form.password.data)
        except Unauthenticated as exc:
            form.password.errors.append(_("The email or password is wrong."))
            return render_template("accounts/login.html", form=form, error=exc.message), 401
        login_user(user)
        flash(_("Welcome, %(name)s.", name=user.display_name), "success")
        target = request.args.get("next", "")
        # Only local paths: an open redirect would let phishing pages borrow our login.
        if not target.startswith("/") or target.startswith("//"):
            target = url_for("home.index")
        return redirect(target)
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
def logout():
    form = LogoutForm()
    if form.validate_on_submit():
        logout_user()
        flash(_("You are logged out."), "info")
    return redirect(url_for("home.index"))
