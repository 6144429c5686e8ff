"""A citizen on a 360-px phone (Debian's chromium driven by Playwright): logs in as a persona with a long
minority name, consents to part of what an app asks, sees it on My data and revokes it; nothing scrolls
sideways."""

from __future__ import annotations

import pytest

from core.auth import SYSTEM
from tests.conftest import make_app, upgrade
from tests.live import chromium, phone_page, served
from tests.marketplace.conftest import contract_doc, suite_doc
from tests.marketplace.test_browser_views import assert_fits_the_phone

pytestmark = pytest.mark.browser


@pytest.fixture
def market(fresh_database_url, tmp_path):
    """The platform on loopback with one published order asking for name and phone, and one app for it."""
    app = make_app(fresh_database_url, tmp_path / "instance")
    upgrade(app)
    from marketplace.accounts import services as accounts
    from marketplace.catalogue import services as catalogue
    from marketplace.orders import services as orders
    from marketplace.vendors import services as vendors

    with app.app_context():
        dept = catalogue.department_create(SYSTEM, code="scjg", name="市场监督管理局")
        item = catalogue.service_item_create(SYSTEM, department_id=dept.id, code="food-licence",
                                             name="食品经营许可证核发", time_limit_days=10)
        order = orders.order_create(SYSTEM, service_item_id=item.id, slug="food", title="食品经营许可 App",
                                    contract={**contract_doc(), "x-citizen-data": {
                                        "name": "在申请书上填写申请人姓名", "phone": "审批结果短信通知"}},
                                    fee_per_transaction_fen=200, quarterly_budget_fen=100_000,
                                    dept_scopes=["person.read"], citizen_scopes=["name", "phone"])
        orders.suite_add(SYSTEM, order.id, suite_doc("food"))
        orders.order_publish(SYSTEM, order.id)
        vendor = vendors.vendor_create(SYSTEM, name="食安科技", credit_code="91310000MA1FL0001R")
        member = accounts.user_create(SYSTEM, email="dev@shian.example.cn", display_name="开发者",
                                      role="vendor_member", vendor_id=vendor.id)
        app_id = vendors.app_create(member, order_id=order.id, name="食安通", slug="shiantong").id
    with served(app) as port:
        yield f"http://127.0.0.1:{port}", app_id


@pytest.fixture
def phone():
    with chromium() as browser, phone_page(browser) as page:
        yield page


def test_citizen_consents_and_revokes_on_a_phone(market, phone, tmp_path):
    from marketplace.identity.personas import persona_list

    base, app_id = market
    persona = next(p for p in persona_list() if p.key == "awkward_minority_name")
    page = phone
    page.goto(f"{base}/identity/login")
    assert_fits_the_phone(page, tmp_path / "login.png")
    page.get_by_role("link", name="以测试人员身份登录").click()
    assert_fits_the_phone(page, tmp_path / "personas.png")
    page.get_by_role("button", name=f"以 {persona.name} 身份登录").click()
    page.wait_for_url(f"{base}/identity/my-data")

    page.goto(f"{base}/identity/consent/{app_id}")
    assert page.get_by_text("审批结果短信通知").is_visible()
    assert_fits_the_phone(page, tmp_path / "consent.png")
    page.get_by_label("手机号码").uncheck()  # labels are tied to their checkboxes
    page.get_by_role("button", name="同意并继续").click()
    page.wait_for_url(f"{base}/identity/my-data")
    consents = page.get_by_role("region", name="您授权了个人信息的应用")
    assert "在申请书上填写申请人姓名" in consents.inner_text() and "手机号码" not in consents.inner_text()
    assert_fits_the_phone(page, tmp_path / "my-data.png")

    page.get_by_role("button", name="撤回对 食安通 的授权").click()
    page.wait_for_url(f"{base}/identity/my-data")
    assert "无（已撤回）" in page.get_by_role("region", name="您授权了个人信息的应用").inner_text()
