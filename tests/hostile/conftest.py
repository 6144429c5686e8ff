"""Hostile-input tests run against the marketplace tests' small world (two departments, two vendors, a user
and bearer token per role, jobs held so no sandbox starts), stocked with one of everything a user can type
that other users see: ``stocked`` fills every such free-text field with the same text."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.marketplace.citizen_world import market, publish  # noqa: F401  (shared fixtures)
from tests.marketplace.conftest import _rid, _uscc, held_jobs, minimal_bundle, suite_doc, world  # noqa: F401
from tests.sandbox.conftest import backend, no_leftovers, runs_root, store, stored_bundle  # noqa: F401  (sandboxes)


@dataclass
class Stocked:
    """The ids of the objects whose free text is ``text``."""

    text: str
    ids: dict = field(default_factory=dict)


def stock(w, m, text: str) -> Stocked:
    """One object of every kind whose free text other users see, each field holding ``text``, in the `world` ``w``
    with the citizen side of the `market` ``m``."""
    from core.auth import SYSTEM
    from core.extensions import db
    from marketplace.accounts import services as accounts
    from marketplace.accounts.models import User
    from marketplace.catalogue import services as catalogue
    from marketplace.complaints import services as complaints
    from marketplace.orders import services as orders
    from marketplace.ratings import services as ratings
    from marketplace.ratings.models import DIMENSIONS
    from marketplace.vendors import services as vendors

    def user(name):
        return db.session.get(User, w.ids[name])

    s = Stocked(text)
    dept = catalogue.department_create(SYSTEM, code="dept-x", name=text, name_en=text, description=text)
    item = catalogue.service_item_create(SYSTEM, department_id=w.ids["dept_a"], code="item-x", name=text,
                                         name_en=text, description=text, time_limit_days=3,
                                         materials=[{"name": text, "required": True, "note": text}])
    vendor = vendors.vendor_create(SYSTEM, name=text, credit_code=_uscc("91310000MA1FL0003"))
    suite = suite_doc("order-x")
    for case in suite["cases"]:
        case["description"] = text
    order = orders.order_create(user("staff_a"), service_item_id=item.id, slug="order-x", title=text,
                                description=text, contract={**suite_contract(), "info": {"title": text, "version": "1"}},
                                fee_per_transaction_fen=100, quarterly_budget_fen=100_000,
                                dept_scopes=["person.read"], citizen_scopes=["name"])
    orders.suite_add(user("staff_a"), order.id, suite)
    orders.order_publish(user("staff_a"), order.id)
    question = orders.question_ask(user("vendor_a"), order.id, text)
    orders.question_answer(user("staff_a"), question.id, text)
    app = vendors.app_create(user("vendor_a"), order_id=order.id, name=text, slug="app-x", summary=text)
    publish(app)
    citizen = accounts.user_create(SYSTEM, email="named@citizen.example.cn", display_name=text, role="citizen",
                                   password="correct horse battery",
                                   resident_id=_rid("11010519900307001"))
    txn = m.complete(citizen, app)
    rating = ratings.rating_create(citizen, txn.id, stars=2, dimensions=dict.fromkeys(DIMENSIONS, 2),
                                   comment=text)
    ratings.rating_reply(user("vendor_a"), rating.id, text)
    ratings.rating_reply(user("staff_a"), rating.id, text)
    complaint = complaints.complaint_file(citizen, theme="usability", description=text, transaction_id=txn.id)
    complaints.complaint_close(user("vendor_a"), complaint.id, outcome="resolved", response=text, public_outcome=text)
    client, _secret = accounts.client_create(user("vendor_a"), name=text, scopes=["apps:read"])
    s.ids.update(department=dept.id, department_code=dept.code, item=item.id, item_code=item.code, vendor=vendor.id,
                 order=order.id, question=question.id, app=app.id, app_slug=app.slug, citizen=citizen.id,
                 transaction=txn.id, case_number=txn.case_number, rating=rating.id, complaint=complaint.id,
                 client=client.client_id)
    return s


def suite_contract() -> dict:
    from tests.marketplace.conftest import contract_doc

    return contract_doc()

