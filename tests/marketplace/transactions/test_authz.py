"""The transaction (case) rules one by one, called directly (CKAN style)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.errors import Forbidden, NotFound, Unauthenticated
from marketplace.transactions import authz


def person(role, id=1, department_id=None, vendor_id=None):
    return SimpleNamespace(id=id, role=role, department_id=department_id, vendor_id=vendor_id)


CASE = SimpleNamespace(id=31, citizen_id=5, app=SimpleNamespace(vendor_id=3), order=SimpleNamespace(department_id=1))
ACTORS = {
    "anonymous": None, "citizen": person("citizen", 5), "other_citizen": person("citizen", 6),
    "vendor": person("vendor_member", vendor_id=3), "other_vendor": person("vendor_member", vendor_id=4),
    "staff": person("department_staff", department_id=1), "other_staff": person("department_staff", department_id=2),
    "finance": person("finance"), "auditor": person("auditor"), "admin": person("admin"),
}


@pytest.mark.parametrize("rule", [authz.transaction_get, authz.transaction_get_by_case_number])
def test_a_case_is_seen_by_its_citizen_vendor_department_and_oversight_only(rule):
    seen = {}
    for who, actor in ACTORS.items():
        try:
            rule(actor, CASE)
            seen[who] = "ok"
        except NotFound:
            seen[who] = "NotFound"
    assert [who for who, result in seen.items() if result == "ok"] == ["citizen", "vendor", "staff", "auditor",
                                                                       "admin"]


def test_transaction_start_by_citizens_only():
    assert authz.transaction_start(ACTORS["citizen"]) is None
    with pytest.raises(Unauthenticated):
        authz.transaction_start(None)
    for who in ("vendor", "staff", "finance", "auditor", "admin"):
        with pytest.raises(Forbidden):
            authz.transaction_start(ACTORS[who])


def test_transaction_list_mine_scope_is_the_citizens_own_cases():
    scope = authz.transaction_list_mine_scope(ACTORS["citizen"])
    assert str(scope.compile(compile_kwargs={"literal_binds": True})) == "transactions.citizen_id = 5"
    with pytest.raises(Forbidden):
        authz.transaction_list_mine_scope(ACTORS["admin"])
    with pytest.raises(Unauthenticated):
        authz.transaction_list_mine_scope(None)
