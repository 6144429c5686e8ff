"""SQL metacharacters and LIKE wildcards in every search box: no error, and the results are exactly the rows
whose text contains the typed characters literally (``%``, ``_`` and ``\\`` are not wildcards)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.marketplace.conftest import _uscc
from tests.marketplace.webpages import login

NAMES = {"pct": "Rate 100% sure", "pct_decoy": "Rate 1000 sure", "under": "snake_case tool",
         "under_decoy": "snakeXcase tool", "slash": "back\\slash app", "quote": "O'Brien's \"quoted\" app"}
QUERIES = {"100%": {"pct"}, "e_c": {"under"}, "k\\s": {"slash"}, "O'Brien": {"quote"}, '"quoted"': {"quote"},
           "' OR 1=1 --": set(), "%": {"pct"}, "_": {"under"}, "\\": {"slash"}, "'; DROP TABLE apps; --": set()}


@pytest.fixture
def named(world):
    """Vendors and apps named with SQL and LIKE metacharacters, and decoys a wildcard would also match."""
    from core.auth import SYSTEM
    from core.extensions import db
    from marketplace.accounts.models import User
    from marketplace.vendors import services as vendors

    vendor_a = db.session.get(User, world.ids["vendor_a"])
    for n, (key, name) in enumerate(NAMES.items()):
        vendors.vendor_create(SYSTEM, name=name, credit_code=_uscc(f"91310000MA1FL01{n:02d}"))
        vendors.app_create(vendor_a, order_id=world.ids["order_a"], name=name, slug=f"named-{key.replace('_', '-')}")
    return NAMES


@pytest.mark.parametrize("endpoint", ["/api/vendors", "/api/apps"])
def test_search_matches_metacharacters_literally(world, named, endpoint):
    for query, expected in QUERIES.items():
        response = world.call("admin", "GET", f"{endpoint}?q={quote(query)}&page_size=100")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        found = {item["name"] for item in response.json} & set(named.values())
        assert found == {named[key] for key in expected}, (query, found)


HOSTILE = ["' OR 1=1 --", "%", "_", "\\", "%' UNION SELECT 1 --", "{{7*7}}", "<script>", "\x00", "😀" * 50]


def test_every_search_box_takes_hostile_text_without_error(world):
    """The API searches (bearer token) and the pages' search boxes (admin's web session) answer 200 for any
    text, and the pages show it only escaped."""
    login(world.client, "admin")
    for path in ["/api/search?q=", "/api/orders?q=", "/api/departments?q=", "/api/service-items?q=",
                 "/api/vendors?q=", "/api/apps?q=", "/services/search?q=", "/orders?q=", "/apps?q=", "/audit?q="]:
        for query in HOSTILE:
            response = world.call("admin", "GET", path + quote(query))
            assert response.status_code in (200, 422), (path, query, response.status_code)
            if response.mimetype == "text/html":
                body = response.get_data(as_text=True).split("</head>", 1)[-1]
                assert "<script>" not in body, (path, query)


def test_order_search_finds_titles_with_wildcards_literally(world):
    from core.auth import SYSTEM
    from marketplace.orders import services as orders
    from tests.marketplace.conftest import contract_doc

    for slug, title in (("pct", "Budget 50% cut"), ("decoy", "Budget 500 cut")):
        orders.order_create(SYSTEM, service_item_id=world.ids["item_a"], slug=f"wild-{slug}", title=title,
                            contract=contract_doc(), fee_per_transaction_fen=1, quarterly_budget_fen=1,
                            dept_scopes=[], citizen_scopes=[])
    response = world.call("admin", "GET", "/api/orders?q=" + quote("50%"))
    assert response.status_code == 200
    assert [o["title"] for o in response.json] == ["Budget 50% cut"]
