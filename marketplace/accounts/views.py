"""Web login and logout, the API clients page (vendors need a client for `govapp login`), and vendor
onboarding: the application form, the administrators' review, invitations of members."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, flash, g, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from markupsafe import Markup

from core.auth import require_role, web_actor
from core.errors import Unauthenticated, ValidationError
from core.extensions import limiter, login_manager
from core.redirects import platform_next
from core.roles import Role
from core.storage import FileBlobStore
from marketplace.accounts import login_delay, onboarding, services, staff_traces
from marketplace.accounts.forms import (
    AcceptInvitationForm,
    ClientForm,
    DecisionForm,
    InvitationForm,
    LoginForm,
    LogoutForm,
    VendorApplicationForm,
)
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
    is new), stamped with its login time for the idle and absolute lifetimes. Staff and citizen logins use it; each
    leaves the traces the staff rating signal needs (``staff_traces``: a vendor member's network, a citizen account
    used in a vendor member's browser)."""
    session.clear()
    g.pop("csrf_token", None)  # Flask-WTF caches the token of the old session here
    login_user(user)
    session["login_at"] = session["seen_at"] = int(time.time())
    staff_traces.staff_trace_record(
        user, network=staff_traces.network_hash(request.remote_addr, current_app.config["SECRET_KEY"]),
        browser_accounts=login_delay.known_accounts())


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
            # Flask-Limiter (RATELIMIT_HEADERS_ENABLED) rewrites Retry-After as whole seconds to the later of this
            # and its own reset, rounding down; handed the end of the wait's last second, it says `wait` again.
            response.headers["Retry-After"] = str(wait + 1)
            return response
        try:
            user = services.user_authenticate(form.email.data, form.password.data)
        except Unauthenticated as exc:
            login_delay.record_failure(form.email.data)
            form.password.errors.append(_("The email or password is wrong."))
            return render_template("accounts/login.html", form=form, error=exc.message), 401
        start_session(user)
        flash(_("Welcome, %(name)s.", name=user.display_name), "success")
        # Only the platform's own pages: an open redirect would let phishing pages borrow our login. Without a next
        # page, platform users land on their work queue (citizens log in at /identity, not here).
        default = url_for("home.work") if user.role != "citizen" else url_for("home.index")
        response = redirect(platform_next(request.args.get("next")) or default)
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
    form.scopes.choices = select_choices({scope: Markup("<code>{}</code> — {}").format(scope, SCOPES[scope])
                                          for scope in sorted(ROLE_SCOPES[actor.role])})
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


# --- vendor onboarding ----------------------------------------------------------------------------------


@bp.route("/vendors/apply", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def vendor_apply():
    """A company applies to become a vendor (no account needed)."""
    form = VendorApplicationForm()
    if form.validate_on_submit():
        upload = form.licence.data
        try:
            application = onboarding.vendor_application_submit(
                company_name=form.company_name.data, credit_code=form.credit_code.data,
                contact_name=form.contact_name.data, contact_email=form.contact_email.data,
                contact_phone=form.contact_phone.data, licence=upload.stream, licence_filename=upload.filename or "",
                store=FileBlobStore(current_app.config["BUNDLE_STORE"]))
        except ValidationError as exc:
            show_service_errors(form, exc.errors, exc.message)
            return render_template("accounts/vendor_apply.html", form=form), 422
        return render_template("accounts/vendor_applied.html", application=application), 201
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/vendor_apply.html", form=form), status


@bp.get("/admin/vendor-applications")
def vendor_applications():
    actor = web_actor()
    return render_template("accounts/vendor_applications.html",
                           pending=onboarding.vendor_application_list(actor, status="pending", page_size=50),
                           decided=onboarding.vendor_application_list(actor, status="decided", page_size=20),
                           form=DecisionForm())


@bp.post("/admin/vendor-applications/<int:application_id>/<any(approve, reject):decision>")
def vendor_application_decide(application_id: int, decision: str):
    actor = web_actor()
    form = DecisionForm()
    form.validate()
    application, token = onboarding.vendor_application_decide(actor, application_id, approve=decision == "approve",
                                                             reason=form.reason.data or "")
    if token:
        flash(_("%(company)s is registered. Send this invitation link to %(email)s: %(link)s",
                company=application.company_name, email=application.contact_email,
                link=url_for("accounts.invitation_accept", token=token, _external=True)), "success")
    else:
        flash(_("Application of %(company)s rejected; the reason is kept.", company=application.company_name), "info")
    return redirect(url_for("accounts.vendor_applications"))


@bp.route("/account/invitations", methods=["GET", "POST"])
def invitation_new():
    """A vendor member invites a colleague."""
    actor = web_actor()
    require_role(actor, Role.VENDOR_MEMBER, action="invite colleagues to your vendor")
    form, link = InvitationForm(), None
    if form.validate_on_submit():
        try:
            _invitation, token = onboarding.invitation_create(actor, actor.vendor_id, form.email.data)
        except ValidationError as exc:
            show_service_errors(form, exc.errors, exc.message)
        else:
            link = url_for("accounts.invitation_accept", token=token, _external=True)
    response = make_response(render_template("accounts/invitation_new.html", form=form, link=link),
                             422 if form.errors else 200)
    response.headers["Cache-Control"] = "no-store"  # the link is shown once
    return response


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def invitation_accept(token: str):
    invitation = onboarding.invitation_get(token)
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            user = onboarding.invitation_accept(token, display_name=form.display_name.data, password=form.password.data)
        except ValidationError as exc:
            show_service_errors(form, exc.errors, exc.message)
        else:
            start_session(user)
            flash(_("Welcome, %(name)s.", name=user.display_name), "success")
            return redirect(url_for("home.work"))
    response = make_response(render_template("accounts/invitation_accept.html", form=form, invitation=invitation),
                             422 if form.errors else 200)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token must not leak to linked pages
    return response
