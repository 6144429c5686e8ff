"""Citizen pages: log in (mock personas in development, the identity provider in production), consent to an
app, "my data" (consents and the data-access log), and the access-log audit for admins and auditors."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from authlib.integrations.base_client.errors import OAuthError
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.auth import web_actor
from core.errors import Unauthenticated, ValidationError
from core.redirects import platform_next
from core.roles import Role
from marketplace.accounts.views import start_session
from marketplace.forms import select_choices
from marketplace.identity import authz, keys, oidc_client, services
from marketplace.identity.forms import (
    AccessLogFilterForm,
    ConsentForm,
    DeletionCompleteForm,
    PersonaLoginForm,
    RevokeForm,
)
from marketplace.identity.personas import persona_list
from mockdata.delegation import FIELDS as DEPARTMENT_FIELDS

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


def field_label(name: str) -> str:
    """The plain-language name of an identity claim or of a department field (``dept:<field>`` in a consent, bare
    in the access log), in the page's language: 户籍地址, never ``address``."""
    key = name.removeprefix(services.DEPT_PREFIX)
    if key == name and name in FIELD_LABELS:
        return str(FIELD_LABELS[name])
    if key in DEPARTMENT_FIELDS:
        chinese, english = DEPARTMENT_FIELDS[key]
        return chinese if str(get_locale() or "").startswith("zh") else english
    return str(FIELD_LABELS.get(key, key))


def masked(field: str, value: Any) -> Any:
    """An identifier as "my data" shows it: 4103**********3214 for a resident ID, 138****5678 for a phone."""
    text = str(value or "")
    if field in ("resident_id", "guardian_resident_id") and len(text) > 8:
        return text[:4] + "*" * (len(text) - 8) + text[-4:]
    if field == "phone" and len(text) > 7:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    return value


_ROUTE = re.compile(r"^(GET|POST) (/[a-z]+)(/\{[a-z_]+\})?(/[a-z]+)?")


def access_route_text(via: str) -> str:
    """How the app read the data, in plain language (the route stays in the downloads)."""
    if via == "identity_token":
        return _("Identity passed to the app when you opened it")
    found = _ROUTE.match(via or "")
    if not found:
        return via
    method, collection, _key, sub = found.groups()
    if method == "POST":
        return _("Sent to the department with an application")
    if collection == "/persons":
        if sub == "/licences":
            return _("Your e-licences, read from the department")
        if sub == "/businesses":
            return _("The businesses you represent, read from the department")
        return _("Your registration record, read from the department")
    if collection == "/businesses":
        return _("A business you represent, read from the department")
    if collection == "/applications":
        return _("Your application's progress, read from the department")
    return via


@bp.app_context_processor
def identity_labels():
    return {"field_labels": FIELD_LABELS, "gender_labels": GENDER_LABELS, "field_label": field_label,
            "masked": masked, "access_route_text": access_route_text}


LAUNCH_PATH = re.compile(r"/apps/[a-z0-9-]+/launch")  # gateway.launch: POST opens the app


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
    form.fields.choices = select_choices({f: field_label(f) for f in status.requested})
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
        # Asked on the way into an app (next is its launch address): continue the launch in the same tap. 307
        # repeats this POST, CSRF token included, at the launch address, which opens the app; two taps after login.
        resume_launch = next_url is not None and LAUNCH_PATH.fullmatch(urlsplit(next_url).path) is not None
        return redirect(next_url or url_for("identity.my_data"), 307 if resume_launch else 302)
    if request.method == "GET":
        # Optional entries start unticked: the citizen opts in to them.
        form.fields.data = list(status.granted) if status.state == "granted" else list(status.required)
    code = 422 if request.method == "POST" else 200
    return render_template("identity/consent.html", app=app, status=status, form=form, next=next_url), code


# --- My data -----------------------------------------------------------------------------------------------


@bp.get("/my-data")
def my_data():
    actor = web_actor()
    page = request.args.get("page", 1, type=int) or 1
    data = services.my_data_get(actor, page=max(1, page), page_size=PAGE_SIZE)
    return render_template("identity/my_data.html", data=data, revoke_form=RevokeForm())


@bp.get("/my-data/<any(data, 'access-log'):what>.<any(json, csv):fmt>")
def my_data_download(what: str, fmt: str):
    """The citizen's own data or data-access log as a file (unmasked: it is theirs)."""
    export = services.my_data_export(web_actor())
    name = f"my-{what}.{fmt}"
    if fmt == "json":
        body = export if what == "data" else {"access_log": export["access_log"]}
        text = json.dumps(body, ensure_ascii=False, indent=2, default=str)
        mimetype = "application/json"
    else:
        out = io.StringIO()
        writer = csv.writer(out)
        if what == "access-log":
            writer.writerow(["app", "fields", "purpose", "via", "first_at", "last_at", "count"])
            for row in export["access_log"]:
                writer.writerow([row["app"], " ".join(row["fields"]), row["purpose"], row["via"], row["first_at"],
                                 row["last_at"], row["count"]])
        else:
            writer.writerow(["section", "item", "value"])
            for key, value in export["held"].items():
                writer.writerow(["held", key, value])
            for consent in export["consents"]:
                writer.writerow(["consent", consent["app"], f"{consent['state']}: {' '.join(consent['fields'])}"])
            for item in export["deletion_requests"]:
                writer.writerow(["deletion_request", item["app"], f"{item['state']} (due {item['due_at']})"])
            for item in export["vendor_staff_links"]:
                writer.writerow(["vendor_staff_link", item["vendor"], f"{item['first_seen_at']} – {item['last_seen_at']}"])
        text = "\ufeff" + out.getvalue()  # a BOM, so spreadsheet programs read the Chinese text as UTF-8
        mimetype = "text/csv"
    return Response(text, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                       "Cache-Control": "no-store"})


@bp.post("/my-data/consents/<int:app_id>/delete-request")
def deletion_request_create(app_id: int):
    actor = web_actor()
    if not RevokeForm().validate_on_submit():
        raise ValidationError("the form expired; reload the page and ask again")
    request_ = services.deletion_request_create(actor, app_id)
    flash(_("%(app)s's vendor has been asked to delete your data; it must answer by %(due)s.",
            app=request_.app.name, due=request_.due_at.strftime("%Y-%m-%d")), "success")
    return redirect(url_for("identity.my_data") + "#deletion")


@bp.route("/deletion-requests", methods=["GET"])
def deletion_requests():
    """A vendor's deletion requests from citizens (admins see all), open ones first by deadline."""
    actor = web_actor()
    return render_template("identity/deletion_requests.html", requests=services.deletion_request_list(actor),
                           form=DeletionCompleteForm(), can_close=str(actor.role) == Role.VENDOR_MEMBER)


@bp.post("/deletion-requests/<int:request_id>/complete")
def deletion_request_complete(request_id: int):
    actor = web_actor()
    form = DeletionCompleteForm()
    if not form.validate_on_submit():
        raise ValidationError("say what was deleted (or what the law requires you to keep, and why)")
    services.deletion_request_complete(actor, request_id, form.note.data)
    flash(_("The citizen has been told what was deleted."), "success")
    return redirect(url_for("identity.deletion_requests"))


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
