"""The audit log browser: admins and auditors only, with filters, paging and readable payloads."""

from __future__ import annotations

import re

from tests.marketplace.webpages import csrf_token, login, text


def test_admin_and_auditor_browse_the_log_with_readable_payloads(world, client):
    for who in ("admin", "auditor"):
        login(client, who)
        page = text(client.get("/audit"))
        assert "order.create" in page and "order.publish" in page and "审计日志" in page
        assert "&#34;slug&#34;: &#34;order-a&#34;" in page or '"slug": "order-a"' in page, "payload as indented JSON"
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def test_filters_narrow_the_log(world, client):
    login(client, "auditor")
    page = text(client.get("/audit?action=order.publish"))
    actions = set(re.findall(r"<code>(order\.\w+)</code>", page))
    assert actions == {"order.publish"}
    one = text(client.get(f"/audit?object_type=order&object_id={world.ids['draft_a']}"))
    assert set(re.findall(r"<code>(order\.\w+)</code>", one)) == {"order.create"}, "the draft was never published"
    assert "没有符合筛选条件的事件" in text(client.get("/audit?q=nobody-like-this"))


def test_paging_keeps_the_filters(world, client, monkeypatch):
    from marketplace.audit import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    login(client, "admin")
    first = text(client.get("/audit?object_type=order"))
    next_link = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "object_type=order" in next_link and "page=2" in next_link
    assert client.get(next_link).status_code == 200


def test_everyone_else_is_refused(world, client):
    assert client.get("/audit").status_code == 401
    for who in ("staff_a", "vendor_a", "finance", "citizen"):
        login(client, who)
        assert client.get("/audit").status_code == 403, who
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
