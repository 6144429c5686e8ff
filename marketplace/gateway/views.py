"""The platform side of opening an app: "use this app" → login → consent → case → one-time code → app origin."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_wtf import FlaskForm

from core.auth import web_actor
from marketplace.gateway import services
from marketplace.gateway.origin import PREFIX

bp = Blueprint("gateway", __name__, template_folder="templates")


class LaunchForm(FlaskForm):
    """Only the CSRF token: launching starts a case, so it is a POST from our own page."""


def app_origin(slug: str) -> str:
    scheme = "https" if current_app.config.get("ENV") == "production" else request.scheme
    return f"{scheme}://{slug}.{current_app.config['APPS_DOMAIN']}"


@bp.route("/apps/<slug>/launch", methods=["GET"])
def launch_page(slug: str):
    """The app's "use this app" page (also where login and consent come back to)."""
    app, _version = services.served_app_get(slug)
    return render_template("gateway/launch.html", app=app, form=LaunchForm(), actor=web_actor(required=False))


@bp.route("/apps/<slug>/launch", methods=["POST"])
def launch(slug: str):
    """Open the app for the logged-in citizen: to login or consent first if needed, else to the app's origin."""
    actor = web_actor(required=False)
    if actor is None:
        return redirect(url_for("identity.login", next=url_for("gateway.launch_page", slug=slug)), 303)
    form = LaunchForm()
    if not form.validate_on_submit():  # CSRFProtect refuses a bad token first; this keeps the form honest
        return redirect(url_for("gateway.launch_page", slug=slug), 303)
    outcome = services.app_launch(actor, slug)
    if outcome.consent_needed:
        return redirect(url_for("identity.consent", app_id=outcome.app.id,
                                next=url_for("gateway.launch_page", slug=slug)), 303)
    return redirect(f"{app_origin(slug)}{PREFIX}launch?{urlencode({'code': outcome.code})}", 303)
