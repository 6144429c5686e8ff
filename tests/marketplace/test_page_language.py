"""Complete Chinese (and complete English): every page every role reaches, rendered in zh-CN, shows no English
text of the platform's own, and rendered in English no Chinese of the platform's own.

Each role's pages are found by following the links of its pages from where it lands (one page per URL shape, so
/orders/3 and /orders/4 count once). What people entered (names, titles, comments: every text stored in the
database) is data, not the platform's wording, and is left out; so are code samples (<code>, <pre>), the
technical details an error page keeps in English on purpose (marked lang="en"), and the language switch.
Error pages (401, 403, 404, 422) are rendered too, by asking for what each role may not see.
"""

from __future__ import annotations

import json
import re
from collections import deque
from html.parser import HTMLParser

import sqlalchemy as sa

from core.extensions import db
from core.time import utcnow
from tests.marketplace.citizen_world import *  # noqa: F403  (the `market` fixture)
from tests.marketplace.webpages import login, text

DIMS = {"tangibility": 4, "reliability": 2, "responsiveness": 3, "assurance": 5, "empathy": 4}
# Words that are the same in both languages: names of formats, protocols and our own tools.
TECHNICAL = {
    "api", "apis", "openapi", "json", "csv", "pdf", "sha", "rest", "http", "https", "oauth", "jwks", "sdk",
    "govapp", "govmarket", "url", "id", "ids", "yaml", "html", "utc", "jwt", "oidc", "cst", "isv", "app", "apps",
    "gb", "wsgi", "pip", "toml", "post", "get", "put", "delete", "patch", "python", "bwrap", "docker", "cpu",
    "pids", "mb", "ms", "kb", "ok", "uscc", "javascript", "svg", "png", "p95", "cli", "ci", "bearer", "basic",
    "client_credentials", "scope", "github", "pypi", "swagger", "mib",
    "tar", "gz", "tgz", "jpeg", "kib",  # file types and sizes
    "shipin", "spjy",  # pinyin: the search box's example of what it understands
    "iso", "pain", "py", "recompute",  # the bank file's standard (ISO 20022 pain.001), the recompute script's name
}
SKIP_TAGS = {"code", "pre", "script", "style", "kbd", "samp", "textarea"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SKIP_PATHS = re.compile(r"^/(logout|static/|api/|oauth/|metrics|healthz|readyz|\.well-known/)|\.(csv|pdf|json)$")
ENGLISH = re.compile(r"[A-Za-z][A-Za-z’'-]*[A-Za-z]")
CHINESE = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3001-\u3011]+")


class VisibleText(HTMLParser):
    """The text a person reads (and the accessible names: alt, aria-label, title, placeholder), minus code and
    what is marked as being in another language."""

    ATTRIBUTES = ("alt", "aria-label", "title", "placeholder")

    def __init__(self, page_lang: str):
        super().__init__(convert_charrefs=True)
        self.page_lang = page_lang
        self.stack: list[bool] = []  # per open element: is its content skipped?
        self.parts: list[str] = []

    def _skipped(self) -> bool:
        return bool(self.stack) and self.stack[-1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        lang = (attrs.get("lang") or "").replace("_", "-")
        skip = (self._skipped() or tag in SKIP_TAGS or attrs.get("translate") == "no"
                or (lang and not lang.startswith(self.page_lang[:2])))
        if not skip:
            self.parts += [attrs[a] for a in self.ATTRIBUTES if attrs.get(a)]
            if tag == "input" and attrs.get("type") in {"submit", "button"} and attrs.get("value"):
                self.parts.append(attrs["value"])
        if tag not in VOID:
            self.stack.append(skip)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self._skipped():
            self.parts.append(data)

    def text(self) -> str:
        return "\n".join(p.strip() for p in self.parts if p.strip())


def stored_texts() -> list[str]:
    """Every text stored in the database (what people and the fixtures entered), longest first."""
    found: set[str] = set()

    def walk(value):
        if isinstance(value, str):
            if len(value) > 1:
                found.add(value)
                found.update(line.strip() for line in value.splitlines() if len(line.strip()) > 1)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, sa.String | sa.Text | sa.JSON)]
        if columns:
            for row in db.session.execute(sa.select(*columns)):
                for value in row:
                    walk(value)
                    if isinstance(value, str) and value[:1] in "[{":
                        try:
                            walk(json.loads(value))
                        except ValueError:
                            pass
    return sorted(found, key=len, reverse=True)


