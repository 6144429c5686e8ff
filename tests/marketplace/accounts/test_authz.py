"""The account rules one by one, called directly (CKAN style)."""

from types import SimpleNamespace

import pytest

from marketplace.accounts import authz
from tests.marketplace.rule_probe import ACTORS, allowed, outcomes

HOLDERS = ["vendor", "other_vendor", "staff", "other_staff", "finance", "auditor", "admin"]


def test_users_are_created_and_listed_by_admins_only():
    assert allowed(authz.user_create) == ["admin"]
    assert allowed(authz.user_list) == ["admin"]
    assert outcomes(authz.user_create)["anonymous"] == "Unauthenticated"
    assert outcomes(authz.user_create)["staff"] == "Forbidden"


def test_api_clients_for_every_role_but_citizens():
    assert allowed(authz.client_create) == HOLDERS
    assert allowed(authz.client_list) == HOLDERS
    assert outcomes(authz.client_list)["citizen"] == "Forbidden"


def test_client_list_scope_is_the_actors_own_clients():
    scope = authz.client_list_scope(ACTORS["vendor"])
    assert str(scope.compile(compile_kwargs={"literal_binds": True})).endswith("user_id = 8")


@pytest.mark.parametrize("rule", [authz.client_get, authz.client_rotate, authz.client_revoke])
def test_a_client_is_seen_rotated_and_revoked_by_its_user_or_an_admin(rule):
    client = SimpleNamespace(client_id="c1", user_id=ACTORS["vendor"].id)
    seen = outcomes(rule, client)
    assert [who for who, result in seen.items() if result == "ok"] == ["vendor", "admin"]
    assert seen["other_vendor"] == "NotFound" and seen["citizen"] == "Forbidden"
