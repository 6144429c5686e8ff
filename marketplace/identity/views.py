"""Citizen pages: log in (mock personas in development, the identity provider in production), consent to an
app, "my data" (consents and the data-access log), and the access-log audit for admins and auditors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authlib.integrations.base_client.errors import OAuthError
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.auth import web_actor
from core.errors import Unauthenticated, ValidationError
from core.redirects import platform_next
from marketplace.accounts.views import start_session
from marketplace.forms import select_choices
from marketplace.identity import authz, keys, oidc_client, services
from marketplace.identity.forms import AccessLogFilterForm, ConsentForm, PersonaLoginForm, RevokeForm
from marketplace.identity.personas import persona_list

bp = Blueprint("identity", __name__, url_prefix="/identity", template_folder="templates")
PAGE_SIZE = 50

FIELD_LABELS = {
    "name": _l("Full name"), "resident_id": _l("Resident ID number"), "phone": _l("Mobile phone number"),
    "address": _l("Registered address"), "birth_date": _l("Date of birth"), "gender": _l("Gender"),
}
GENDER_LABELS = {"male": _l("Male"), "female": _l("Female")}
PERSONA_LABELS = {
    "food_ok": _l("Restaurant owner whose food-licence application is in order"),
    "food_not_legal_rep": _l("Applies for a food licence for someone else's business"),
    "food_licence_expired": _l("Restaurant owner whose business licence has expired"),
    "food_small_premises_hot_food": _l("Wants to sell hot food from premises under 20 m²"),
    "ssc_ok": _l("Insured adult without a social-security card"),
    "ssc_not_insured": _l("Adult without active social insurance"),
    "ssc_minor_guardian": _l("Parent applying for a child's social-security card"),
    "awkward_rare_name": _l("Name with a rare character outside GB 2312"),
    "awkward_minority_name": _l("Minority name with a middle dot"),
    "awkward_elderly": _l("Aged 90 or more"),
}


def check_config(config: Mapping[str, Any]) -> None:
    """Refuse to start a production instance that would let anyone log in as a mock persona."""
    if config.get("ENV") == "production" and config.get("PERSONA_LOGIN"):
        raise RuntimeError("GOVMARKET_PERSONA_LOGIN must not be set when GOVMARKET_ENV=production: mock personas "
                           "would let anyone log in as a citizen; use GOVMARKET_OIDC_ISSUER for citizen login")


@bp.app_context_processor
def identity_labels():
    return {"field_labels": FIELD_LABELS, "gender_labels": GENDER_LABELS}


def _safe_next(target: str | None) -> str | None:
    """Only our own pages, or an app's own origin (<slug>.<APPS_DOMAIN>): never an open redirect."""
    return platform_next(target, apps=True)


# --- Login -------------------------------------------------------------------------------------------------


@bp.get("/login")
def login():
    """Citizen login: the identity provider's button, and the persona picker in development."""
    next_url = _safe_next(request.args.get("next"))
    return render_template("identity/login.html", next=next_url, federation=oidc_client.upstream() is not None,
                           personas=authz.persona_login_allowed(current_app.config))


@bp.route("/personas", methods=["GET", "POST"])
def personas():
    if not authz.persona_login_allowed(current_app.config):
        abort(404)
    form = PersonaLoginForm()
    next_url = _safe_next(request.args.get("next"))
    if form.validate_on_submit():
        user = services.citizen_login_persona(form.resident_id.data, settings=current_app.config)
        start_session(user)
        flash(_("Welcome, %(name)s.", name=user.display_name), "success")
        return redirect(next_url or url_for("identity.my_data"))
    status = 422 if request.method == "POST" else 200
    return render_template("identity/personas.html", personas=persona_list(), labels=PERSONA_LABELS, form=form,
                           next=next_url), status


