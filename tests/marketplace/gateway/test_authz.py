"""The gateway rule, called directly (CKAN style)."""

from marketplace.gateway import authz
from tests.marketplace.rule_probe import allowed, outcomes


def test_apps_are_launched_by_real_name_citizens_only():
    # other_citizen has no verified resident ID: it must log in through the identity provider first.
    assert allowed(authz.app_launch) == ["citizen"]
    seen = outcomes(authz.app_launch)
    assert seen["other_citizen"] == "Forbidden" and seen["anonymous"] == "Unauthenticated"
