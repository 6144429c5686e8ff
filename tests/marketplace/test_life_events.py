from __future__ import annotations

import pytest

from core.auth import SYSTEM
from core.errors import Forbidden, NotFound, ValidationError
from tests.marketplace.citizen_catalogue import *  # noqa: F403  (the `demo_items` fixture)


def test_the_three_life_events_have_their_steps_in_order(demo_items):
    from marketplace.catalogue.life_events import life_event_get, life_event_list

    assert [e.code for e in life_event_list()] == ["open-restaurant", "have-baby", "move-house"]
    restaurant = life_event_get("open-restaurant")
    assert restaurant.name == "开餐馆"
    assert [s.service_item.code for s in restaurant.steps] == [
        "enterprise-name", "business-licence", "fire-safety-check", "food-licence", "new-taxpayer"]
    food = restaurant.steps[3]
    assert food.prerequisites == ["business-licence", "fire-safety-check"]
    assert [s.service_item.code for s in life_event_get("have-baby").steps] == [
        "birth-certificate", "newborn-registration", "insurance-registration", "social-security-card"]
    with pytest.raises(NotFound):
        life_event_get("buy-a-boat")


def test_seeding_again_changes_nothing(demo_items):
    from marketplace.catalogue.life_events import life_event_get, life_events_seed

    before = [(s.position, s.service_item_id) for s in life_event_get("move-house").steps]
    life_events_seed(SYSTEM)
    assert [(s.position, s.service_item_id) for s in life_event_get("move-house").steps] == before


def test_progress_shows_what_is_ready_and_what_is_missing(demo_items):
    from marketplace.catalogue.life_events import life_event_get, life_event_progress

    progress = life_event_progress(life_event_get("open-restaurant"), {"enterprise-name", "business-licence"},
                                   {"fire-safety-check"})
    by_code = {p.step.service_item.code: p for p in progress}
    assert by_code["enterprise-name"].done
    assert by_code["fire-safety-check"].ready and by_code["fire-safety-check"].in_progress
    assert not by_code["food-licence"].ready and by_code["food-licence"].missing == ("fire-safety-check",)
    assert by_code["new-taxpayer"].ready


def test_a_prerequisite_must_be_an_earlier_step_and_only_admins_edit(demo_items):
    from marketplace.catalogue.life_events import life_event_save

    with pytest.raises(ValidationError):
        life_event_save(SYSTEM, code="bad", name="坏", name_en="Bad", description="", description_en="",
                        steps=[("food-licence", ["business-licence"], "", ""), ("business-licence", [], "", "")])
    with pytest.raises(ValidationError):
        life_event_save(SYSTEM, code="bad", name="坏", name_en="Bad", description="", description_en="",
                        steps=[("no-such-item", [], "", "")])

    class Staff:
        role, id, department_id, vendor_id, label = "department_staff", 1, 1, None, "staff"

    with pytest.raises(Forbidden):
        life_event_save(Staff(), code="x", name="x", name_en="x", description="", description_en="",
                        steps=[("food-licence", [], "", "")])
