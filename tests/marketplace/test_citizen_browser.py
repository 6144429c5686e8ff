"""The whole citizen path in a real browser (Playwright driving Debian's chromium) on a 360-px phone in Chinese,
against the platform served on 127.0.0.1 with two sample apps really certified in the bubblewrap sandbox:

find the food-licence item by search (pinyin, a typo) and through the life event 开餐馆 → compare the apps side by
side → log in as the ``food_ok`` persona → consent (each field with its purpose) → use 食安通 on its own origin
through the gateway and apply → follow the case in "my cases" while the department, on its own clock (moved by the
test), accepts, reviews and concludes it → rate it with one tap on the overall level (a comment and one dimension
added first, both optional) → see the rating on the app's public page.

On every citizen page: no sideways scrolling, every form control labelled, images with alt text, the main
actions reachable with Tab, buttons at least 44 px tall, and text contrast of at least WCAG AA. A second test
extends what test_gateway_browser.py proves for an echo app to a real one: its page cannot read the platform's
session cookie, cannot read the platform's pages that use it (My cases, My data) or its API, and cannot act with
it (a forged revoke of the citizen's consent changes nothing)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from core.auth import SYSTEM
from tests.conftest import _create_database, make_app, upgrade
from tests.live import PHONE, chromium, free_port, phone_page, served
from tests.sandbox.test_serving import packaged_example
from tests.services import require_bwrap, require_chromium

pytestmark = pytest.mark.browser

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PASSWORD = "correct horse battery"
COMMENT = "材料一次就提交成功，还自动带出了经营场所，很方便。"


# --- the platform, served for real ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """The demo catalogue (departments, items, life events, the food-licence order) on its own migrated database,
    with 食安通 (examples/food-shiantong) and 餐证快办 (examples/food-canzheng) uploaded by their vendors,
    certified by the embedded queue in the bubblewrap sandbox, approved by the department and published."""
    require_bwrap()
    require_chromium()
    url, drop = _create_database(tmp_path_factory, "citizen")
    port = free_port()
    app = make_app(url, tmp_path_factory.mktemp("citizen-instance"), APPS_DOMAIN=f"apps.localhost:{port}",
                   ISSUER=f"http://localhost:{port}", SANDBOX_BACKEND="bwrap", TESTING=False)
    upgrade(app)
    with app.app_context():
        seeded = _seed(app)
    try:
        with served(app, port):
            yield {"url": f"http://localhost:{port}", "port": port, "app": app, **seeded}
    finally:
        drop()


def _seed(app) -> dict:
    import yaml

    from core.extensions import db
    from core.ids import uscc_check_char
    from core.storage import FileBlobStore
    from marketplace.accounts import services as accounts
    from marketplace.catalogue import services as catalogue
    from marketplace.catalogue.life_events import life_events_seed
    from marketplace.demo.data import DEPARTMENTS, ITEMS
    from marketplace.identity.personas import persona_list
    from marketplace.orders import services as orders
    from marketplace.vendors import services as vendors
    from mockdata.generator import scenarios_for
    from mockdata.specs import get_spec

    departments = {code: catalogue.department_create(SYSTEM, code=code, name=name, name_en=name_en)
                   for code, name, name_en in DEPARTMENTS}
    items = {}
    for dept, code, name, name_en, days, trips, fee, materials in ITEMS:
        items[code] = catalogue.service_item_create(SYSTEM, department_id=departments[dept].id, code=code, name=name,
                                                    name_en=name_en, time_limit_days=days, trips=trips, fee_fen=fee,
                                                    materials=materials, channels=["online", "mobile"])
    life_events_seed(SYSTEM)
    contract = yaml.safe_load((EXAMPLES / "contracts" / "food-licence.openapi.yaml").read_text("utf-8"))
    order = orders.order_create(SYSTEM, service_item_id=items["food-licence"].id, slug="food-licence",
                                title="食品经营许可证核发 · 在线申请应用", contract=contract,
                                dept_scopes=contract["x-govapp"]["dept_scopes"],
                                citizen_scopes=contract["x-govapp"]["citizen_scopes"],
                                fee_per_transaction_fen=200, quarterly_budget_fen=5_000_000)
    orders.suite_add(SYSTEM, order.id, yaml.safe_load((EXAMPLES / "suites" / "food-licence.yaml").read_text("utf-8")))
    orders.order_publish(SYSTEM, order.id)
    staff = accounts.user_create(SYSTEM, email="staff@scjg.example.cn", display_name="市场监管 审核员",
                                 role="department_staff", department_id=departments["market-regulation"].id,
                                 password=PASSWORD)
    store = FileBlobStore(app.config["BUNDLE_STORE"])
    app_ids = {}
    for n, (example, vendor_name, slug, name, summary) in enumerate((
            ("food-shiantong", "海川数智科技有限公司", "shiantong", "食安通", "一次提交，自动带出经营场所，材料当场核验。"),
            ("food-canzheng", "云岭软件股份有限公司", "canzheng", "餐证快办", "稳妥办理食品经营许可证。"))):
        code17 = f"91310115MA1H7K2Q{n}"
        vendor = vendors.vendor_create(SYSTEM, name=vendor_name, credit_code=code17 + uscc_check_char(code17))
        member = accounts.user_create(SYSTEM, email=f"dev@{slug}.example.cn", display_name=f"{name} 开发者",
                                      role="vendor_member", vendor_id=vendor.id, password=PASSWORD)
        app_row = vendors.app_create(member, order_id=order.id, name=name, slug=slug, summary=summary)
        with open(packaged_example(example), "rb") as bundle:
            version = vendors.version_upload(member, app_row.id, version="1.0.0", stream=bundle, store=store,
                                             max_bytes=app.config["MAX_BUNDLE_BYTES"])
        status = vendors.version_status(version)
        assert status == "certified", f"{example} did not certify in the sandbox: {status}"
        vendors.version_approve(staff, version.id)
        vendors.version_publish(member, version.id)
        app_ids[slug] = app_row.id
    db.session.commit()
    food_ok = next(p for p in persona_list() if p.key == "food_ok")
    business = scenarios_for(get_spec("citizens-v1"), 42)["food_ok"]["business"]
    return {"personas": {p.key: p.resident_id for p in persona_list()}, "resident_id": food_ok.resident_id,
            "citizen_name": food_ok.name, "credit_code": business["credit_code"],
            "premises": business["address"], "app_ids": app_ids}


@pytest.fixture(scope="module")
def browser():
    with chromium() as chromium_browser:
        yield chromium_browser


@pytest.fixture
def phone(browser):
    with phone_page(browser, timeout_ms=20_000) as page:
        yield page


# --- what every citizen page must pass -----------------------------------------------------------------------

# For every visible text element: its colour, the first opaque background behind it, its size and weight.
_TEXT_COLOURS = """() => {
  const parse = (c) => { const m = c.match(/[\\d.]+/g) || []; return m.map(Number); };
  // The colour behind an element: its translucent backgrounds laid over the first opaque one (or white).
  const background = (el) => {
    const layers = [];
    let base = [255, 255, 255];
    for (let e = el; e; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (style.backgroundImage !== "none") return null;  // text on an image: not judged here
      const rgba = parse(style.backgroundColor);
      const alpha = rgba.length === 4 ? rgba[3] : 1;
      if (alpha >= 0.99) { base = rgba.slice(0, 3); break; }
      if (alpha > 0) layers.push(rgba);
    }
    for (const [r, g, b, a] of layers.reverse()) base = [r, g, b].map((c, i) => c * a + base[i] * (1 - a));
    return base;
  };
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!own || style.visibility === "hidden" || !el.getClientRects().length) continue;
    const bg = background(el);
    if (!bg) continue;
    out.push({text: el.textContent.trim().slice(0, 40), tag: el.tagName, color: parse(style.color),
              bg, size: parseFloat(style.fontSize), weight: parseInt(style.fontWeight, 10)});
  }
  return out;
}"""

# Form controls without an accessible name: buttons name themselves (text, value, alt); fields need a label.
_UNLABELLED = """() => [...document.querySelectorAll("input, select, textarea, button")]
  .filter(el => el.type !== "hidden" && el.getClientRects().length)
  .filter(el => {
    if (el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")) return false;
    if (el.tagName === "BUTTON") return !el.textContent.trim();
    if (["submit", "button", "reset"].includes(el.type)) return !(el.value || "").trim();
    if (el.type === "image") return !el.alt;
    return !el.labels.length;
  })
  .map(el => el.outerHTML.slice(0, 120))"""


def _luminance(rgb) -> float:
    def channel(value):
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground, background) -> float:
    """WCAG 2 contrast ratio; a translucent text colour is blended onto its background first."""
    if len(foreground) == 4:
        alpha = foreground[3]
        foreground = [alpha * f + (1 - alpha) * b for f, b in zip(foreground[:3], background, strict=True)]
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def check_page(page, *, tab_to: tuple[str, ...] = ()) -> None:
    """The checks every citizen page passes: fits a 360-px screen, labelled controls, alt texts, AA contrast,
    and the given main actions reachable by Tab from the top of the page."""
    where = page.url
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{where} is {width}px wide on a {PHONE['width']}px screen"
    assert page.evaluate(_UNLABELLED) == [], f"{where}: form controls without a label"
    assert page.evaluate("() => [...document.images].filter(i => !i.hasAttribute('alt')).length") == 0, \
        f"{where}: images without alt text"
    low = []
    for t in page.evaluate(_TEXT_COLOURS):
        large = t["size"] >= 24 or (t["size"] >= 18.66 and t["weight"] >= 700)
        ratio = contrast(t["color"], t["bg"])
        if ratio < (3.0 if large else 4.5):
            low.append((t["tag"], t["text"], round(ratio, 2)))
    assert not low, f"{where}: text below WCAG AA contrast: {low}"
    small = page.evaluate("""() => [...document.querySelectorAll("main button, main input[type=submit], main a.button")]
        .filter(el => el.getClientRects().length && el.getBoundingClientRect().height < 44)
        .map(el => el.outerHTML.slice(0, 100))""")
    assert not small, f"{where}: buttons smaller than a 44-px touch target: {small}"
    for selector in tab_to:
        assert tab_reaches(page, selector), f"{where}: Tab never reaches {selector}"


def on_path(prefix: str):
    """For wait_for_url: the address's path starts with ``prefix`` (whatever its query holds)."""
    return lambda url: urlsplit(url).path.startswith(prefix)


def tab_reaches(page, selector: str, limit: int = 60) -> bool:
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    page.focus("body")
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => !!document.activeElement && document.activeElement.matches(s)", selector):
            return True
    return False


# --- the path -------------------------------------------------------------------------------------------------

def test_a_citizen_finds_chooses_uses_follows_and_rates_an_app_on_a_phone(platform, phone):
    page, base = phone, platform["url"]

    # Find the item by search: pinyin, then with a typo.
    page.goto(f"{base}/services")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    # Logged out, the header offers the citizen login and the staff login.
    assert urlsplit(page.get_attribute("#login-citizen", "href")).path == "/identity/login"
    assert urlsplit(page.get_attribute("#login-staff", "href")).path == "/login"
    assert page.locator("#nav-cases").count() == 0
    check_page(page, tab_to=("#q", "#search-submit", "#life-event-open-restaurant"))
    page.get_by_label("搜索服务事项").fill("shipin")
    page.keyboard.press("Enter")
    page.wait_for_url("**/services/search?q=shipin")
    assert "食品经营许可证核发" in page.inner_text("#results")
    check_page(page, tab_to=("#results a",))
    page.get_by_label("搜索服务事项").fill("食品经营许口证")  # 口 for 可
    page.locator("#search-submit").click()
    page.wait_for_url(on_path("/services/search"))
    first = page.locator("#results li").first
    assert "食品经营许可证核发" in first.inner_text()
    check_page(page)

    # ... and through the life event 开餐馆, whose steps lead to it.
    page.goto(f"{base}/services")
    page.locator("#life-event-open-restaurant").click()
    page.wait_for_url("**/services/life-events/open-restaurant")
    assert page.inner_text("#life-event-name") == "开餐馆"
    steps = page.locator("#steps > li").evaluate_all("els => els.map(e => e.id)")
    assert steps.index("step-food-licence") > steps.index("step-business-licence")
    check_page(page, tab_to=("#step-food-licence a",))
    page.locator("#step-food-licence a").click()
    page.wait_for_url("**/services/items/food-licence")

    # Compare the apps side by side.
    assert page.inner_text("#item-name") == "食品经营许可证核发"
    cards = page.locator("#app-compare > li")
    assert cards.count() == 2
    for slug, name in (("shiantong", "食安通"), ("canzheng", "餐证快办")):
        card = page.locator(f"#app-{slug}").inner_text()
        assert name in card and "已通过认证" in card and "评分" in card and "办结件数" in card
        assert "姓名" in card and "身份证号" in card, "the data each app asks for"
    check_page(page, tab_to=("#app-shiantong button[type=submit]", "#app-canzheng button[type=submit]"))

    # Use 食安通: log in as the food_ok persona first.
    page.locator("#app-shiantong button[type=submit]").click()
    page.wait_for_url(on_path("/identity/login"))
    persona_login = page.get_by_role("link", name="以测试人员身份登录（开发环境）")
    check_page(page, tab_to=("a[href^='/identity/personas']",))
    persona_login.click()
    page.wait_for_url(on_path("/identity/personas"))
    check_page(page)
    page.locator(f"form:has(input[value='{platform['resident_id']}']) button[type=submit]").click()
    page.wait_for_url("**/apps/shiantong/launch")
    assert platform["citizen_name"] in page.inner_text("header")
    assert [page.inner_text(f"#nav-{n}") for n in ("services", "cases", "todo", "my-data")] == \
        ["办事服务", "我的办件", "待办事项", "我的数据"], "a citizen's navigation"
    check_page(page, tab_to=("form[action='/apps/shiantong/launch'] button[type=submit]",))
    page.locator("form[action='/apps/shiantong/launch'] button[type=submit]").click()

    # Consent: each field with its purpose, then allow.
    import yaml

    purposes = yaml.safe_load((EXAMPLES / "contracts" / "food-licence.openapi.yaml").read_text("utf-8"))["x-citizen-data"]
    page.wait_for_url(on_path("/identity/consent/"))
    check_page(page, tab_to=("input[name=grant]",))
    for field, label in (("name", "姓名"), ("resident_id", "身份证号"), ("phone", "手机号")):
        assert label in page.inner_text(f"label[for=field-{field}]")
        assert page.locator(f"#field-{field}").is_checked()
        # the purpose the order's contract states for the field (x-citizen-data)
        assert "用途" in page.inner_text(f"#purpose-{field}") and purposes[field] in page.inner_text(f"#purpose-{field}")
    page.locator("input[name=grant]").click()  # the second tap after login opens the app

    # The app, on its own origin through the gateway: apply.
    app_origin = f"http://shiantong.apps.localhost:{platform['port']}"
    page.wait_for_url(f"{app_origin}/", timeout=90_000)
    # While the app starts, the gateway shows its "starting" page at this address; it reloads into the app.
    page.locator("#govmarket-starting").wait_for(state="detached", timeout=90_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "the app's page fits the phone"
    back = page.locator("#govmarket-bar a").first
    assert back.inner_text() == "← 返回政务应用市场" and back.get_attribute("href") == f"{base}/services/apps/shiantong"
    page.locator("#credit_code").fill(platform["credit_code"])
    page.locator("#credit_code").dispatch_event("change")
    page.wait_for_function("() => document.getElementById('prefill-hint').textContent !== ''")
    hint = page.inner_text("#prefill-hint")
    assert "郑州" in hint or "已从登记信息带出" in hint, hint
    assert page.input_value("#premises_address") == platform["premises"], "pre-filled from the business registry"
    page.get_by_label("冷食类食品制售", exact=False).check()
    for material in ("premises_layout", "food_safety_rules"):
        page.locator(f"input[name=materials][value={material}]").check()
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_function("() => !document.getElementById('result').hidden")
    outcome = page.inner_text("#result")
    assert "已受理" in outcome, outcome
    # The outcome comes into view on the phone, not below the fold of a long form.
    page.wait_for_function("() => { const r = document.getElementById('result').getBoundingClientRect();"
                           " return r.top >= 0 && r.bottom <= window.innerHeight; }", timeout=5_000)

    # Follow the case on the platform: submitted, then the department's steps as its clock moves on.
    page.goto(f"{base}/my/cases")
    check_page(page, tab_to=("#case-list a",))
    case = page.locator("#case-list > li").first
    assert "食品经营许可证核发" in case.inner_text() and "已提交" in case.inner_text()
    from datetime import timedelta

    from core.time import utcnow
    from marketplace.gateway import instances

    department = instances.registry(platform["app"]).instance("shiantong").dept
    department.tick(utcnow() + timedelta(days=21))  # accepted within minutes, concluded within the legal limit
    page.reload()
    case = page.locator("#case-list > li").first
    assert "已办结" in case.inner_text()
    case.locator("a").first.click()
    page.wait_for_url("**/my/cases/*")
    assert "已办结" in page.inner_text("#case-status") and page.inner_text("#case-result").startswith("JY")
    timeline = page.inner_text("#timeline")
    assert all(step in timeline for step in ("已开始", "已提交", "已受理", "审查中", "已办结"))
    check_page(page, tab_to=("#rate-case",))

    # Rate it: a comment and one plain-language dimension (optional), then one tap on the overall level.
    case_number = page.url.rsplit("/", 1)[1]
    page.locator("#rate-case").click()
    page.wait_for_url("**/rating")
    check_page(page, tab_to=("#level-5",))
    assert [page.inner_text(f"#level-{n}") for n in (5, 4, 3, 2, 1)] == ["非常满意", "满意", "基本满意", "不满意",
                                                                        "非常不满意"]
    for n in (5, 1):
        box = page.locator(f"#level-{n}").bounding_box()
        assert box["height"] >= 44 and box["x"] + box["width"] <= PHONE["width"], "a big target on the phone"
    page.locator("#rating-more summary").click()
    assert "页面清楚吗" in page.inner_text("#tangibility-hint")
    page.locator("#responsiveness input[value='4']").check()
    page.get_by_label("评价内容", exact=False).fill(COMMENT)
    page.locator("#level-5").click()  # the one tap that sends the rating

    # The rating appears on the app's public rating page.
    page.wait_for_url(on_path("/services/apps/shiantong"))
    assert "感谢您的评价" in page.inner_text("main")
    rating = page.locator("#ratings article.rating").first
    assert COMMENT in rating.inner_text() and "非常满意" in rating.inner_text()
    assert "办得快 4★" in rating.inner_text() and "好用" not in rating.inner_text(), "only the dimensions given"
    assert "1 条评价" in page.inner_text("#app-facts") and "评价不足" in page.inner_text("#app-facts")
    check_page(page)

    # One tap also rates a case straight away, nothing else asked: the same page offers to change the level.
    page.goto(f"{base}/my/cases/{case_number}/rating")
    assert page.locator("#level-5").get_attribute("aria-pressed") == "true"
    page.locator("#level-4").click()
    page.wait_for_url(on_path("/services/apps/shiantong"))
    assert "满意" in page.locator("#ratings article.rating").first.inner_text()

    # The rest of the citizen's pages, in Chinese and then in English (longer words, same 360 px).
    pages = ("/my/todo", "/identity/my-data", f"/my/complaints/new?case={case_number}", "/my/complaints",
             "/services/life-events/open-restaurant", "/services/search?q=spjy", f"/my/cases/{case_number}/rating")
    for lang in ("zh_CN", "en"):
        for path in pages:
            page.goto(f"{base}{path}{'&' if '?' in path else '?'}lang={lang}")
            assert page.locator("html").get_attribute("lang") == lang.replace("_", "-")
            check_page(page)
    for path in ("/services", "/services/items/food-licence", "/services/apps/shiantong", "/my/cases"):
        page.goto(f"{base}{path}?lang=en")
        check_page(page)
    assert "Rate" not in page.inner_text("#case-list"), "rated: the list no longer offers to rate the case"


def open_app_as(page, platform, persona: str, slug: str) -> str:
    """Log in as a mock persona and open ``slug`` through the gateway (consenting if asked); returns its origin."""
    page.goto(f"{platform['url']}/identity/personas?next=/apps/{slug}/launch")
    page.locator(f"form:has(input[value='{platform['personas'][persona]}']) button[type=submit]").click()
    page.wait_for_url(on_path(f"/apps/{slug}/launch"))
    page.locator(f"form[action='/apps/{slug}/launch'] button[type=submit]").click()
    origin = f"http://{slug}.apps.localhost:{platform['port']}"
    page.wait_for_url(lambda url: url.startswith(origin) or "/identity/consent/" in url, timeout=90_000)
    if "/identity/consent/" in page.url:
        page.locator("input[name=grant]").click()  # agreeing opens the app
        page.wait_for_url(f"{origin}/", timeout=90_000)
    # While the app starts, the gateway shows its "starting" page at this address; it reloads into the app.
    page.locator("#govmarket-starting").wait_for(state="detached", timeout=90_000)
    return origin


def test_a_real_apps_pages_cannot_read_or_use_the_platform_session(platform, phone):
    page, base = phone, platform["url"]
    # Another persona than the path's, so that either test may run alone or first.
    open_app_as(page, platform, "ssc_ok", "shiantong")
    assert page.locator("#apply").is_visible(), "the app's own page, on its own origin"

    session = {c["name"]: c for c in page.context.cookies(base)}["session"]
    assert session["httpOnly"] and session["domain"] == "localhost", "host-only on the platform, hidden from scripts"
    assert "session=" not in page.evaluate("() => document.cookie")

    # The platform's pages that do use the session are unreadable from the app's origin: CORS refuses a readable
    # request, and a no-cors one gives an opaque answer with nothing in it.
    for path in ("/my/cases", "/identity/my-data", "/api/identity/access-log"):
        seen = page.evaluate("""async (url) => {
            const out = {};
            try { const r = await fetch(url, {credentials: "include"}); out.cors = {status: r.status, body: await r.text()}; }
            catch (e) { out.cors = {error: String(e)}; }
            const o = await fetch(url, {credentials: "include", mode: "no-cors"});
            out.opaque = {type: o.type, status: o.status, body: await o.text()};
            return out;
        }""", base + path)
        cors = seen["cors"]
        assert "error" in cors or cors["status"] == 401, (path, cors)
        assert seen["opaque"] == {"type": "opaque", "status": 0, "body": ""}, (path, seen["opaque"])

    # Nor can an app page act with it: a forged POST that would revoke the citizen's consent changes nothing.
    app_id = platform["app_ids"]["shiantong"]
    page.evaluate("""async (url) => { await fetch(url, {method: "POST", credentials: "include", mode: "no-cors",
        headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "csrf_token=forged"}); }""",
                  f"{base}/identity/my-data/consents/{app_id}/revoke")
    page.goto(f"{base}/identity/my-data")
    assert page.get_by_role("button", name="撤回对 食安通 的授权").is_visible(), "the consent is still granted"
    check_page(page)


def test_the_page_checks_find_what_they_look_for(phone):
    """The checks above are not vacuous: each finds its fault on a page made to have it."""
    page = phone

    def show(page, html):
        page.set_content("<meta name=viewport content='width=device-width, initial-scale=1'>" + html)

    show(page, "<main><p style='color:#777'>grey on white</p><label for=a>A</label><input id=a>"
                     "<a href=#x>x</a></main>")
    with pytest.raises(AssertionError, match="contrast"):
        check_page(page)
    show(page, "<main><p>ok</p><input name=q><button></button></main>")
    with pytest.raises(AssertionError, match="without a label"):
        check_page(page)
    show(page, "<main><img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='></main>")
    with pytest.raises(AssertionError, match="without alt"):
        check_page(page)
    show(page, "<main><div style='width:500px'>wide</div></main>")
    with pytest.raises(AssertionError, match="wide on a 360px screen"):
        check_page(page)
    show(page, "<main><a href=#a>a</a><a href=#b tabindex=-1 id=b>b</a></main>")
    assert tab_reaches(page, "a[href='#a']") and not tab_reaches(page, "#b", limit=10)
    assert round(contrast([119, 119, 119], [255, 255, 255]), 2) == 4.48  # #777 on white, a known figure
