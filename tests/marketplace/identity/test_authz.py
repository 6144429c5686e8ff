"""The identity rules, called directly (CKAN style)."""

import pytest

from core.errors import Forbidden
from marketplace.identity import authz
from tests.marketplace.rule_probe import ACTORS, CITIZEN, allowed, outcomes


@pytest.mark.parametrize("rule", [authz.consent_status, authz.consent_grant, authz.consent_decline,
                                  authz.consent_revoke, authz.consent_list, authz.identity_token_for])
def test_consent_use_cases_are_the_citizens_own(rule):
    assert allowed(rule) == ["citizen", "other_citizen"]


def test_access_log_own_for_citizens_anyones_for_admins_and_auditors():
    def scope(who, citizen_id):
        clause = authz.access_log_list_scope(ACTORS[who], citizen_id)
        return str(clause.compile(compile_kwargs={"literal_binds": True}))

    seen = outcomes(authz.access_log_list_scope, CITIZEN)
    assert [who for who, result in seen.items() if result not in ("Forbidden", "Unauthenticated")] == [
        "citizen", "auditor", "admin"]
    assert seen["anonymous"] == "Unauthenticated"
    assert scope("citizen", None) == scope("citizen", CITIZEN) == f"identity_access_log.user_id = {CITIZEN}"
    assert scope("auditor", 99) == "identity_access_log.user_id = 99"
    assert scope("admin", None) == "true"


def test_platform_keys_and_oidc_clients_by_admins():
    assert allowed(authz.signing_key_rotate) == ["admin"]
    assert allowed(authz.oidc_client_create) == ["admin"]


@pytest.mark.parametrize(("settings", "allowed_"), [
    ({"ENV": "development"}, True), ({"ENV": "testing", "PERSONA_LOGIN": True}, True),
    ({"ENV": "testing"}, False), ({"ENV": "production", "PERSONA_LOGIN": True}, False)])
def test_persona_login_never_in_production(settings, allowed_):
    assert authz.persona_login_allowed(settings) is allowed_
    if not allowed_:
        with pytest.raises(Forbidden):
            authz.citizen_login_persona(settings)


def test_deletion_requests_asked_by_citizens_listed_by_scope_closed_by_the_addressed_vendor():
    from types import SimpleNamespace

    from tests.marketplace.rule_probe import VENDOR

    assert allowed(authz.my_data_export) == allowed(authz.deletion_request_create) == ["citizen", "other_citizen"]

    def scope(who):
        return str(authz.deletion_request_list_scope(ACTORS[who]).compile(compile_kwargs={"literal_binds": True}))

    assert scope("citizen") == f"identity_deletion_requests.user_id = {CITIZEN}"
    assert scope("vendor") == f"identity_deletion_requests.vendor_id = {VENDOR}"
    assert scope("admin") == "true"
    assert outcomes(authz.deletion_request_list_scope)["staff"] == "Forbidden"
    assert allowed(authz.deletion_request_complete, SimpleNamespace(id=7, vendor_id=VENDOR)) == ["vendor"]
    # another vendor's member learns nothing, not even that the request exists
    assert outcomes(authz.deletion_request_complete, SimpleNamespace(id=7, vendor_id=VENDOR))["other_vendor"] == "NotFound"
