"""A real browser (Debian's chromium driven by Playwright) on a 360-px-wide phone screen: a department officer
logs in, creates an order, adds its acceptance suite and publishes it, and no page scrolls sideways."""

from __future__ import annotations

import struct

import pytest
import yaml

from core.auth import SYSTEM
from tests.conftest import make_app, upgrade
from tests.live import PHONE, chromium, served
from tests.live import phone_page as new_phone_page
from tests.marketplace.conftest import contract_doc, suite_doc

pytestmark = pytest.mark.browser

EMAIL, PASSWORD = "officer@scjg.example.cn", "correct horse battery"


@pytest.fixture
def live_server(fresh_database_url, tmp_path):
    """The platform on 127.0.0.1 and a free port, on its own database (the browser's requests commit)."""
    app = make_app(fresh_database_url, tmp_path / "instance")
    upgrade(app)
    from marketplace.accounts import services as accounts
    from marketplace.catalogue import services as catalogue

    with app.app_context():
        dept = catalogue.department_create(SYSTEM, code="market-regulation", name="市场监督管理局",
                                           name_en="Administration for Market Regulation")
        catalogue.service_item_create(SYSTEM, department_id=dept.id, code="food-licence", name="食品经营许可证核发",
                                      time_limit_days=10)
        accounts.user_create(SYSTEM, email=EMAIL, display_name="王晓明", role="department_staff",
                             department_id=dept.id, password=PASSWORD)
    with served(app) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def phone_page():
    with chromium() as browser, new_phone_page(browser) as page:
        yield page


def assert_fits_the_phone(page, shot_path) -> None:
    page.wait_for_load_state("load")  # a document still being parsed has no documentElement yet
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a {PHONE['width']}px screen"
    png = page.screenshot(path=str(shot_path), full_page=True)
    png_width, png_height = struct.unpack(">II", png[16:24])
    assert png_width == PHONE["width"] and png_height >= PHONE["height"] // 2, (png_width, png_height)


def test_officer_creates_and_publishes_an_order_on_a_phone(live_server, phone_page, tmp_path):
    page = phone_page
    page.goto(f"{live_server}/login")
    assert_fits_the_phone(page, tmp_path / "login.png")

    # Keyboard users reach the skip link first.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"

    page.get_by_label("电子邮箱").fill(EMAIL)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/work")  # staff land on their work queue
    assert "王晓明" in page.inner_text("header") and "部门工作人员" in page.inner_text("header")
    assert_fits_the_phone(page, tmp_path / "home.png")

    page.get_by_role("link", name="新建订单").first.click()
    page.wait_for_url("**/orders/new")
    assert_fits_the_phone(page, tmp_path / "order-form.png")
    page.get_by_label("服务事项").select_option(label="食品经营许可证核发 · food-licence")
    page.get_by_label("短名称（用于网址）").fill("food-licence")
    page.get_by_label("标题").fill("食品经营许可证核发 · 在线申请应用")
    page.get_by_label("……或粘贴契约内容").fill(yaml.safe_dump(contract_doc()))
    page.get_by_label("person.read", exact=False).check()
    page.get_by_label("application.submit", exact=False).check()
    page.get_by_label("name — 姓名").check()
    page.get_by_label("每笔办结业务费用（元）").fill("2.00")
    page.get_by_label("季度预算（元）").fill("50,000")
    page.get_by_role("button", name="创建订单草稿").click()
    page.wait_for_url("**/orders/*")
    assert "订单草稿已创建" in page.inner_text("main")
    assert "¥50,000.00" in page.inner_text("main") and "草稿" in page.inner_text("h1")
    assert_fits_the_phone(page, tmp_path / "draft.png")

    page.get_by_role("link", name="添加测试集版本").click()
    page.get_by_label("……或粘贴测试集内容").fill(yaml.safe_dump(suite_doc("food-licence"), allow_unicode=True))
    page.get_by_role("button", name="添加版本").click()
    page.wait_for_url("**/orders/*#suite")
    assert "测试集版本 1 已添加" in page.inner_text("main")

    page.get_by_role("button", name="发布").click()
    page.wait_for_load_state()
    assert "订单已发布" in page.inner_text("main")
    assert "开放中" in page.inner_text("h1")
    assert page.get_by_role("button", name="关闭").is_visible()
    assert_fits_the_phone(page, tmp_path / "published.png")

    for path in ("/orders", "/departments", "/departments/market-regulation", "/account/clients", "/orders?lang=en"):
        page.goto(live_server + path)
        assert_fits_the_phone(page, tmp_path / (path.strip("/").replace("/", "-").replace("?", "-") + ".png"))
