"""The transaction (case) rules one by one, called directly (CKAN style)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.errors import Forbidden, Unauthenticated
from marketplace.transactions import authz
from tests.marketplace.rule_probe import ACTORS, CITIZEN, DEPT, VENDOR, outcomes

CASE = SimpleNamespace(id=31, citizen_id=CITIZEN, app=SimpleNamespace(vendor_id=VENDOR),
                       order=SimpleNamespace(department_id=DEPT))


@pytest.mark.parametrize("rule", [authz.transaction_get, authz.transaction_get_by_case_number])
def test_a_case_is_seen_by_its_citizen_vendor_department_and_oversight_only(rule):
    seen = outcomes(rule, CASE)
    assert [who for who, result in seen.items() if result == "ok"] == ["citizen", "vendor", "staff", "auditor",
                                                                       "admin"]
    assert {result for result in seen.values() if result != "ok"} == {"NotFound"}


def test_transaction_start_by_citizens_only():
    assert authz.transaction_start(ACTORS["citizen"]) is None
    with pytest.raises(Unauthenticated):
        authz.transaction_start(None)
    for who in ("vendor", "staff", "finance", "auditor", "admin"):
        with pytest.raises(Forbidden):
            authz.transaction_start(ACTORS[who])


def test_transaction_list_mine_scope_is_the_citizens_own_cases():
    scope = authz.transaction_list_mine_scope(ACTORS["citizen"])
    assert str(scope.compile(compile_kwargs={"literal_binds": True})) == f"transactions.citizen_id = {CITIZEN}"
    with pytest.raises(Forbidden):
        authz.transaction_list_mine_scope(ACTORS["admin"])
    with pytest.raises(Unauthenticated):
        authz.transaction_list_mine_scope(None)
