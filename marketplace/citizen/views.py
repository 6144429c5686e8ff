"""Citizen pages: the service catalogue (search, life events, popular items), an item's guide with its apps
side by side, public rating pages, my cases with their timelines, the to-do list, rating and complaint forms;
and for vendors, departments and admins the pages answering ratings and complaints, and department analytics."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.auth import require_role, web_actor
from core.errors import Conflict, NotFound, ValidationError
from core.roles import Role
from marketplace.analytics import charts
from marketplace.analytics import services as analytics
from marketplace.catalogue import choice, life_events, recommendations, search
from marketplace.citizen.forms import (
    DIMENSION_LABELS,
    THEME_LABELS,
    ComplaintAnswerForm,
    ComplaintForm,
    FlagForm,
    ModerationForm,
    RatingForm,
    ReplyForm,
    SearchForm,
)
from marketplace.complaints import services as complaints
from marketplace.home.forms import show_service_errors
from marketplace.ratings import services as ratings
from marketplace.ratings.models import DIMENSIONS
from marketplace.ratings.services import device_fingerprint
from marketplace.transactions import services as transactions

bp = Blueprint("citizen", __name__)


@bp.app_context_processor
def citizen_labels():
    return {"dimension_labels": DIMENSION_LABELS, "theme_labels": THEME_LABELS, "dimensions": DIMENSIONS}


@bp.app_template_filter("duration")
def duration(seconds: int | None) -> str:
    """A handling time: 3 d 4 h, 2 h 5 min, 40 s."""
    if seconds is None:
        return "—"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return _("%(d)s d %(h)s h", d=days, h=hours)
    if hours:
        return _("%(h)s h %(m)s min", h=hours, m=minutes)
    if minutes:
        return _("%(m)s min", m=minutes)
    return _("%(s)s s", s=secs)


@bp.app_template_filter("fraction")
def fraction(value, places: int = 1) -> str:
    from marketplace.catalogue.citizen_schemas import decimal_text

    return decimal_text(value, places) or "—"


# --- catalogue ----------------------------------------------------------------------------------------

@bp.get("/services")
def home():
    actor = web_actor(required=False)
    recs = recommendations.recommendations_for(actor.id) if actor is not None and actor.role == Role.CITIZEN else []
    return render_template("citizen/home.html", form=SearchForm(request.args), events=life_events.life_event_list(),
                           popular=search.popular_items(8), recommendations=recs)


@bp.get("/services/search")
def search_page():
    form = SearchForm(request.args)
    q = (form.q.data or "").strip() if form.validate() else ""
    hits = search.catalogue_search(q) if q else []
    return render_template("citizen/search.html", form=form, q=q, hits=hits)


@bp.get("/services/items/<code>")
def item_page(code: str):
    item, apps = choice.item_apps(code)
    return render_template("citizen/item.html", item=item, apps=apps,
                           events=life_events.life_events_with_item(item.id))


@bp.get("/services/life-events/<code>")
def life_event_page(code: str):
    event = life_events.life_event_get(code)
    actor = web_actor(required=False)
    completed, started = set(), set()
    if actor is not None and actor.role == Role.CITIZEN:
        for item_id, history in transactions.citizen_item_history(actor.id).items():
            step = next((s for s in event.steps if s.service_item_id == item_id), None)
            if step is not None:
                (completed if history.completed else started).add(step.service_item.code)
    progress = life_events.life_event_progress(event, completed, started)
    return render_template("citizen/life_event.html", event=event, progress=progress,
                           personal=actor is not None and actor.role == Role.CITIZEN)


@bp.get("/services/apps/<slug>")
def app_page(slug: str):
    app_choice = choice.app_choice_by_slug(slug)
    page = ratings.rating_list_public(app_choice.app.id, page=request.args.get("page", 1, type=int))
    outcomes = complaints.complaint_list_public(app_choice.app.id, page_size=10)
    return render_template("citizen/app.html", c=app_choice, page=page, flag_form=FlagForm(),
                           outcomes=[complaints.public_view(x) for x in outcomes.items])


@bp.post("/services/ratings/<int:rating_id>/flag")
def rating_flag(rating_id: int):
    actor = web_actor()
    rating = ratings.rating_get_public(rating_id)
    form = FlagForm()
    if form.validate_on_submit():
        try:
            ratings.rating_flag(actor, rating_id, form.reason.data)
            flash(_("Thank you. A moderator will look at this rating."), "success")
        except Conflict as exc:
            flash(exc.message, "error")
    else:
        flash(_("Say why the rating should be looked at."), "error")
    return redirect(url_for("citizen.app_page", slug=rating.app.slug) + f"#rating-{rating_id}")


# --- my cases -----------------------------------------------------------------------------------------

def _citizen():
    actor = web_actor()
    require_role(actor, Role.CITIZEN, action="see your cases")
    return actor


@bp.get("/my/cases")
def my_cases():
    actor = _citizen()
    page = transactions.transaction_list_mine(actor, page=request.args.get("page", 1, type=int))
    rated = {t.id for t in page.items if ratings.rating_of_transaction(actor, t.id)}
    return render_template("citizen/cases.html", page=page, rated=rated)


@bp.get("/my/todo")
def my_todo():
    actor = _citizen()
    started = transactions.transaction_list_mine(actor, status="started", page_size=50)
    return render_template("citizen/todo.html", started=started.items,
                           next_steps=recommendations.recommendations_for(actor.id, limit=10))


@bp.get("/my/cases/<case_number>")
def case_page(case_number: str):
    actor = _citizen()
    txn = transactions.transaction_get_by_case_number(actor, case_number)
    return render_template("citizen/case.html", txn=txn, rating=ratings.rating_of_transaction(actor, txn.id))


@bp.route("/my/cases/<case_number>/rating", methods=["GET", "POST"])
def rating_form(case_number: str):
    actor = _citizen()
    txn = transactions.transaction_get_by_case_number(actor, case_number)
    existing = ratings.rating_of_transaction(actor, txn.id)
    form = RatingForm(obj=existing) if request.method == "GET" else RatingForm()
    if txn.status != "completed":
        return render_template("citizen/rating_form.html", txn=txn, form=None, existing=None), 409
    if form.validate_on_submit():
        scores = {d: getattr(form, d).data for d in DIMENSIONS}
        try:
            if existing is None:
                ratings.rating_create(actor, txn.id, stars=form.stars.data, dimensions=scores,
                                      comment=form.comment.data or "",
                                      device_hash=device_fingerprint(request.user_agent.string, request.remote_addr))
            else:
                ratings.rating_update(actor, existing.id, stars=form.stars.data, dimensions=scores,
                                      comment=form.comment.data or "")
        except (Conflict, ValidationError) as exc:
            show_service_errors(form, exc.errors or {}, exc.message)
            return render_template("citizen/rating_form.html", txn=txn, form=form, existing=existing), exc.status
        flash(_("Thank you for your rating."), "success")
        return redirect(url_for("citizen.app_page", slug=txn.app.slug))
    status = 422 if request.method == "POST" else 200
    return render_template("citizen/rating_form.html", txn=txn, form=form, existing=existing), status


@bp.route("/my/complaints/new", methods=["GET", "POST"])
def complaint_new():
    actor = _citizen()
    txn = None
    app_choice = None
    if request.args.get("case"):
        txn = transactions.transaction_get_by_case_number(actor, request.args["case"])
    elif request.args.get("app"):
        app_choice = choice.app_choice_by_slug(request.args["app"])
    else:
        abort(404)
    form = ComplaintForm()
    if form.validate_on_submit():
        try:
            filed = complaints.complaint_file(actor, theme=form.theme.data, description=form.description.data,
                                              transaction_id=txn.id if txn else None,
                                              app_id=None if txn else app_choice.app.id)
        except ValidationError as exc:
            show_service_errors(form, exc.errors or {}, exc.message)
            return render_template("citizen/complaint_form.html", form=form, txn=txn, c=app_choice), 422
        flash(_("Complaint %(ref)s filed. You get an answer by %(due)s.", ref=filed.reference,
                due=filed.due_at.strftime("%Y-%m-%d")), "success")
        return redirect(url_for("citizen.my_complaints"))
    status = 422 if request.method == "POST" else 200
    return render_template("citizen/complaint_form.html", form=form, txn=txn, c=app_choice), status


@bp.get("/my/complaints")
def my_complaints():
    actor = _citizen()
    return render_template("citizen/complaints.html", page=complaints.complaint_list(actor, page_size=50))


# --- vendors, departments, admins ---------------------------------------------------------------------

@bp.get("/feedback")
def feedback():
    actor = web_actor()
    require_role(actor, Role.VENDOR_MEMBER, Role.DEPARTMENT_STAFF, Role.ADMIN, Role.AUDITOR,
                 action="answer ratings and complaints")
    queue = ratings.rating_review_queue(actor).items if actor.role == Role.ADMIN else []
    return render_template("citizen/feedback.html", ratings_page=ratings.rating_list_for_staff(actor, page_size=30),
                           complaints_page=complaints.complaint_list(actor, page_size=30), queue=queue,
                           reply_form=ReplyForm(), moderation_form=ModerationForm())


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
        flash(_("Review closed; the rating counts again."), "success")
    return redirect(url_for("citizen.feedback"))


@bp.route("/feedback/complaints/<int:complaint_id>", methods=["GET", "POST"])
def complaint_page(complaint_id: int):
    actor = web_actor()
    complaint = complaints.complaint_get(actor, complaint_id)
    form = ComplaintAnswerForm()
    if request.method == "POST" and request.form.get("action") == "acknowledge":
        if form.csrf_token.validate(form):
            complaints.complaint_acknowledge(actor, complaint_id)
            flash(_("Acknowledged."), "success")
        return redirect(url_for("citizen.complaint_page", complaint_id=complaint_id))
    if form.validate_on_submit():
        try:
            complaints.complaint_close(actor, complaint_id, outcome=form.outcome.data, response=form.response.data,
                                       public_outcome=form.public_outcome.data)
        except (Conflict, ValidationError) as exc:
            show_service_errors(form, exc.errors or {}, exc.message)
            return render_template("citizen/complaint_answer.html", complaint=complaint, form=form), exc.status
        flash(_("Answer sent."), "success")
        return redirect(url_for("citizen.feedback"))
    return render_template("citizen/complaint_answer.html", complaint=complaint, form=form), (
        422 if request.method == "POST" else 200)


@bp.get("/analytics")
def analytics_page():
    actor = web_actor()
    department_id = request.args.get("department", type=int) or getattr(actor, "department_id", None)
    if department_id is None:
        require_role(actor, Role.DEPARTMENT_STAFF, action="see department analytics")
        raise NotFound("choose a department: /analytics?department=<id>")
    result = analytics.analytics_department(actor, department_id)
    dimension_names = {d: str(DIMENSION_LABELS[d][0]) for d in DIMENSIONS}
    sections = []
    for item, apps in result.items:
        series = {a.name: a for a in apps} or {item.name: item}
        themes = {str(THEME_LABELS[t]): n for t, n in item.complaint_themes.items()}
        sections.append({
            "item": item, "apps": apps,
            "usage": charts.usage_chart(_("Completed cases per month"), result.months,
                                        {n: s.usage for n, s in series.items()}),
            "trend": charts.rating_trend_chart(_("Average stars per month"), result.months,
                                               {n: s.rating_trend for n, s in series.items()}),
            "dimensions": charts.dimension_chart(_("Quality dimensions (1–5)"), dimension_names,
                                                 {n: s.dimensions for n, s in series.items()}),
            "themes": charts.themes_chart(_("Complaints by topic"), themes) if themes else None,
        })
    return render_template("citizen/analytics.html", result=result, sections=sections)
