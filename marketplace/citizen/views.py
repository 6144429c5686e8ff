"""The pages that compose several domains: the service catalogue (search, life events, popular items), the
departments' stores, an item's guide with its apps side by side, an app's page with its public ratings and
complaint outcomes; my cases with their timelines and ratings, the to-do list; and for vendors, departments and
admins the feedback page (ratings and complaints to answer, the moderation queue). The pages of one domain are
that domain's (rating, complaint and analytics pages)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.auth import require_role, web_actor
from core.errors import ValidationError
from core.roles import Role
from marketplace.catalogue import authz as catalogue_authz
from marketplace.catalogue import life_events
from marketplace.catalogue import services as catalogue
from marketplace.citizen import choice, recommendations, search
from marketplace.citizen.forms import SearchForm, SynonymsForm
from marketplace.complaints import services as complaints
from marketplace.orders import services as orders
from marketplace.ratings import services as ratings
from marketplace.ratings.forms import FlagForm, ModerationForm, ReplyForm
from marketplace.transactions import services as transactions

bp = Blueprint("citizen", __name__, template_folder="templates")

# How an item can be handled (ServiceItem.channels); "window" is the department's service counter, the offline
# route every item keeps whether or not an app serves it.
CHANNEL_LABELS = {"online": _l("Online"), "mobile": _l("On a phone"), "window": _l("At the service window"),
                  "post": _l("By post"), "phone": _l("By telephone")}
OFFLINE_CHANNELS = ("window", "post", "phone")


@bp.app_context_processor
def channel_labels():
    return {"channel_labels": CHANNEL_LABELS, "offline_channels": OFFLINE_CHANNELS}


# --- the departments' stores ------------------------------------------------------------------------

@bp.get("/departments")
def department_list():
    q = request.args.get("q", "").strip()[:200]
    page = catalogue.department_list(q=q, page=request.args.get("page", 1, type=int),
                                    page_size=current_app.config["PAGE_SIZE"])
    return render_template("citizen/department_list.html", page=page, q=q)


@bp.get("/departments/<code>")
def department_show(code: str):
    department = catalogue.department_get(code)
    actor = web_actor(required=False)
    return render_template(
        "citizen/department_show.html", department=department,
        items=catalogue.service_item_list(department_id=department.id, page_size=100).items,
        open_orders=orders.order_list(actor, status="open", department_id=department.id, page_size=50).items)


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
    actor = web_actor(required=False)
    synonyms_form = None
    if catalogue_authz.may_set_synonyms(actor, item.department_id):
        synonyms_form = SynonymsForm(data={"synonyms": "、".join(item.synonyms or [])})
    return render_template("citizen/item.html", item=item, apps=apps, min_shown=choice.min_ratings_shown(),
                           synonyms_form=synonyms_form,
                           events=life_events.life_events_with_item(item.id))


@bp.post("/services/items/<code>/synonyms")
def item_synonyms(code: str):
    """The department keeps the words its item is searched by."""
    actor = web_actor()
    form = SynonymsForm()
    if not form.validate():
        raise ValidationError("the search words are too long; keep them under 1000 characters",
                              errors={"synonyms": "too long"})
    item = catalogue.service_item_synonyms_set(actor, code, form.words())
    flash(_("Search words saved: %(words)s", words="、".join(item.synonyms) or "—"), "success")
    return redirect(url_for("citizen.item_page", code=item.code) + "#search-words")


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
    waiting = transactions.transaction_list_mine(actor, status=("submitted", "accepted", "under_review"), page_size=50)
    refused = transactions.transaction_list_mine(actor, status=("rejected", "not_accepted"), page_size=10)
    return render_template("citizen/todo.html", started=started.items, waiting=waiting.items, refused=refused.items,
                           next_steps=recommendations.recommendations_for(actor.id, limit=10))


@bp.get("/my/cases/<case_number>")
def case_page(case_number: str):
    actor = _citizen()
    txn = transactions.transaction_get_by_case_number(actor, case_number)
    return render_template("citizen/case.html", txn=txn, rating=ratings.rating_of_transaction(actor, txn.id))








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








