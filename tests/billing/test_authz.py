"""The billing rules one by one, called directly (CKAN style): the platform does everything, finance settles,
auditors read, a vendor sees its own statement, the transparency report is public."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from billing import authz
from core.auth import SYSTEM
from core.errors import Forbidden, Unauthenticated


def person(role, vendor_id=None):
    return SimpleNamespace(id=1, role=role, department_id=None, vendor_id=vendor_id)


PEOPLE = {"citizen": person("citizen"), "vendor": person("vendor_member", vendor_id=3),
          "other_vendor": person("vendor_member", vendor_id=4), "staff": person("department_staff"),
          "finance": person("finance"), "auditor": person("auditor"), "admin": person("admin")}


def allowed(rule, *args) -> list[str]:
    admitted = []
    for who, actor in PEOPLE.items():
        try:
            rule(actor, *args)
            admitted.append(who)
        except (Forbidden, Unauthenticated):
            pass
    # The platform itself (the CLI, scheduled jobs, the demo seeder) may always act.
    rule(SYSTEM, *args)
    rule(None, *args)
    return admitted


@pytest.mark.parametrize("rule", [authz.usage_flag, authz.settlement_preview, authz.settlement_post,
                                  authz.quarter_close, authz.ledger_reverse, authz.payee_set])
def test_settling_is_finances(rule):
    assert allowed(rule) == ["finance"]


@pytest.mark.parametrize("rule", [authz.quarters_list, authz.quarter_get, authz.settlement_runs,
                                  authz.settlement_run_get, authz.settlement_recompute, authz.ledger_verify,
                                  authz.ledger_entries, authz.ledger_entry_count, authz.ledger_entry_get,
                                  authz.ledger_trial_balance, authz.ledger_accounts,
                                  authz.ledger_account_statement, authz.finance_report, authz.payout_file,
                                  authz.payout_bank_file])
def test_reading_the_books_is_for_finance_and_auditors(rule):
    assert allowed(rule) == ["finance", "auditor"]


@pytest.mark.parametrize("rule", [authz.usage_record, authz.usage_record_batch])
def test_usage_is_reported_by_admins_and_finance_never_by_vendors(rule):
    assert allowed(rule) == ["finance", "admin"]


def test_a_vendor_sees_its_own_statement_only():
    assert allowed(authz.vendor_statement, 3) == ["vendor", "finance", "auditor"]
    with pytest.raises(Forbidden, match="only your own vendor"):
        authz.vendor_statement(PEOPLE["other_vendor"], 3)


@pytest.mark.parametrize("rule", [authz.transparency_report, authz.transparency_quarters, authz.transparency_dataset])
def test_transparency_is_public(rule):
    assert allowed(rule) == list(PEOPLE)
