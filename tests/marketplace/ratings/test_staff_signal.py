"""The staff signal in production: a vendor's staff rating their own vendor's app, known from the traces their
logins leave (``marketplace.accounts.staff_traces``), goes to the moderators' queue and keeps counting."""

from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db
from tests.marketplace.citizen_world import *  # noqa: F403  (the `market` fixture)
from tests.marketplace.webpages import PASSWORD, submit

OFFICE, OFFICE_NEIGHBOUR, HOME, ELSEWHERE = "203.0.113.7", "203.0.113.99", "198.51.100.20", "192.0.2.5"


def _personas(n: int):
    from marketplace.identity.personas import persona_list

    return persona_list()[:n]


def _citizen_login(client, persona, address: str):
    response = submit(client, "/identity/personas", {"resident_id": persona.resident_id},
                      environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    from marketplace.accounts.models import User

    return db.session.scalar(sa.select(User).where(User.resident_id == persona.resident_id))


def _rate_on_the_web(client, market, citizen, app, stars: int, address: str):
    """The citizen's case with ``app`` is decided; they rate it through the rating form from ``address``."""
    from marketplace.ratings.models import Rating

    txn = market.complete(citizen, app)
    response = submit(client, f"/my/cases/{txn.case_number}/rating", {"stars": stars},
                      environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    db.session.expire_all()
    return db.session.scalar(sa.select(Rating).where(Rating.transaction_id == txn.id))


def _kinds(rating) -> set[str]:
    return {s.kind for s in rating.signals if s.resolved_at is None}


def test_a_staff_members_own_citizen_account_rating_its_vendors_app_is_flagged(app, market, world, client):
    from marketplace.citizen.choice import rating_summaries

    # Vendor A's member logs in to the vendor console at the office ...
    response = submit(client, "/login", {"email": "vendor_a@test.example.cn", "password": PASSWORD},
                      environ_base={"REMOTE_ADDR": OFFICE})
    assert response.status_code == 302
    # ... then, in the same browser, as a citizen (their own real-name account), and rates from home.
    linked_persona, neighbour_persona, stranger_persona = _personas(3)
    linked = _citizen_login(client, linked_persona, HOME)
    own = _rate_on_the_web(client, market, linked, market.apps["a"], 5, HOME)
    assert _kinds(own) == {"staff"} and own.under_review and own.counts
    assert own.signals[0].detail == {"ratings": 1, "via": "account"}
    # The citizen sees the link on My data, and in its download.
    page = client.get("/identity/my-data").get_data(as_text=True)
    assert 'id="staff-links"' in page and "Vendor A" in page
    assert [link["vendor"] for link in client.get("/identity/my-data/data.json").get_json()["vendor_staff_links"]] == [
        "Vendor A"]
    # The same account rating another vendor's app is no concern of vendor A's staff signal.
    rival = _rate_on_the_web(client, market, linked, market.apps["b"], 5, HOME)
    assert "staff" not in _kinds(rival)

    # Another citizen account, in another browser but from the office network, lifting vendor A's app: flagged.
    colleague = app.test_client()
    from_office = _citizen_login(colleague, neighbour_persona, OFFICE_NEIGHBOUR)
    rating = _rate_on_the_web(colleague, market, from_office, market.apps["a"], 4, OFFICE_NEIGHBOUR)
    assert _kinds(rating) == {"staff"} and rating.signals[0].detail["via"] == "network"

    # A citizen with no link to vendor A's staff is not flagged.
    stranger_browser = app.test_client()
    stranger = _citizen_login(stranger_browser, stranger_persona, ELSEWHERE)
    assert 'id="staff-links"' not in stranger_browser.get("/identity/my-data").get_data(as_text=True)
    assert "staff" not in _kinds(_rate_on_the_web(stranger_browser, market, stranger, market.apps["a"], 5, ELSEWHERE))

    # Flagged ratings keep counting until a moderator hides them.
    assert rating_summaries([market.apps["a"].id])[market.apps["a"].id].count == 3


def test_a_low_rating_from_the_staff_network_is_not_flagged_until_it_is_raised(app, market, world, client):
    from marketplace.ratings.models import Rating

    submit(client, "/login", {"email": "vendor_a@test.example.cn", "password": PASSWORD},
           environ_base={"REMOTE_ADDR": OFFICE})
    browser = app.test_client()
    (persona,) = _personas(1)
    citizen = _citizen_login(browser, persona, OFFICE_NEIGHBOUR)
    rating = _rate_on_the_web(browser, market, citizen, market.apps["a"], 3, OFFICE_NEIGHBOUR)
    assert "staff" not in _kinds(rating)  # lifts nothing
    # Raised to 5★ the next minute, through the same form: now it lifts the app, and is judged again.
    response = submit(browser, f"/my/cases/{rating.transaction.case_number}/rating", {"stars": 5},
                      environ_base={"REMOTE_ADDR": OFFICE_NEIGHBOUR})
    assert response.status_code == 302
    db.session.expire_all()
    rating = db.session.get(Rating, rating.id)
    assert rating.stars == 5 and _kinds(rating) == {"staff"} and rating.counts
