"""The world the authorization matrix probes: seeded once per module, every probe rolled back to it.

On top of the `world` fixture's departments, vendors, users, tokens, orders and version it holds what the other
domains need an object of: published apps (one per vendor on department A's order), a citizen's completed
case with its rating and complaint, an API client, a life event, a question, a deletion request, a vendor
invitation, and a settled quarter with its ledger entries (billing reads the marketplace through a fixture
source, see tests/billing/conftest.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.auth import SYSTEM
from tests.marketplace.conftest import World, build_world
from tests.marketplace.webpages import PASSWORD

QUARTER = "2026Q3"
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Probe:
    """Who calls: a bearer token for /api, a session cookie and its CSRF token for the pages."""

    world: World
    app: object
    sessions: dict = field(default_factory=dict)  # role -> (session cookie value, csrf token)

    @property
    def ids(self) -> dict:
        return self.world.ids

    def call(self, role: str, method: str, path: str, *, api: bool, body=None):
        client = self.app.test_client()
        kwargs = {}
        if api:
            headers = self.world.headers(role)
            if body == "bundle":
                from tests.marketplace.conftest import minimal_bundle

                kwargs = {"data": minimal_bundle("1.0.0"), "content_type": "application/gzip"}
            elif body is not None:
                kwargs = {"json": body}
        else:
            headers = {}
            cookie, token = self.sessions[role]
            if cookie:
                client.set_cookie("session", cookie)
            if method != "GET":
                kwargs = {"data": {"csrf_token": token, **(body or {})}}
        return client.open(path, method=method, headers=headers, **kwargs)


def _web_session(app, who: str | None) -> tuple[str | None, str]:
    """Log ``who`` in through the login form (None: stay anonymous); return the session cookie and CSRF token."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = _TOKEN.search(page).group(1)
    if who is not None:
        response = client.post("/login", data={"csrf_token": token, "email": f"{who}@test.example.cn",
                                               "password": PASSWORD})
        assert response.status_code == 302, (who, response.status_code)
        token = _TOKEN.search(client.get("/").get_data(as_text=True)).group(1)
    cookie = client.get_cookie("session")
    return (cookie.value if cookie else None), token


def seed(app) -> Probe:
    from billing import services as billing
    from core.extensions import db
    from marketplace.accounts import onboarding
    from marketplace.accounts import services as accounts
    from marketplace.accounts.models import User
    from marketplace.catalogue.life_events import life_event_save
    from marketplace.complaints import services as complaints
    from marketplace.home.sdk import versions as sdk_versions
    from marketplace.identity import services as consents
    from marketplace.orders import services as orders
    from marketplace.ratings import services as ratings
    from marketplace.ratings.models import DIMENSIONS
    from marketplace.vendors import services as vendors
    from marketplace.vendors.models import App
    from tests.billing.conftest import AFTER_Q3, FixtureSettlementSource, record, usage_rows
    from tests.marketplace.citizen_world import Market, publish

    world = build_world(app, app.test_client())
    ids = world.ids
    user = {name: db.session.get(User, ids[name]) for name in
            ("admin", "finance", "staff_a", "vendor_a", "vendor_b", "citizen")}
    app_a = db.session.get(App, ids["app_a"])
    publish(app_a)
    app_b = vendors.app_create(user["vendor_b"], order_id=ids["order_a"], name="Rival B", slug="rival-b")
    publish(app_b)
    market = Market(world)
    txn = market.complete(user["citizen"], app_a, case="DEPT-A-1")
    rating = ratings.rating_create(user["citizen"], txn.id, stars=2, dimensions=dict.fromkeys(DIMENSIONS, 2),
                                    comment="slow")
    complaint = complaints.complaint_file(user["citizen"], theme=_theme(), description="It lost my form.",
                                          transaction_id=txn.id)
    question = orders.question_ask(user["vendor_a"], ids["order_a"], "Which 类别 count?")
    api_client, _secret = accounts.client_create(user["vendor_a"], name="ci", scopes=["apps:read"])
    life_event_save(SYSTEM, code="open-shop", name="开店", name_en="Open a shop", description="", description_en="",
                    steps=[("item-a", [], "先办甲事项。", "Item A first.")])
    consents.consent_grant(user["citizen"], app_a.id, [])
    deletion = consents.deletion_request_create(user["citizen"], app_a.id)
    _invitation, invitation_token = onboarding.invitation_create(user["vendor_a"], ids["org_a"], "new@org-a.example.cn")
    ids.update(app_slug="app-a", rival=app_b.id, txn=txn.id, case=txn.case_number, rating=rating.id,
               complaint=complaint.id, question=question.id, client_id=api_client.client_id, life_event="open-shop",
               quarter=QUARTER, department="dept-a", item="item-a", static_file="site.css", action="approve",
               deletion_request=deletion.id, invitation_token=invitation_token,
               sdk_wheel=f"govapp_sdk-{sdk_versions()['govapp-sdk']}-py3-none-any.whl")

    source = FixtureSettlementSource()
    source.add_order(ids["order_a"], department_id=ids["dept_a"], title="Order A")
    source.add_app(ids["app_a"], ids["order_a"], ids["org_a"], name="App A")
    source.add_app(app_b.id, ids["order_a"], ids["org_b"], name="Rival B")
    source.rate(ids["app_a"], 40, 180)
    record(usage_rows(ids["order_a"], ids["app_a"], ids["org_a"], 30)
           + usage_rows(ids["order_a"], app_b.id, ids["org_b"], 10))
    from billing.source import EXTENSION_KEY

    previous = app.extensions.get(EXTENSION_KEY)
    app.extensions[EXTENSION_KEY] = source
    billing.settlement_post(user["finance"], QUARTER, now=AFTER_Q3)
    run = billing.settlement_runs(user["finance"], QUARTER)[0]
    entry = billing.ledger_entries(user["finance"], quarter_code=QUARTER)[0]
    account = billing.ledger_accounts(user["finance"])[0]
    ids.update(run=run.id, entry=entry.id, account=account.id)

    probe = Probe(world=world, app=app)
    probe.restore_source = lambda: (app.extensions.__setitem__(EXTENSION_KEY, previous) if previous is not None
                                    else app.extensions.pop(EXTENSION_KEY, None))
    db.session.commit()
    for role in ("admin", "finance", "auditor", "staff_a", "staff_b", "vendor_a", "vendor_b", "citizen"):
        probe.sessions[role] = _web_session(app, role)
    probe.sessions["anonymous"] = _web_session(app, None)
    return probe


def _theme() -> str:
    from marketplace.complaints.models import THEMES

    return THEMES[0]
