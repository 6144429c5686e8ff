"""The vendor, app and version rules one by one, called directly (CKAN style), and the list scopes against
the get rules."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.errors import NotFound
from marketplace.vendors import authz
from tests.marketplace.citizen_world import *  # noqa: F403  (the `market` fixture)
from tests.marketplace.rule_probe import DEPT, VENDOR, allowed, outcomes


def app(order_status="open"):
    order = SimpleNamespace(id=5, status=order_status, department_id=DEPT)
    return SimpleNamespace(id=7, vendor_id=VENDOR, order=order, order_id=order.id)


def test_vendor_get_for_its_members_departments_and_oversight():
    seen = outcomes(authz.vendor_get, SimpleNamespace(id=VENDOR))
    assert [w for w, r in seen.items() if r == "ok"] == ["vendor", "staff", "other_staff", "finance", "auditor", "admin"]
    assert {r for r in seen.values() if r != "ok"} == {"NotFound"}


def test_app_and_version_get_for_the_vendor_the_orders_department_and_oversight():
    target = app()
    expected = ["vendor", "staff", "finance", "auditor", "admin"]
    assert allowed(authz.app_get, target) == expected
    for rule in (authz.version_get, authz.version_view, authz.version_report):
        assert allowed(rule, SimpleNamespace(app=target)) == expected
    assert outcomes(authz.app_get, target)["other_vendor"] == "NotFound"


def test_app_create_by_vendors_on_open_orders():
    assert allowed(authz.app_create, SimpleNamespace(id=5, status="open")) == ["vendor", "other_vendor"]
    assert outcomes(authz.app_create, SimpleNamespace(id=5, status="closed"))["vendor"] == "Forbidden"


def test_version_upload_by_the_apps_vendor_while_the_order_takes_versions():
    assert allowed(authz.version_upload, app("open")) == ["vendor"]
    assert allowed(authz.version_upload, app("closed")) == ["vendor"]
    assert outcomes(authz.version_upload, app("archived"))["vendor"] == "Forbidden"
    assert outcomes(authz.version_upload, app())["other_vendor"] == "NotFound"


@pytest.mark.parametrize("rule", [authz.version_approve, authz.version_reject, authz.version_suspend])
def test_review_decisions_by_the_orders_department_and_admins(rule):
    seen = outcomes(rule, SimpleNamespace(app=app()))
    assert seen == {"anonymous": "NotFound", "citizen": "NotFound", "other_citizen": "NotFound", "vendor": "Forbidden",
                    "other_vendor": "NotFound", "staff": "ok", "other_staff": "NotFound", "finance": "Forbidden",
                    "auditor": "Forbidden", "admin": "ok"}


@pytest.mark.parametrize("rule", [authz.version_publish, authz.version_withdraw, authz.version_recertify])
def test_publish_withdraw_recertify_by_the_vendor_the_department_and_admins(rule):
    assert allowed(rule, SimpleNamespace(app=app())) == ["vendor", "staff", "admin"]


def test_list_scopes_list_exactly_what_the_get_rules_admit(market, world):
    import sqlalchemy as sa

    from core.extensions import db
    from marketplace.accounts.models import User
    from marketplace.vendors.models import App, AppVersion, Vendor

    apps, vendors = list(db.session.scalars(sa.select(App))), list(db.session.scalars(sa.select(Vendor)))
    versions = list(db.session.scalars(sa.select(AppVersion)))
    assert len(apps) >= 3 and len(vendors) >= 2 and len(versions) >= 3
    for who in (None, "citizen", "vendor_a", "vendor_b", "staff_a", "staff_b", "finance", "auditor", "admin"):
        user = None if who is None else db.session.get(User, world.ids[who])
        for model, scope, rule, rows in ((App, authz.app_list_scope, authz.app_get, apps),
                                         (Vendor, authz.vendor_list_scope, authz.vendor_get, vendors),
                                         (AppVersion, authz.version_list_scope, authz.version_get, versions)):
            listed = set(db.session.scalars(sa.select(model.id).where(scope(user))))
            visible = set()
            for row in rows:
                try:
                    rule(user, row)
                    visible.add(row.id)
                except NotFound:
                    pass
            assert listed == visible, (who, model.__name__)
