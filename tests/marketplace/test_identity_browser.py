"""A citizen on a 360-px phone (Debian's chromium driven by Playwright): logs in as a persona with a long
minority name, consents to part of what an app asks, sees it on My data and revokes it; the consent screen lists
every claim and department record (optional ones unticked); My data masks, downloads and asks for deletion;
nothing scrolls sideways."""

from __future__ import annotations

import json
from pathlib import Path

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
    yield from _market(fresh_database_url, tmp_path)


@pytest.fixture
def market_with_records(fresh_database_url, tmp_path):
    """``market`` whose app has a certified live version declaring department fields: address and phone needed,
    the businesses the citizen represents optional."""
    yield from _market(fresh_database_url, tmp_path, declared=(["address", "phone"], ["businesses"]))


def _market(fresh_database_url, tmp_path, declared=None):
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
                                        "name": "在申请书上填写申请人姓名", "phone": "审批结果短信通知"},
                                        "x-department-data": {"address": "核对经营场所所在辖区",
                                                              "businesses": "列出您可代办的企业，免填信用代码"}},
                                    fee_per_transaction_fen=200, quarterly_budget_fen=100_000,
                                    dept_scopes=["person.read"], citizen_scopes=["name", "phone"])
        orders.suite_add(SYSTEM, order.id, suite_doc("food"))
        orders.order_publish(SYSTEM, order.id)
        vendor = vendors.vendor_create(SYSTEM, name="食安科技", credit_code="91310000MA1FL0001R")
        member = accounts.user_create(SYSTEM, email="dev@shian.example.cn", display_name="开发者",
                                      role="vendor_member", vendor_id=vendor.id)
        app_id = vendors.app_create(member, order_id=order.id, name="食安通", slug="shiantong").id
        if declared is not None:
            from core.extensions import db
            from core.time import utcnow
            from marketplace.vendors.models import AppVersion
            from sandbox.models import CertificationRun

            version = AppVersion(app_id=app_id, version="1.0.0", bundle_sha256="1" * 64, bundle_size=1,
                                 approved_at=utcnow(), published_at=utcnow())
            db.session.add(version)
            db.session.flush()
            db.session.add(CertificationRun(
                app_version_id=version.id, bundle_sha256="1" * 64, suite_version="1", suite_sha256="0" * 64,
                suite={}, job_id="declared", state="certified",
                report={"manifest": {"fields": declared[0], "optional_fields": declared[1]}}))
            db.session.commit()
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
    page.wait_for_url(f"{base}/identity/personas**")  # measure the page the link leads to, not the one it leaves
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


def test_the_consent_screen_lists_every_claim_and_record_with_its_purpose_on_a_phone(market_with_records, phone,
                                                                                     tmp_path):
    """The complete list: identity claims and the department records the app declared, in plain language, needed
    ones ticked and the optional one unticked, each with its purpose; what the citizen allows is what My data
    shows, with identifiers masked, the data and access log downloadable, and a deletion request tracked."""
    from marketplace.identity.personas import persona_list

    base, app_id = market_with_records
    persona = next(p for p in persona_list() if p.key == "food_ok")
    page = phone
    page.goto(f"{base}/identity/personas")
    page.get_by_role("button", name=f"以 {persona.name} 身份登录").click()
    page.wait_for_url(f"{base}/identity/my-data")

    page.goto(f"{base}/identity/consent/{app_id}")
    assert_fits_the_phone(page, tmp_path / "consent-records.png")
    who = page.get_by_role("group", name="您的身份：打开应用时交给应用")
    records = page.get_by_role("group", name="应用需要读取的政府登记信息")
    optional = page.get_by_role("group", name="可选：应用可用来替您免填的信息")
    assert who.get_by_label("姓名").is_checked() and who.get_by_label("手机号码").is_checked()
    assert records.get_by_label("户籍地址").is_checked() and records.get_by_label("手机号码").is_checked()
    assert "核对经营场所所在辖区" in records.inner_text() and "必填" in records.inner_text()
    businesses = optional.get_by_label("您代表的企业（法定代表人或授权经办人）")
    assert not businesses.is_checked(), "an optional record starts unticked"
    assert "列出您可代办的企业，免填信用代码" in optional.inner_text() and "可选" in optional.inner_text()
    assert "domicile" not in page.content() and "dept:" not in page.inner_text("main")

    page.get_by_role("button", name="同意并继续").click()
    page.wait_for_url(f"{base}/identity/my-data")
    consents = page.get_by_role("region", name="您授权了个人信息的应用").inner_text()
    assert "户籍地址" in consents and "核对经营场所所在辖区" in consents and "您代表的企业" not in consents
    assert_fits_the_phone(page, tmp_path / "my-data-records.png")

    # 我的数据: the resident ID masked on the page, in full in the downloads; a deletion request with its deadline.
    rid = persona.resident_id
    main = page.inner_text("main")
    assert f"{rid[:4]}**********{rid[-4:]}" in main and rid not in main
    with page.expect_download() as download:
        page.get_by_role("link", name="我的数据（JSON）").click()
    held = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))["held"]
    assert held["resident_id"] == rid and download.value.suggested_filename == "my-data.json"
    with page.expect_download() as download:
        page.get_by_role("link", name="访问记录（CSV）").click()
    assert Path(download.value.path()).read_text(encoding="utf-8-sig").startswith("app,fields,purpose")
    page.get_by_role("button", name="请 食安通 的开发商删除我的数据").click()
    page.wait_for_url(f"{base}/identity/my-data#deletion")
    requests = page.get_by_role("region", name="删除请求").inner_text()
    assert "食安通" in requests and "等待开发商处理" in requests
    assert_fits_the_phone(page, tmp_path / "my-data-deletion.png")

    page.goto(f"{base}/identity/consent/{app_id}?lang=en")
    records = page.get_by_role("group", name="Government records the app needs to read")
    assert records.get_by_label("Registered (hukou) address").is_checked()
    assert not page.get_by_label("Businesses you represent (legal representative or agent)").is_checked()
