"""The rating rules one by one, called directly (CKAN style): who rates, replies, answers follow-ups, flags,
appeals and moderates. Nobody moves their own money: vendors never flag, and appeal only their own apps'."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from marketplace.ratings import authz
from tests.marketplace.rule_probe import ACTORS, CITIZEN, DEPT, VENDOR, allowed, outcomes

RATING = SimpleNamespace(id=31, citizen_id=CITIZEN, vendor_id=VENDOR,
                         app=SimpleNamespace(order=SimpleNamespace(department_id=DEPT)))


def test_a_citizen_rates_only_their_own_case():
    seen = outcomes(authz.rating_create, SimpleNamespace(id=1, citizen_id=CITIZEN))
    assert [who for who, result in seen.items() if result == "ok"] == ["citizen"]
    assert seen["other_citizen"] == "NotFound" and seen["anonymous"] == "Unauthenticated"
    assert seen["vendor"] == seen["admin"] == "Forbidden"


@pytest.mark.parametrize("rule", [authz.rating_update, authz.rating_rerate])
def test_only_the_rater_edits_or_rerates(rule):
    seen = outcomes(rule, RATING)
    assert [who for who, result in seen.items() if result == "ok"] == ["citizen"]
    assert seen["other_citizen"] == "Forbidden"


@pytest.mark.parametrize("rule", [authz.rating_reply, authz.rating_follow_up_answer])
def test_the_apps_vendor_and_the_orders_department_reply_and_answer_follow_ups(rule):
    seen = outcomes(rule, RATING)
    assert seen["vendor"] == "vendor" and seen["staff"] == "department"
    assert {seen[who] for who in ("other_vendor", "other_staff", "citizen", "finance", "auditor", "admin")} == {
        "Forbidden"}


def test_citizens_and_the_orders_department_flag_vendors_never():
    assert allowed(authz.rating_flag, RATING) == ["citizen", "other_citizen", "staff"]
    assert outcomes(authz.rating_flag, RATING)["vendor"] == "Forbidden"


def test_only_the_rated_apps_vendor_appeals():
    assert allowed(authz.rating_appeal, RATING) == ["vendor"]
    assert outcomes(authz.rating_appeal, RATING)["other_vendor"] == "Forbidden"


@pytest.mark.parametrize("rule", [authz.rating_hide, authz.rating_review_resolve, authz.rating_review_queue])
def test_admins_moderate(rule):
    assert allowed(rule) == ["admin"]


def test_the_staff_list_and_the_adjustments():
    assert allowed(authz.rating_list_for_staff) == ["vendor", "other_vendor", "staff", "other_staff", "auditor",
                                                    "admin"]
    assert allowed(authz.rating_adjustments) == ["finance", "auditor", "admin"]


def test_a_cases_rating_is_looked_up_among_the_actors_own():
    scope = authz.rating_of_transaction_scope(ACTORS["citizen"])
    assert str(scope.compile(compile_kwargs={"literal_binds": True})).endswith(f"citizen_id = {CITIZEN}")
    assert str(authz.rating_of_transaction_scope(None).compile()) == "false"