@bp.get("/federated/login")
def federated_login():
    client = oidc_client.upstream()
    if client is None:
        abort(404)
    session["identity_next"] = _safe_next(request.args.get("next"))
    # The callback URL the provider knows is under our public address, not whatever Host this request had.
    return client.authorize_redirect(keys.platform_issuer() + url_for("identity.federated_callback"))


@bp.get("/federated/callback")
def federated_callback():
    client = oidc_client.upstream()
    if client is None:
        abort(404)
    try:
        token = client.authorize_access_token()
    except OAuthError as exc:
        raise Unauthenticated(f"the identity provider did not log you in ({exc.description or exc.error}); "
                              "start again from the login page") from exc
    claims = dict(token.get("userinfo") or {})
    if "userinfo_endpoint" in client.load_server_metadata():
        extra = client.userinfo(token=token)
        if extra.get("sub") == claims.get("sub"):
            claims.update(extra)
    user = services.citizen_login_federated(client.load_server_metadata()["issuer"], claims)
    next_url = session.pop("identity_next", None)
    start_session(user)
    flash(_("Welcome, %(name)s.", name=user.display_name), "success")
    return redirect(_safe_next(next_url) or url_for("identity.my_data"))


# --- Consent -----------------------------------------------------------------------------------------------


@bp.route("/consent/<int:app_id>", methods=["GET", "POST"])
def consent(app_id: int):
    """Before first use of an app: each field it asks for, with its purpose; share some, all or nothing."""
    actor = web_actor(required=False)
    if actor is None:
        return redirect(url_for("identity.login", next=request.full_path))
    app, status = services.consent_page(actor, app_id)
    form = ConsentForm()
    form.fields.choices = select_choices({f: str(FIELD_LABELS.get(f, f)) for f in status.requested})
    next_url = _safe_next(request.args.get("next"))
    if form.validate_on_submit():
        if form.decline.data:
            services.consent_decline(actor, app_id)
            flash(_("%(app)s will not receive your personal details.", app=app.name), "info")
        else:
            try:
                services.consent_grant(actor, app_id, form.fields.data or [])
            except ValidationError as exc:
                form.fields.errors = [exc.message]
                return render_template("identity/consent.html", app=app, status=status, form=form,
                                       next=next_url), 422
            flash(_("Your choice for %(app)s is saved. You can change it on the My data page.", app=app.name),
                  "success")
        return redirect(next_url or url_for("identity.my_data"))
    if request.method == "GET":
        form.fields.data = list(status.granted) if status.state == "granted" else list(status.requested)
    code = 422 if request.method == "POST" else 200
    return render_template("identity/consent.html", app=app, status=status, form=form, next=next_url), code


# --- My data -----------------------------------------------------------------------------------------------


@bp.get("/my-data")
def my_data():
    actor = web_actor()
    page = request.args.get("page", 1, type=int) or 1
    data = services.my_data_get(actor, page=max(1, page), page_size=PAGE_SIZE)
    return render_template("identity/my_data.html", data=data, revoke_form=RevokeForm())


@bp.post("/my-data/consents/<int:app_id>/revoke")
def consent_revoke(app_id: int):
    actor = web_actor()
    if not RevokeForm().validate_on_submit():
        raise ValidationError("the form expired; reload the page and press Revoke again")
    consent = services.consent_revoke(actor, app_id)
    flash(_("%(app)s no longer receives your personal details.", app=consent.app.name), "success")
    return redirect(url_for("identity.my_data"))


@bp.get("/access-log")
def access_log():
    """The data-access log across citizens, for admins and auditors."""
    actor = web_actor()
    form = AccessLogFilterForm(request.args)
    form.validate()
    filters = {name: form[name].data for name in ("citizen_id", "app_id") if not form[name].errors and form[name].data}
    page = services.access_log_list(actor, page=form.page.data if not form.page.errors and form.page.data else 1,
                                    page_size=PAGE_SIZE, **filters)
    return render_template("identity/access_log.html", form=form, page=page, args=filters)
