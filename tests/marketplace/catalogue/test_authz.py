"""The catalogue rules, called directly (CKAN style)."""

from marketplace.catalogue import authz
from tests.marketplace.rule_probe import DEPT, allowed, outcomes


def test_departments_are_created_by_admins():
    assert allowed(authz.department_create) == ["admin"]


def test_service_items_by_admins_and_the_departments_own_staff():
    assert allowed(authz.service_item_create, DEPT) == ["staff", "admin"]
    assert outcomes(authz.service_item_create, DEPT)["other_staff"] == "Forbidden"
