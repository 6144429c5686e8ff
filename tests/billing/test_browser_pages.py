"""The transparency page and the finance pages in a real browser (Debian's chromium driven by Playwright) on a
360-px phone: a settled quarter with long Chinese names, and no page scrolls sideways (wide tables scroll inside
their own box, the chart scales down)."""

from __future__ import annotations

import pytest

from billing.source import EXTENSION_KEY
from core.auth import SYSTEM
from tests.billing.conftest import AFTER_Q3, Q3, FixtureSettlementSource, record, usage_rows
from tests.conftest import make_app, upgrade
from tests.live import PHONE, chromium, phone_page, served
from tests.services import require_chromium

pytestmark = pytest.mark.browser

EMAIL, PASSWORD = "finance@caizheng.example.cn", "correct horse battery"


@pytest.fixture
def live_server(fresh_database_url, tmp_path):
    require_chromium()
    app = make_app(fresh_database_url, tmp_path / "instance")
    upgrade(app)
    from billing import services
    from core.extensions import db
    from core.ids import uscc_check_char
    from marketplace.accounts import services as accounts
    from marketplace.vendors import services as vendors

    with app.app_context():
        source = FixtureSettlementSource()
        app.extensions[EXTENSION_KEY] = source
        vendor = vendors.vendor_create(SYSTEM, name="海川数智科技（上海）股份有限公司政务软件事业部",
                                       credit_code="91310000MA1FL0009"[:17] + uscc_check_char("91310000MA1FL0009"[:17]))
        finance = accounts.user_create(SYSTEM, email=EMAIL, display_name="财务 审核员", role="finance",
                                       password=PASSWORD)
        source.add_order(1, department_id=10, fee=200, budget=50_000, title="食品经营许可证核发 · 在线申请应用（含延续、变更）")
        source.add_app(11, 1, vendor.id, name="食安通 · 食品经营许可一次办好智能申报助手")
        source.add_app(12, 1, vendor.id, name="餐证快办")
        source.rate(11, 40, 180)
        record(usage_rows(1, 11, vendor.id, 150) + usage_rows(1, 12, vendor.id, 90))
        services.settlement_post(finance, Q3, now=AFTER_Q3)
        db.session.commit()
        run_id = services.settlement_runs(finance, Q3)[0].id
        account_id = services.ledger_trial_balance(finance)[0].account_id
        vendor_id = vendor.id
    with served(app) as port:
        yield {"url": f"http://127.0.0.1:{port}", "run": run_id, "account": account_id, "vendor": vendor_id}


def fits(page, url: str) -> None:
    response = page.goto(url)
    assert response.status == 200, (url, response.status)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{url} is {width}px wide on a {PHONE['width']}px screen"


def test_transparency_and_finance_pages_fit_a_360px_phone(live_server):
    base = live_server["url"]
    with chromium() as browser, phone_page(browser) as page:
        for path in (f"/transparency/{Q3}", "/transparency/", f"/transparency/{Q3}?lang=en"):
            fits(page, base + path)
        assert "订单均分" in page.inner_text("main") or "order's mean" in page.inner_text("main")
        page.goto(f"{base}/login?lang=zh_CN")
        page.get_by_label("电子邮箱").fill(EMAIL)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(f"{base}/work")  # staff land on their work queue
        for path in ("/finance/", f"/finance/quarters/{Q3}", f"/finance/quarters/{Q3}/preview",
                     f"/finance/quarters/{Q3}/report", "/finance/ledger", f"/finance/runs/{live_server['run']}",
                     f"/finance/ledger/accounts/{live_server['account']}",
                     f"/finance/vendors/{live_server['vendor']}/statement?quarter={Q3}"):
            fits(page, base + path)
