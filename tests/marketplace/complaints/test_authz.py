"""The complaint rules one by one, called directly (CKAN style), and the list scope against the get rule."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.errors import NotFound, Unauthenticated
from marketplace.complaints import authz
from tests.marketplace.citizen_world import *  # noqa: F403  (the `market` fixture)
from tests.marketplace.rule_probe import CITIZEN, DEPT, VENDOR, outcomes

COMPLAINT = SimpleNamespace(id=21, citizen_id=CITIZEN, vendor_id=VENDOR, department_id=DEPT)


def outcome(rule, who, *args):
    return outcomes(rule, *args)[who]


def test_complaint_file_by_citizens_about_their_own_case():
    own, others = SimpleNamespace(id=1, citizen_id=CITIZEN), SimpleNamespace(id=2, citizen_id=6)
    assert outcome(authz.complaint_file, "citizen", own) == "ok"
    assert outcome(authz.complaint_file, "citizen") == "ok"  # about a published app
    assert outcome(authz.complaint_file, "citizen", others) == "NotFound"
    assert outcome(authz.complaint_file, "anonymous") == "Unauthenticated"
    assert {outcome(authz.complaint_file, who) for who in ("vendor", "staff", "finance", "auditor", "admin")} == {
        "Forbidden"}


def test_complaint_get_for_its_citizen_its_vendor_its_department_and_oversight():
    seen = outcomes(authz.complaint_get, COMPLAINT)
    assert [who for who, result in seen.items() if result == "ok"] == ["citizen", "vendor", "staff", "auditor",
                                                                       "admin"]
    assert {result for result in seen.values() if result != "ok"} == {"NotFound"}


@pytest.mark.parametrize("rule", [authz.complaint_acknowledge, authz.complaint_close])
def test_complaint_handled_by_its_vendor_its_department_or_an_admin(rule):
    handled = outcomes(rule, COMPLAINT)
    assert handled == {"anonymous": "NotFound", "citizen": "Forbidden", "other_citizen": "NotFound",
                       "vendor": "vendor", "other_vendor": "NotFound", "staff": "department",
                       "other_staff": "NotFound", "finance": "NotFound", "auditor": "Forbidden", "admin": "platform"}


def test_complaint_list_scope_lists_exactly_what_complaint_get_admits(market, world):
    import sqlalchemy as sa

    from core.extensions import db
    from marketplace.accounts.models import User
    from marketplace.complaints import services
    from marketplace.complaints.models import Complaint

    citizen, other = market.citizens["citizen"], market.citizen("other")
    mine = market.complete(citizen, market.apps["a"])
    services.complaint_file(citizen, theme="slow", description="Slow.", transaction_id=mine.id)
    services.complaint_file(other, theme="other", description="Odd.", app_id=market.apps["b"].id)
    complaints = list(db.session.scalars(sa.select(Complaint)))
    assert len(complaints) == 2
    for who in ("citizen", "vendor_a", "vendor_b", "staff_a", "staff_b", "finance", "auditor", "admin"):
        user = db.session.get(User, world.ids[who])
        listed = set(db.session.scalars(sa.select(Complaint.id).where(authz.complaint_list_scope(user))))
        visible = set()
        for complaint in complaints:
            try:
                authz.complaint_get(user, complaint)
                visible.add(complaint.id)
            except NotFound:
                pass
        assert listed == visible, who
    with pytest.raises(Unauthenticated):
        authz.complaint_list_scope(None)
