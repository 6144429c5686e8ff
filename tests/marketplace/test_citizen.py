"""The citizen pages and the citizen-side REST API, driven as a browser and an API client would."""

from __future__ import annotations

import re

import sqlalchemy as sa

from core.extensions import db
from tests.marketplace.citizen_catalogue import *  # noqa: F403  (the `demo_items` fixture)
from tests.marketplace.citizen_world import *  # noqa: F403  (the `market` fixture)
from tests.marketplace.webpages import csrf_token, login, submit, text


def login_citizen(client, market, name="citizen"):
    if name == "citizen":
        return login(client, "citizen")
    user = market.citizen(name)
    response = submit(client, "/login", {"email": user.email, "password": "correct horse battery"})
    assert response.status_code == 302
    return response


def test_catalogue_home_search_and_life_event_pages(client, demo_items):
    home = client.get("/services?lang=en")
    assert home.status_code == 200
    body = text(home)
    assert 'id="life-event-open-restaurant"' in body and 'id="q"' in body and "Open a restaurant" in body
    found = text(client.get("/services/search?q=spjy"))
    assert "/services/items/food-licence" in found
    event = text(client.get("/services/life-events/open-restaurant"))
    steps = re.findall(r'id="step-([a-z-]+)"', event)
    assert steps == ["enterprise-name", "business-licence", "fire-safety-check", "food-licence", "new-taxpayer"]
    assert client.get("/services/life-events/nope").status_code == 404


def test_item_page_compares_published_apps_only(client, market):
    body = text(client.get("/services/items/item-a"))
    assert 'id="app-app-a"' in body and 'id="app-rival-b"' in body
    assert "draft-c" not in body
    assert "name" in body  # the citizen data the order asks for


def test_the_citizen_path_case_timeline_rating_appears_on_the_public_page(client, market):
    citizen = market.citizens["citizen"]
    txn = market.complete(citizen, market.apps["a"], case="SP-9")
    login_citizen(client, market)
    cases = text(client.get("/my/cases"))
    assert f'id="case-{txn.case_number}"' in cases
    case = text(client.get(f"/my/cases/{txn.case_number}"))
    assert re.findall(r'class="event event-(\w+)"', case) == ["started", "submitted", "completed"]
    form_url = f"/my/cases/{txn.case_number}/rating"
    data = {"stars": "4", "tangibility": "4", "reliability": "5", "responsiveness": "3", "assurance": "4",
            "empathy": "5", "comment": "预填很方便"}
    response = submit(client, form_url, data)
    assert response.status_code == 302
    public = text(client.get("/services/apps/app-a"))
    assert "预填很方便" in public and "4.0★" in public
    # A second rating of the same case edits the first instead of adding one.
    submit(client, form_url, {**data, "comment": "改一下"})
    from marketplace.ratings.models import Rating

    assert db.session.scalar(sa.select(sa.func.count()).select_from(Rating)) == 1


def test_rating_pages_refuse_started_and_other_peoples_cases(client, market):
    from marketplace.ratings.models import Rating
    from marketplace.transactions import services as transactions

    started = transactions.transaction_start(market.citizens["citizen"], market.apps["a"].id)
    others = market.complete(market.citizen("lisi"), market.apps["a"])
    login_citizen(client, market)
    token = csrf_token(client, "/my/cases")
    data = {"csrf_token": token, "stars": "5", "tangibility": "5", "reliability": "5", "responsiveness": "5",
            "assurance": "5", "empathy": "5"}
    assert client.post(f"/my/cases/{started.case_number}/rating", data=data).status_code == 409
    assert client.post(f"/my/cases/{others.case_number}/rating", data=data).status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Rating)) == 0


