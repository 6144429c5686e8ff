"""The identity rules, called directly (CKAN style)."""

import pytest

from core.errors import Forbidden
from marketplace.identity import authz
from tests.marketplace.rule_probe import CITIZEN, allowed, outcomes


@pytest.mark.parametrize("rule", [authz.consent_status, authz.consent_grant, authz.consent_decline,
                                  authz.consent_revoke, authz.consent_list, authz.identity_token_for])
def test_consent_use_cases_are_the_citizens_own(rule):
    assert allowed(rule) == ["citizen", "other_citizen"]


def test_access_log_own_for_citizens_anyones_for_admins_and_auditors():
    assert allowed(authz.access_log_list, None) == ["citizen", "other_citizen", "auditor", "admin"]
    assert outcomes(authz.access_log_list, CITIZEN)["other_citizen"] == "Forbidden"
    assert outcomes(authz.access_log_list, CITIZEN)["citizen"] == "ok"
    assert outcomes(authz.access_log_list, 99)["auditor"] == "ok"


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
