"""The citizen catalogue over the REST API (public): search, life events, apps for an item side by side."""

from __future__ import annotations

from flask_smorest import Blueprint

from marketplace.catalogue import life_events
from marketplace.citizen import choice, search
from marketplace.citizen.schemas import AppChoiceOut, LifeEventOut, SearchHitOut, SearchQuery

blp = Blueprint("citizen_catalogue_api", __name__, url_prefix="/api",
                description="Citizen catalogue: search, life events, choosing an app")


@blp.get("/search")
@blp.arguments(SearchQuery, location="query")
@blp.response(200, SearchHitOut(many=True))
def catalogue_search(args):
    """Service items and life events by name, pinyin, initials or English, typos tolerated; best and most used first."""
    return search.catalogue_search(args["q"], limit=args["limit"])


@blp.get("/life-events")
@blp.response(200, LifeEventOut(many=True))
def life_event_list():
    """Every life event with its ordered steps and prerequisites."""
    return life_events.life_event_list()


@blp.get("/life-events/<code>")
@blp.response(200, LifeEventOut)
def life_event_get(code):
    """One life event."""
    return life_events.life_event_get(code)


@blp.get("/service-items/<code>/apps")
@blp.response(200, AppChoiceOut(many=True))
@blp.doc(operationId="item_app_list")
def item_apps(code):
    """Every published app for a service item, best rated first, with what a citizen compares."""
    _item, choices = choice.item_apps(code)
    return choices
