"""Complaint pages (投诉): a citizen files a complaint about a case or an app and follows it; the app's vendor or
the order's department acknowledges and answers it. The anonymised outcomes are shown on the app's page."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.auth import require_role, web_actor
from core.errors import Conflict, ValidationError
from core.roles import Role
from marketplace.complaints import services as complaints
from marketplace.complaints.forms import THEME_LABELS, ComplaintAnswerForm, ComplaintForm
from marketplace.forms import show_service_errors
from marketplace.transactions import services as transactions
from marketplace.vendors.services import app_get_published_by_slug

bp = Blueprint("complaints", __name__, template_folder="templates")


@bp.app_context_processor
def complaint_labels():
    return {"theme_labels": THEME_LABELS}


@bp.route("/my/complaints/new", methods=["GET", "POST"])
def complaint_new():
    actor = web_actor()
    require_role(actor, Role.CITIZEN, action="see your cases")
    txn = None
    app = None
    if request.args.get("case"):
        txn = transactions.transaction_get_by_case_number(actor, request.args["case"])
    elif request.args.get("app"):
        app = app_get_published_by_slug(request.args["app"])
    else:
        abort(404)
    form = ComplaintForm()
    if form.validate_on_submit():
        try:
            filed = complaints.complaint_file(actor, theme=form.theme.data, description=form.description.data,
                                              transaction_id=txn.id if txn else None,
                                              app_id=None if txn else app.id)
        except ValidationError as exc:
            show_service_errors(form, exc.errors or {}, exc.message)
            return render_template("complaints/complaint_form.html", form=form, txn=txn, app=app), 422
        flash(_("Complaint %(ref)s filed. You get an answer by %(due)s.", ref=filed.reference,
                due=filed.due_at.strftime("%Y-%m-%d")), "success")
        return redirect(url_for("complaints.my_complaints"))
    status = 422 if request.method == "POST" else 200
    return render_template("complaints/complaint_form.html", form=form, txn=txn, app=app), status


@bp.get("/my/complaints")
def my_complaints():
    actor = web_actor()
    require_role(actor, Role.CITIZEN, action="see your cases")
    return render_template("complaints/complaints.html", page=complaints.complaint_list(actor, page_size=50))


@bp.route("/feedback/complaints/<int:complaint_id>", methods=["GET", "POST"])
def complaint_page(complaint_id: int):
    actor = web_actor()
    complaint = complaints.complaint_get(actor, complaint_id)
    form = ComplaintAnswerForm()
    if request.method == "POST" and request.form.get("action") == "acknowledge":
        if form.csrf_token.validate(form):
            complaints.complaint_acknowledge(actor, complaint_id)
            flash(_("Acknowledged."), "success")
        return redirect(url_for("complaints.complaint_page", complaint_id=complaint_id))
    if form.validate_on_submit():
        try:
            complaints.complaint_close(actor, complaint_id, outcome=form.outcome.data, response=form.response.data,
                                       public_outcome=form.public_outcome.data)
        except (Conflict, ValidationError) as exc:
            show_service_errors(form, exc.errors or {}, exc.message)
            return render_template("complaints/complaint_answer.html", complaint=complaint, form=form), exc.status
        flash(_("Answer sent."), "success")
        return redirect(url_for("citizen.feedback"))
    return render_template("complaints/complaint_answer.html", complaint=complaint, form=form), (
        422 if request.method == "POST" else 200)
