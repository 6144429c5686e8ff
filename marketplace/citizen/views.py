"""The pages that compose several domains: the service catalogue (search, life events, popular items), the
departments' stores, an item's guide with its apps side by side, an app's page with its public ratings and
complaint outcomes; my cases with their timelines and ratings, the to-do list; and for vendors, departments and
admins the feedback page (ratings and complaints to answer, the moderation queue). The pages of one domain are
that domain's (rating, complaint and analytics pages)."""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from core.auth import require_role, web_actor
from core.errors import ValidationError
from core.roles import Role
from marketplace.catalogue import authz as catalogue_authz
from marketplace.catalogue import life_events
from marketplace.catalogue import services as catalogue
from marketplace.citizen import choice, page_cache, recommendations, search
from marketplace.citizen.forms import SearchForm, SynonymsForm
from marketplace.complaints import services as complaints
from marketplace.orders import services as orders
from marketplace.ratings import services as ratings
from marketplace.ratings.forms import FlagForm, ModerationForm, ReplyForm
from marketplace.transactions import services as transactions

bp = Blueprint("citizen", __name__, template_folder="templates")
SYNONYMS_SLOT = "<!--govmarket:synonyms-form-->"

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


def _no_slot(body: Markup) -> Markup:
    return Markup(str(body).replace(SYNONYMS_SLOT, ""))  # noqa: S704 - our rendered part less a comment


def _cached_page(template: str, key: str, names_of, render, *, compose=None) -> Response:
    """A catalogue page whose own part comes from the shared cache (marketplace/citizen/page_cache.py), composed
    into this visitor's layout."""
    actor = web_actor(required=False)  # the layout shows who is logged in
    part = page_cache.kept(f"catalogue:page:{key}:{get_locale()}", names_of, render)
    # Every anonymous visitor without a pending message sees the same layout: keep the whole page for them.
    anonymous = actor is None and "_flashes" not in session and set(request.args) <= {"q"}
    shared = f"catalogue:page:{key}:{get_locale()}:{request.full_path}:anonymous" if anonymous else None
    return page_cache.respond(part, lambda title, body: render_template(
        template, title=title, body=(compose or _no_slot)(body),
        **({"csrf_token": page_cache.csrf_placeholder} if anonymous else {})), shared=shared)


@bp.get("/services/search")
def search_page():
    form = SearchForm(request.args)
    q = (form.q.data or "").strip() if form.validate() else ""
    raw = form.q.data or ""

    def render():
        hits = search.catalogue_search(q) if q else []
        return _("Search"), render_template("citizen/_search_part.html", form=form, q=q, hits=hits,
                                            csrf_token=page_cache.csrf_placeholder)

    digest = hashlib.sha256(f"{q}\n{raw}".encode()).hexdigest()
    return _cached_page("citizen/search.html", f"search:{digest}", lambda: ("search",), render)


@bp.get("/services/items/<code>")
def item_page(code: str):
    found: list = []
    min_shown = choice.min_ratings_shown()

    def names():
        found.append(catalogue.service_item_get(code))  # NotFound for an unknown item
        return (f"item:{found[0].id}",)

    def render():
        item, apps = choice.item_apps(found[0].id)
        body = render_template("citizen/_item_part.html", item=item, apps=apps, min_shown=min_shown,
                               synonyms_slot=Markup(SYNONYMS_SLOT),  # noqa: S704 - a constant comment
                               events=life_events.life_events_with_item(item.id),
                               csrf_token=page_cache.csrf_placeholder)
        return current_app.jinja_env.filters["localized"](item), body

    # The department's search-words form is the one personal part: put in per request, for its staff only (the
    # kept part has a slot for it); a change of the words renews the item's generation (page_cache's hooks).
    actor = web_actor(required=False)
    compose = None
    if actor is not None and actor.role in (Role.ADMIN, Role.DEPARTMENT_STAFF):
        item = catalogue.service_item_get(code)
        if catalogue_authz.may_set_synonyms(actor, item.department_id):
            form = render_template("citizen/_item_synonyms.html", item=item,
                                   synonyms_form=SynonymsForm(data={"synonyms": "、".join(item.synonyms or [])}))
            compose = lambda body: Markup(str(body).replace(SYNONYMS_SLOT, form, 1))  # noqa: E731, S704
    # The minimum of ratings shown is a setting: parts made under another value are not used.
    return _cached_page("citizen/item.html", f"item:{code[:100]}:{min_shown}", names, render, compose=compose)


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








