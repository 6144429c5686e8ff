"""The departments' store pages are public and show each service item's guide and the open orders."""

from __future__ import annotations

from core.auth import SYSTEM
from tests.marketplace.webpages import text


def test_departments_list_and_search(world, client):
    page = text(client.get("/departments"))
    assert "甲局" in page and "乙局" in page and 'href="/departments/dept-a"' in page
    found = text(client.get("/departments?q=Bureau A"))
    assert "甲局" in found and "乙局" not in found
    assert "Bureau A" in text(client.get("/departments?lang=en"))


def test_store_page_shows_the_guide_and_only_open_orders(world, client):
    from marketplace.catalogue import services as catalogue

    catalogue.service_item_create(
        SYSTEM, department_id=world.ids["dept_a"], code="id-renewal", name="居民身份证换领", name_en="ID card renewal",
        time_limit_days=30, trips=1, fee_fen=2000, channels=["窗口", "网上"],
        materials=[{"name": "原居民身份证", "required": True, "note": ""},
                   {"name": "近期照片", "required": False, "note": "可现场拍摄"}])
    page = text(client.get("/departments/dept-a"))
    assert "居民身份证换领" in page and "30 个工作日" in page and "1 次" in page
    assert "¥20.00" in page, "the fee is shown in yuan, from fen"
    assert "原居民身份证" in page and "可选" in page and "可现场拍摄" in page
    assert "零跑动" in page, "item-a needs no trip"
    assert "Order order-a" in page and "Order draft-a" not in page, "drafts are not public"
    english = text(client.get("/departments/dept-a?lang=en"))
    assert "ID card renewal" in english and "30 working days" in english and "Bureau A" in english


def test_unknown_department_is_a_friendly_404(client):
    response = client.get("/departments/no-such-dept")
    assert response.status_code == 404 and "no-such-dept" in text(response)


def test_store_items_link_to_their_pages_and_channels_are_named_in_words(world, client):
    from marketplace.catalogue import services as catalogue

    catalogue.service_item_create(SYSTEM, department_id=world.ids["dept_a"], code="move", name="户口迁移",
                                  time_limit_days=5, channels=["online", "window"])
    page = text(client.get("/departments/dept-a"))
    assert '<a href="/services/items/move">户口迁移</a>' in page and 'href="/services/items/item-a"' in page
    assert "网上办理、窗口办理" in page and "online" not in page
    assert "Online, At the service window" in text(client.get("/departments/dept-a?lang=en"))


def test_an_item_without_apps_shows_the_way_to_apply_offline(world, client):
    page = text(client.get("/services/items/item-a"))  # the world has no published app
    assert 'id="offline-channel"' in page and "窗口办理" in page and "甲局的办事窗口" in page
    assert 'href="/departments/dept-a"' in page