def foreign_words(html: str, lang: str, data: list[str]) -> list[str]:
    parser = VisibleText(lang)
    parser.feed(html)
    visible = parser.text()
    for value in data:
        if value in visible:
            # Whole words only: the data value "app" must not cut "govapp" in two.
            visible = re.sub(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", " ", visible)
    if lang == "zh":
        return [w for w in ENGLISH.findall(visible) if w.lower() not in TECHNICAL]
    return CHINESE.findall(visible)


# Pages everyone sees alike but for the header (which every role's own pages show too): checked for the first
# role that reaches them, so the test stays fast.
PUBLIC = re.compile(r"^/(services|departments|orders\?|orders/N/suite|identity/login|identity/personas|login|"
                    r"transparency)")


def crawl(client, starts: list[str], *, public_done: set[str], limit: int = 80) -> dict[str, str]:
    """GET pages reachable from ``starts`` through local links, one per URL shape: {url: html}."""
    seen_shapes: set[str] = set()
    pages: dict[str, str] = {}
    queue = deque(starts)
    while queue and len(pages) < limit:
        url = queue.popleft()
        path, _, query = url.split("#")[0].partition("?")
        shape = re.sub(r"\d+", "N", path) + "?" + ",".join(sorted(k.split("=")[0] for k in query.split("&")))
        if shape in seen_shapes or shape in public_done or SKIP_PATHS.search(url.split("?")[0]) or "lang=" in url:
            continue
        seen_shapes.add(shape)
        if PUBLIC.match(shape):
            public_done.add(shape)
        response = client.get(url)
        if response.mimetype != "text/html":
            continue
        html = text(response)
        pages[url] = html
        for link in re.findall(r'href="(/[^"#]*)', html):
            link = link.replace("&amp;", "&")
            if not link.startswith("//"):
                queue.append(link)
    return pages


def seed_every_kind_of_page(market, world):
    """What each role's pages show when there is something: a question, a rating with a reply, a complaint, a
    certified version awaiting approval, a failed one."""
    from marketplace.accounts.models import User
    from marketplace.complaints import services as complaints
    from marketplace.orders import services as orders
    from marketplace.ratings import services as ratings
    from sandbox.models import CertificationRun

    vendor = db.session.get(User, world.ids["vendor_a"])
    orders.question_ask(vendor, world.ids["order_a"], "Which licence types count?")
    citizen = market.citizens["citizen"]
    txn = market.complete(citizen, market.apps["a"])
    rating = ratings.rating_create(citizen, txn.id, stars=2, dimensions=DIMS, comment="太慢了")
    ratings.rating_reply(vendor, rating.id, "我们已经改进了速度")
    ratings.rating_appeal(vendor, rating.id, "the comment names a person")  # a vendor appeals; only citizens and staff flag
    complaints.complaint_file(citizen, theme="slow", description="等了三天没有回音", transaction_id=txn.id)
    market.complete(citizen, market.apps["b"], decision="rejected")
    from marketplace.identity import services as identity

    identity.access_log_record(citizen.id, market.apps["a"].id, ["name", "phone", "business.legal_rep"],
                               "审批结果短信通知", "gateway")
    run = db.session.scalar(sa.select(CertificationRun).where(CertificationRun.app_version_id == world.ids["version_a"]))
    run.state, run.finished_at = "certified", utcnow()
    db.session.commit()


ROLES = {
    None: ["/", "/services", "/orders", "/departments", "/my/cases", "/work", "/orders/999999", "/audit"],
    "citizen": ["/", "/my/cases", "/my/todo", "/my/complaints", "/identity/my-data", "/identity/access-log",
                "/apps/app-a/launch", "/work", "/orders/new"],
    "staff_a": ["/work", "/", "/orders/new", "/analytics", "/audit", "/my/cases"],
    "vendor_a": ["/work", "/", "/apps/new", "/finance/", "/orders/new"],
    "finance": ["/work", "/finance/", "/audit"],
    "auditor": ["/work", "/audit", "/finance/", "/analytics"],
    "admin": ["/work", "/audit", "/feedback", "/identity/access-log"],
}


def test_every_page_of_every_role_is_all_chinese_in_chinese_and_all_english_in_english(market, world, app):
    seed_every_kind_of_page(market, world)
    data = stored_texts()
    findings: dict[str, list[str]] = {}
    statuses: set[int] = set()
    public_done: dict[str, set[str]] = {"zh": set(), "en": set()}
    for role, starts in ROLES.items():
        for lang in ("zh", "en"):
            client = app.test_client()  # a new browser: no session, no language cookie
            client.get("/?lang=" + ("zh_CN" if lang == "zh" else "en"))
            if role:
                login(client, role)
            pages = crawl(client, starts, public_done=public_done[lang])
            assert len(pages) >= 3, (role, lang, list(pages))
            for url, html in pages.items():
                words = foreign_words(html, lang, data)
                if words:
                    findings[f"{role or 'anonymous'} {lang} {url}"] = sorted(set(words))
            statuses.update(client.get(u).status_code for u in starts)
    assert {401, 403, 404} <= statuses, "the error pages were rendered too"
    report = "\n".join(f"{where}: {words}" for where, words in sorted(findings.items()))
    assert not findings, f"text in the wrong language on {len(findings)} pages:\n{report}"


def test_error_pages_speak_the_readers_language_and_send_citizens_to_the_citizen_login(world, client):
    page = text(client.get("/my/cases"))
    assert "401 · 请登录" in page and "请登录后查看此页面。" in page
    assert '<a class="button primary" href="/identity/login?next=/my/cases' in page, "citizens log in as citizens"
    assert '<p lang="en">please log in to see this page</p>' in page, "the original kept, marked as English"
    staff = text(client.get("/orders/new"))
    assert '<a class="button primary" href="/login?next=/orders/new' in staff

    login(client, "vendor_a")
    forbidden = text(client.get("/audit"))
    assert "403 · 无权操作" in forbidden and "只有管理员、审计员可以执行此操作；您当前的登录身份是厂商成员。" in forbidden
    english = text(client.get("/audit?lang=en"))
    assert "403 · Not allowed" in english and "Only Administrator, Auditor may do this" in english
    assert "Technical details" not in english, "in English the message itself is shown"


def test_api_problem_titles_are_english_unless_the_client_asks_for_chinese(world):
    response = world.call("vendor_a", "GET", "/api/orders/999999")
    assert response.status_code == 404 and response.json["title"] == "Not found"
    chinese = world.call("vendor_a", "GET", "/api/orders/999999", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert chinese.json["title"] == "未找到" and chinese.json["code"] == "not_found"
    assert chinese.json["detail"] == "order 999999 does not exist", "a detail with no translation stays as it was"


def test_commands_in_backticks_become_code_and_everything_else_stays_escaped():
    from markupsafe import Markup

    from marketplace.home.views import backticks

    assert backticks("run `govapp <package>` & <b>wait</b>") == \
        "run <code>govapp &lt;package&gt;</code> &amp; &lt;b&gt;wait&lt;/b&gt;"
    assert backticks(Markup("<em>`x`</em>")) == "<em><code>x</code></em>", "HTML (a translated text) is kept"


def test_the_access_log_names_the_details_read_in_words(market, world, client):
    from marketplace.identity import services as identity

    identity.access_log_record(market.citizens["citizen"].id, market.apps["a"].id, ["name", "phone", "x.y"],
                               "审批结果短信通知", "gateway")
    login(client, "admin")
    page = text(client.get("/identity/access-log"))
    assert "<td>姓名、手机号码、<code>x.y</code></td>" in page
