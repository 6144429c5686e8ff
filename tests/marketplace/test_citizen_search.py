from __future__ import annotations

import pytest

from core.extensions import db
from marketplace.accounts.models import User
from tests.marketplace.citizen_catalogue import *  # noqa: F403  (the `demo_items` fixture)
from tests.marketplace.citizen_world import *  # noqa: F403  (the `market` fixture)


def codes(query):
    from marketplace.citizen.search import catalogue_search

    return [h.code for h in catalogue_search(query)]


@pytest.mark.parametrize("query", [
    "食品经营许可证",  # exact Chinese
    "食品经营",  # partial
    "食品经营许口证",  # a wrong character
    "事品经营",  # a homophone typo, found through its pinyin
    "shipin",  # pinyin, partial
    "shipinjingyingxukezheng",  # full pinyin
    "spjy",  # pinyin initials
    "food licence",  # English
    "food licnce",  # English with a typo
])
def test_food_licence_is_found_however_it_is_typed(demo_items, query):
    assert codes(query)[0] == "food-licence"


def test_life_events_are_found_too(demo_items):
    assert codes("开餐馆")[0] == "open-restaurant"
    assert "have-baby" in codes("shenghaizi")
    assert "move-house" in codes("move house")


def test_nonsense_and_empty_queries_find_nothing(demo_items):
    assert codes("") == []
    assert codes("   ") == []
    assert codes("量子计算机") == []


def test_most_used_items_first(market, world):
    from marketplace.citizen.search import catalogue_search, popular_items

    assert [h.code for h in catalogue_search("shixiang")] == ["item-a", "item-b"]  # a tie: by code
    # 乙事项 gets used: it moves ahead of 甲事项 in search and in the popular list.
    from marketplace.vendors import services as vendors
    from tests.marketplace.citizen_world import publish

    b_app = vendors.app_create(db.session.get(User, world.ids["vendor_a"]), order_id=world.ids["order_b"],
                               name="B app", slug="b-app")
    publish(b_app)
    for i in range(2):
        market.complete(market.citizen(f"u{i}"), b_app)
    hits = catalogue_search("shixiang")
    assert [h.code for h in hits] == ["item-b", "item-a"] and hits[0].uses == 2
    assert [(item.code, uses) for item, uses in popular_items(2)] == [("item-b", 2), ("item-a", 0)]


def test_recommendations_from_history(market, world):
    from core.auth import SYSTEM
    from marketplace.catalogue.life_events import life_event_save
    from marketplace.citizen.recommendations import recommendations_for

    life_event_save(SYSTEM, code="a-then-b", name="先甲后乙", name_en="A then B", description="", description_en="",
                    steps=[("item-a", [], "", ""), ("item-b", ["item-a"], "", "")])
    citizen = market.citizens["citizen"]
    assert recommendations_for(citizen.id) == []
    market.complete(citizen, market.apps["a"])
    recs = recommendations_for(citizen.id)
    assert [(r.item.code, r.reason, r.life_event.code) for r in recs] == [("item-b", "next_step", "a-then-b")]


def test_the_department_keeps_search_words_citizens_find_its_item_by(world, client):
    from core.errors import Forbidden
    from marketplace.catalogue import services as catalogue
    from tests.marketplace.webpages import login, submit, text

    assert "item-a" not in codes("餐饮")
    login(client, "staff_a")
    page = text(client.get("/services/items/item-a"))
    assert 'id="search-words"' in page and "搜索词" in page
    response = submit(client, "/services/items/item-a", {"synonyms": "餐饮， 开饭店、餐饮"},
                      action="/services/items/item-a/synonyms")
    assert response.status_code == 302
    assert catalogue.service_item_get("item-a").synonyms == ["餐饮", "开饭店"], "split, trimmed, once each"
    assert codes("餐饮")[0] == "item-a" and codes("kaifandian")[0] == "item-a", "the words and their pinyin"
    assert "搜索词已保存：餐饮、开饭店" in text(client.get("/services/items/item-a"))

    with pytest.raises(Forbidden):
        catalogue.service_item_synonyms_set(db.session.get(User, world.ids["staff_b"]), "item-a", ["x"])
    assert 'id="search-words"' not in text(client.get("/services/items/item-b")), "another department's item"


def test_new_search_words_renew_the_kept_search_and_item_pages(world, client):
    """The catalogue page cache (marketplace/citizen/page_cache.py): saving an item's search words renews the
    kept searches and the item's page at once; the department's form goes into the kept part only for its staff."""
    from marketplace.catalogue import services as catalogue
    from tests.marketplace.webpages import text

    search = client.get("/services/search", query_string={"q": "餐饮"})
    assert "/services/items/item-a" not in text(search)
    item = client.get("/services/items/item-a")
    etag = item.headers["ETag"]
    assert 'id="search-words"' not in text(item) and "govmarket:synonyms" not in text(item)
    assert client.get("/services/search", query_string={"q": "餐饮"},
                      headers={"If-None-Match": search.headers["ETag"]}).status_code == 304

    catalogue.service_item_synonyms_set(db.session.get(User, world.ids["staff_a"]), "item-a", ["餐饮"])
    assert "/services/items/item-a" in text(client.get("/services/search", query_string={"q": "餐饮"}))
    assert client.get("/services/items/item-a", headers={"If-None-Match": etag}).status_code == 200
