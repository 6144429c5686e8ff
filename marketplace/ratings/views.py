"""Rating pages (一事一评): a citizen rates a completed case and flags a rating; the app's vendor and the order's
department reply publicly; the department flags and the vendor appeals; admins moderate. An app's public ratings
are shown on its page (``marketplace.citizen``)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.auth import require_role, web_actor
from core.errors import Conflict, TooManyRequests, ValidationError
from core.roles import Role
from marketplace.accounts.staff_traces import network_hash
from marketplace.forms import show_service_errors
from marketplace.ratings import services as ratings
from marketplace.ratings.forms import (
    DIMENSION_LABELS,
    LEVELS,
    FlagForm,
    ModerationForm,
    RatingForm,
    ReplyForm,
    RerateForm,
)
from marketplace.ratings.models import DIMENSIONS
from marketplace.ratings.services import device_fingerprint
from marketplace.transactions import services as transactions
from marketplace.transactions.models import DECIDED

bp = Blueprint("ratings", __name__, template_folder="templates")


@bp.app_context_processor
def rating_labels():
    return {"dimension_labels": DIMENSION_LABELS, "dimensions": DIMENSIONS, "levels": LEVELS}


@bp.post("/services/ratings/<int:rating_id>/flag")
def rating_flag(rating_id: int):
    actor = web_actor()
    rating = ratings.rating_get_public(rating_id)
    form = FlagForm()
    if form.validate_on_submit():
        try:
            ratings.rating_flag(actor, rating_id, form.reason.data)
            flash(_("Thank you. A moderator will look at this rating; it counts until then."), "success")
        except (Conflict, TooManyRequests) as exc:
            flash(exc.message, "error")
    else:
        flash(_("Say why the rating should be looked at."), "error")
    return redirect(url_for("citizen.app_page", slug=rating.app.slug) + f"#rating-{rating_id}")


@bp.post("/feedback/ratings/<int:rating_id>/appeal")
def rating_appeal(rating_id: int):
    actor = web_actor()
    form = FlagForm()
    if form.validate_on_submit():
        try:
            ratings.rating_appeal(actor, rating_id, form.reason.data)
            flash(_("Appeal sent. A moderator will review the rating; it counts until then."), "success")
        except Conflict as exc:
            flash(exc.message, "error")
    else:
        flash(_("Say why the rating should be looked at."), "error")
    return redirect(url_for("citizen.feedback") + f"#rating-{rating_id}")


@bp.route("/my/cases/<case_number>/rating", methods=["GET", "POST"])
def rating_form(case_number: str):
    actor = web_actor()
    require_role(actor, Role.CITIZEN, action="see your cases")
    txn = transactions.transaction_get_by_case_number(actor, case_number)
    existing = ratings.rating_of_transaction(actor, txn.id)
    form = RatingForm(obj=existing) if request.method == "GET" else RatingForm()
    if txn.status not in DECIDED:
        return render_template("ratings/rating_form.html", txn=txn, form=None, existing=None), 409
    if form.validate_on_submit():
        scores = {d: getattr(form, d).data for d in DIMENSIONS if getattr(form, d).data is not None}
        try:
            if existing is None:
                ratings.rating_create(actor, txn.id, stars=form.stars.data, dimensions=scores,
                                      comment=form.comment.data or "",
                                      device_hash=device_fingerprint(request.user_agent.string, request.remote_addr),
                                      network_hash=network_hash(request.remote_addr, current_app.config["SECRET_KEY"]))
            else:
                ratings.rating_update(actor, existing.id, stars=form.stars.data, dimensions=scores,
                                      comment=form.comment.data or "",
                                      network_hash=network_hash(request.remote_addr, current_app.config["SECRET_KEY"]))
        except (Conflict, ValidationError) as exc:
            show_service_errors(form, exc.errors or {}, exc.message)
            return render_template("ratings/rating_form.html", txn=txn, form=form, existing=existing), exc.status
        flash(_("Thank you for your rating."), "success")
        return redirect(url_for("citizen.app_page", slug=txn.app.slug))
    status = 422 if request.method == "POST" else 200
    return render_template("ratings/rating_form.html", txn=txn, form=form, existing=existing), status


@bp.post("/my/cases/<case_number>/rerate")
def rating_rerate(case_number: str):
    actor = web_actor()
    require_role(actor, Role.CITIZEN, action="re-rate your case")
    txn = transactions.transaction_get_by_case_number(actor, case_number)
    existing = ratings.rating_of_transaction(actor, txn.id)
    form = RerateForm()  # the level comes with the tapped button
    if existing is None or not form.validate_on_submit():
        flash(_("Choose how satisfied you are."), "error")
    else:
        try:
            ratings.rating_rerate(actor, existing.id, stars=form.stars.data,
                                  network_hash=network_hash(request.remote_addr, current_app.config["SECRET_KEY"]))
            flash(_("Thank you: your new rating counts from today."), "success")
        except (Conflict, ValidationError) as exc:
            flash(exc.message, "error")
    return redirect(url_for("citizen.case_page", case_number=case_number))


@bp.post("/feedback/ratings/<int:rating_id>/follow-up")
def rating_follow_up_answer(rating_id: int):
    actor = web_actor()
    form = ReplyForm()
    if form.validate_on_submit():
        ratings.rating_follow_up_answer(actor, rating_id, form.text.data)
        flash(_("Follow-up answered; the citizen sees it and may re-rate once."), "success")
    else:
        flash(_("Write what was put right first."), "error")
    return redirect(url_for("citizen.feedback") + f"#rating-{rating_id}")


@bp.post("/feedback/ratings/<int:rating_id>/reply")
def rating_reply(rating_id: int):
    actor = web_actor()
    form = ReplyForm()
    if form.validate_on_submit():
        ratings.rating_reply(actor, rating_id, form.text.data)
        flash(_("Reply published."), "success")
    else:
        flash(_("Write a reply first."), "error")
    return redirect(url_for("citizen.feedback") + f"#rating-{rating_id}")


@bp.post("/feedback/ratings/<int:rating_id>/<any(hide, resolve):action>")
def rating_moderate(rating_id: int, action: str):
    actor = web_actor()
    form = ModerationForm()
    if not form.validate_on_submit():
        flash(_("Give a reason."), "error")
    elif action == "hide":
        ratings.rating_hide(actor, rating_id, form.reason.data)
        flash(_("Rating hidden."), "success")
    else:
        ratings.rating_review_resolve(actor, rating_id, form.reason.data)
        flash(_("Review closed; the rating keeps counting."), "success")
    return redirect(url_for("citizen.feedback"))