def test_todo_and_complaint_form(client, market):
    from marketplace.transactions import services as transactions

    started = transactions.transaction_start(market.citizens["citizen"], market.apps["b"].id)
    login_citizen(client, market)
    todo = text(client.get("/my/todo"))
    started_list = todo[todo.index('id="todo-started"'):todo.index("</ul>", todo.index('id="todo-started"'))]
    assert "/apps/rival-b/launch" in started_list, "the started case, to continue"
    assert started.case_number not in re.sub(r'href="[^"]*"', "", todo), "no number before the department gives one"
    url = f"/my/complaints/new?case={started.case_number}"
    response = submit(client, url, {"theme": "slow", "description": "一直没有进展"})
    assert response.status_code == 302
    mine = text(client.get("/my/complaints"))
    assert "一直没有进展" not in text(client.get("/services/apps/rival-b"))  # the public never sees the text
    assert "TS" in mine


def test_staff_answer_complaints_and_see_analytics(client, market, world):
    from marketplace.complaints import services as complaints

    complaint = complaints.complaint_file(market.citizens["citizen"], theme="usability", description="按钮太小",
                                          app_id=market.apps["a"].id)
    login(client, "staff_a")
    assert complaint.reference in text(client.get("/feedback"))
    url = f"/feedback/complaints/{complaint.id}"
    response = submit(client, url, {"outcome": "resolved", "response": "已放大按钮", "public_outcome": "界面已改进"})
    assert response.status_code == 302
    assert "界面已改进" in text(client.get("/services/apps/app-a"))
    page = client.get("/analytics")
    assert page.status_code == 200 and "<svg" in text(page) and "<script" not in text(page)


def test_other_departments_cannot_open_analytics(client, market, world):
    login(client, "staff_b")
    assert client.get(f"/analytics?department={world.ids['dept_a']}").status_code == 403


def test_public_api_search_life_events_and_app_comparison(client, market, demo_items):
    hits = client.get("/api/search?q=shipin").json
    assert hits[0]["code"] == "food-licence"
    events = client.get("/api/life-events").json
    assert [e["code"] for e in events][:1] == ["open-restaurant"]
    apps = client.get("/api/service-items/item-a/apps").json
    assert {a["slug"] for a in apps} == {"app-a", "rival-b"}
    # No ratings yet: no star value (the prior is never shown as a rating), no lower bound.
    assert apps[0]["bayesian_rating"] is None and apps[0]["rating_lower_bound"] is None
    assert apps[0]["ratings"] == 0 and apps[0]["citizen_scopes"] == ["name"]
    assert client.get("/api/apps/{}/ratings".format(market.apps["draft"].id)).status_code == 404


def test_api_reply_and_complaints_for_automation(client, market, world):
    from marketplace.ratings import services as ratings

    citizen = market.citizens["citizen"]
    txn = market.complete(citizen, market.apps["a"])
    rating = ratings.rating_create(citizen, txn.id, stars=2, dimensions={d: 2 for d in (
        "tangibility", "reliability", "responsiveness", "assurance", "empathy")})
    ok = world.call("vendor_a", "PUT", f"/api/ratings/{rating.id}/reply", json={"text": "已修复"})
    assert ok.status_code == 200 and ok.json["side"] == "vendor"
    assert world.call("vendor_b", "PUT", f"/api/ratings/{rating.id}/reply", json={"text": "x"}).status_code == 403
    assert world.call("citizen", "PUT", f"/api/ratings/{rating.id}/reply", json={"text": "x"}).status_code == 401
    public = client.get(f"/api/apps/{market.apps['a'].id}/ratings").json
    assert public[0]["replies"][0]["text"] == "已修复" and "citizen_id" not in public[0]
    assert world.call("vendor_a", "GET", f"/api/transactions/{txn.id}").json["status"] == "completed"
    assert world.call("vendor_b", "GET", f"/api/transactions/{txn.id}").status_code == 404
    analytics = world.call("staff_a", "GET", f"/api/departments/{world.ids['dept_a']}/analytics")
    assert analytics.status_code == 200 and analytics.json["items"][0]["ratings"] == 1
