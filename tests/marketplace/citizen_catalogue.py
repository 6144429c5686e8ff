"""The demo's departments and service items (marketplace.demo.data) in the test database, with the life events."""

from __future__ import annotations

import pytest

from core.auth import SYSTEM

__all__ = ["demo_items"]


@pytest.fixture
def demo_items(app_ctx):
    from marketplace.catalogue import services as catalogue
    from marketplace.catalogue.life_events import life_events_seed
    from marketplace.demo.data import DEPARTMENTS, ITEMS

    departments = {code: catalogue.department_create(SYSTEM, code=code, name=name, name_en=name_en)
                   for code, name, name_en in DEPARTMENTS}
    items = {}
    for dept, code, name, name_en, days, trips, fee, materials in ITEMS:
        items[code] = catalogue.service_item_create(SYSTEM, department_id=departments[dept].id, code=code, name=name,
                                                    name_en=name_en, time_limit_days=days, trips=trips, fee_fen=fee,
                                                    materials=materials)
    events = life_events_seed(SYSTEM)
    return {"departments": departments, "items": items, "events": {e.code: e for e in events}}
