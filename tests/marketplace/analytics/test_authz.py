"""The analytics rule, called directly (CKAN style)."""

from marketplace.analytics import authz
from tests.marketplace.rule_probe import DEPT, outcomes


def test_department_analytics_for_its_staff_admins_and_auditors():
    seen = outcomes(authz.analytics_department, DEPT)
    assert [who for who, result in seen.items() if result == "ok"] == ["staff", "auditor", "admin"]
    assert seen["other_staff"] == "Forbidden" and seen["finance"] == "Forbidden"
    assert seen["anonymous"] == "Unauthenticated"
