"""Every role's daily pages in a real browser (Debian's chromium under Playwright), on a desktop and on a 360-px
phone: each role logs in and lands where its work is, and on each of its key pages axe-core (installed from the
npm registry by `make test`, pinned in package-lock.json) finds no serious or critical accessibility violation,
and on the phone nothing scrolls sideways. One browser for the module; the pages are checked in one loop.

With UPDATE_SCREENSHOTS=1 the home page of each role is saved to docs/screenshots/ (desktop and phone)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from core.auth import SYSTEM
from core.ids import resident_id_check_char, uscc_check_char
from core.time import utcnow
from tests.conftest import make_app, upgrade
from tests.live import PHONE, chromium, served
from tests.marketplace.conftest import contract_doc, suite_doc
from tests.services import IN_CI, missing

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "correct horse battery"
DESKTOP = {"width": 1366, "height": 800}
# Each role: where it lands after logging in, then the pages of its daily work.
JOURNEYS = {
    "citizen": ["/services", "/my/cases", "/my/todo", "/identity/my-data", "/services/items/food"],
    "staff": ["/work", "/orders/{order}", "/feedback", "/analytics", "/versions/{version}"],
    "vendor": ["/work", "/apps", "/apps/{app}", "/account/clients", "/account/invitations"],
    "finance": ["/work", "/finance/"],
    "auditor": ["/work", "/audit"],
    "admin": ["/work", "/admin/vendor-applications", "/feedback", "/audit"],
}
SERIOUS = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")}`);
}"""


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    if not AXE.exists():
        missing("axe-core", f"{AXE} is missing: run `make browser-tools` (npm ci)")
    from tests.conftest import _create_database

    url, drop = _create_database(tmp_path_factory, "journeys")
    app = make_app(url, tmp_path_factory.mktemp("journeys-instance"), TESTING=False)
    upgrade(app)
    with app.app_context():
        ids = _seed()
    try:
        with served(app) as port:
            yield f"http://127.0.0.1:{port}", ids
    finally:
        drop()


def _seed() -> dict:
    from core.extensions import db
    from marketplace.accounts import services as accounts
    from marketplace.accounts.models import User
    from marketplace.catalogue import services as catalogue
    from marketplace.orders import services as orders
    from marketplace.vendors import services as vendors
    from marketplace.vendors.models import AppVersion

    dept = catalogue.department_create(SYSTEM, code="scjg", name="市场监督管理局", name_en="Market Regulation")
    item = catalogue.service_item_create(SYSTEM, department_id=dept.id, code="food", name="食品经营许可证核发",
                                         name_en="Food business licence", time_limit_days=10, channels=["window"])
    order = orders.order_create(SYSTEM, service_item_id=item.id, slug="food", title="食品经营许可 App",
                                contract=contract_doc(), fee_per_transaction_fen=200, quarterly_budget_fen=100_000,
                                dept_scopes=["person.read"], citizen_scopes=["name"])
    orders.suite_add(SYSTEM, order.id, suite_doc("food"))
    orders.order_publish(SYSTEM, order.id)
    code = "91310000MA1FL0001"
    vendor = vendors.vendor_create(SYSTEM, name="食安科技", credit_code=code + uscc_check_char(code))
    people = {"staff": dict(role="department_staff", department_id=dept.id),
              "vendor": dict(role="vendor_member", vendor_id=vendor.id), "finance": dict(role="finance"),
              "auditor": dict(role="auditor"), "admin": dict(role="admin"),
              "citizen": dict(role="citizen", resident_id="11010519900307457" + resident_id_check_char("11010519900307457"))}
    for name, kw in people.items():
        accounts.user_create(SYSTEM, email=f"{name}@journey.example.cn", display_name=f"{name} 用户",
                             password=PASSWORD, **kw)
    member = db.session.query(User).filter_by(email="vendor@journey.example.cn").one()
    app_row = vendors.app_create(member, order_id=order.id, name="食安通", slug="shiantong")
    moment = utcnow() - timedelta(days=3)
    version = AppVersion(app_id=app_row.id, version="1.0.0", bundle_sha256="0" * 64, bundle_size=1,
                         uploaded_at=moment, approved_at=moment, published_at=moment)
    db.session.add(version)
    db.session.commit()
    return {"order": order.id, "app": app_row.id, "version": version.id}


def _log_in(page, base: str, who: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", f"{who}@journey.example.cn")
    page.fill("#password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()


def test_every_role_reaches_its_work_accessibly_on_a_desktop_and_a_phone(platform):
    base, ids = platform
    problems: list[str] = []
    update = os.environ.get("UPDATE_SCREENSHOTS") == "1" and not IN_CI
    with chromium() as browser:
        for size_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            for role, paths in JOURNEYS.items():
                context = browser.new_context(viewport=viewport, locale="zh-CN", is_mobile=size_name == "phone",
                                              has_touch=size_name == "phone")
                context.add_init_script(path=str(AXE))  # via the DevTools protocol: the pages' CSP does not apply
                page = context.new_page()
                page.set_default_timeout(15_000)
                _log_in(page, base, role)
                landed = page.url.removeprefix(base)
                expected = "/work" if role != "citizen" else "/"
                if landed.split("?")[0] != expected:
                    problems.append(f"{role}: landed on {landed}, expected {expected}")
                for index, path in enumerate(paths):
                    url = base + path.format(**ids)
                    response = page.goto(url)
                    where = f"{size_name} {role} {path}"
                    if response is None or response.status != 200:
                        problems.append(f"{where}: HTTP {response.status if response else '—'}")
                        continue
                    problems += [f"{where}: axe {v}" for v in page.evaluate(SERIOUS)]
                    if size_name == "phone":
                        width = page.evaluate("document.documentElement.scrollWidth")
                        if width > PHONE["width"]:
                            problems.append(f"{where}: {width} px wide on a {PHONE['width']}-px phone")
                    if update and index == 0:
                        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(SCREENSHOTS / f"{role}-{size_name}.png"), full_page=False)
                context.close()
    assert not problems, "\n".join(problems)
