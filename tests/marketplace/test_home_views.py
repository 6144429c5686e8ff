"""The site shell: language switch, navigation by role, logout by POST, friendly errors, offline API docs,
and compiled translation catalogues that match their sources."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.marketplace.webpages import csrf_token, login, text

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "marketplace" / "translations" / "zh_Hans_CN" / "LC_MESSAGES"


def test_pages_are_chinese_by_default_and_the_english_choice_is_remembered(client):
    page = text(client.get("/"))
    assert '<html lang="zh-CN">' in page and "跳到正文" in page and "开放订单" in page

    response = client.get("/?lang=en")
    english = text(response)
    assert '<html lang="en">' in english and "Skip to content" in english and "Open orders" in english
    assert "跳到正文" not in english
    assert "lang=en" in response.headers["Set-Cookie"]

    assert "Skip to content" in text(client.get("/orders")), "the cookie keeps the choice on the next page"
    assert "跳到正文" in text(client.get("/orders?lang=zh_CN"))
    assert "跳到正文" in text(client.get("/departments"))


def test_the_language_link_keeps_the_page_and_its_query(client):
    page = text(client.get("/orders?status=open&q=food"))
    link = re.search(r'<a class="lang" href="([^"]+)"[^>]*>English</a>', page)
    assert link, "the header offers English"
    assert link.group(1).replace("&amp;", "&") == "/orders?status=open&q=food&lang=en"
    assert re.search(r'<a class="lang" href="[^"]+lang=zh_CN"[^>]*>中文</a>', text(client.get("/orders?lang=en")))


def test_header_shows_who_is_logged_in_and_navigation_for_their_role(world, client):
    anonymous = text(client.get("/"))
    assert 'href="/login' in anonymous and "/orders/new" not in anonymous and "/audit" not in anonymous

    login(client, "staff_a")
    staff = text(client.get("/"))
    assert "staff_a" in staff and "部门工作人员" in staff
    assert 'href="/orders/new"' in staff and 'href="/account/clients"' in staff and 'href="/audit"' not in staff
    assert re.search(r'<form method="post" action="/logout"[^>]*>\s*<input type="hidden" name="csrf_token"', staff)


def test_vendor_and_auditor_navigation(world, client):
    login(client, "vendor_a")
    vendor = text(client.get("/"))
    assert "我的应用" in vendor and 'href="/apps"' in vendor and 'href="/orders/new"' not in vendor
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "auditor")
    auditor = text(client.get("/"))
    assert 'href="/audit"' in auditor and "审计员" in auditor and 'href="/orders/new"' not in auditor


def test_logout_needs_the_csrf_token(world, client):
    login(client, "staff_a")
    client.post("/logout")  # a forged cross-site POST carries no token
    assert "staff_a" in text(client.get("/")), "still logged in"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    page = text(client.get("/"))
    assert "staff_a" not in page and 'href="/login' in page


def test_unknown_pages_answer_a_friendly_page_in_the_chosen_language(client):
    response = client.get("/orders/999999?lang=en")
    assert response.status_code == 404 and response.mimetype == "text/html"
    body = text(response)
    assert "order 999999 does not exist" in body and "Back to the start page" in body
    response = client.get("/orders/new")
    assert response.status_code == 401 and 'href="/login?next=' in text(response)


def test_api_docs_page_loads_its_scripts_from_the_platform(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = text(page)
    scripts = re.findall(r'src="([^"]+\.js)"', html)
    assert "/static/swagger-ui/swagger-ui-bundle.js" in scripts
    assert all(src.startswith("/static/swagger-ui/") for src in scripts), "no script from another host"
    bundle = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and b"SwaggerUIBundle" in bundle.data
    assert client.get("/static/swagger-ui/swagger-ui.css").status_code == 200
    assert client.get("/static/swagger-ui/swagger-ui-standalone-preset.js").status_code == 200
    assert client.get("/api/openapi.json").json["openapi"].startswith("3.")
    assert client.get("/static/site.css").status_code == 200, "the site's own static files are still served"


def test_compiled_catalogue_matches_its_source():
    with open(CATALOGUE / "messages.po", "rb") as po_file, open(CATALOGUE / "messages.mo", "rb") as mo_file:
        source, compiled = read_po(po_file), read_mo(mo_file)
    def key(value):
        return tuple(value) if isinstance(value, (list, tuple)) else value

    def translated(message) -> bool:
        return bool(message.id) and all(key(message.string) if isinstance(message.string, (list, tuple))
                                        else [message.string])

    expected = {key(m.id): key(m.string) for m in source if translated(m) and not m.fuzzy}
    actual = {key(m.id): key(m.string) for m in compiled if translated(m)}
    hint = "run `pybabel compile -d marketplace/translations` and commit the .mo"
    assert {k: actual.get(k) for k in expected} == expected, hint
    # Untranslated plurals are compiled as their English forms; anything else extra is stale.
    stale = {k: v for k, v in actual.items() if k not in expected and v != k[:1]}
    assert not stale, hint


def test_every_text_of_every_page_has_a_chinese_translation():
    """Every text the platform's code and templates mark for translation — staff, citizen, identity, gateway and
    billing pages alike — has a Chinese translation (with its context, for texts that need one)."""
    with open(CATALOGUE / "messages.po", "rb") as po_file:
        translated = {(m.context, m.id) for m in read_po(po_file)
                      if m.id and m.string and all(m.string if isinstance(m.string, tuple) else [m.string])}
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
                "pgettext": ((1, "c"), 2), "lazy_pgettext": ((1, "c"), 2)}
    missing = []
    found = 0
    texts = [(f"{package}/{filename}", *rest) for package in ("marketplace", "billing")
             for filename, *rest in extract_from_dir(ROOT / package, method_map, keywords=keywords)]
    for filename, _line, message, _comments, context in texts:
        found += 1
        key = (context, message if isinstance(message, str) else tuple(message))
        if key not in translated:
            missing.append((filename, key))
    assert found > 400, "the extraction found the texts of the pages"
    assert not missing, f"untranslated (update the zh_Hans_CN catalogue as docs/web.md says): {missing}"
