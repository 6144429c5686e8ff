"""Authorization beyond the status codes of the matrix (test_authorization_matrix.py): a refused call changes
nothing, hidden acceptance cases never reach a vendor, question askers stay anonymous."""

from __future__ import annotations

import pytest


def test_denied_calls_change_nothing(world):
    from core.extensions import db
    from marketplace.orders.models import Order

    before = db.session.get(Order, world.ids["order_b"]).title
    assert world.call("staff_a", "PATCH", f"/api/orders/{world.ids['order_b']}", json={"title": "x"}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Order, world.ids["order_b"]).title == before


HIDDEN_MARKERS = ("secret-hidden-rule-zq", "HIDDEN-MARKER", "hidden-path-zq")


@pytest.mark.parametrize("vendor", ["vendor_a", "vendor_b"])
def test_hidden_cases_never_reach_a_vendor(world, vendor):
    order_a = world.ids["order_a"]
    responses = [world.call(vendor, "GET", p) for p in (
        f"/api/orders/{order_a}/suite", f"/api/orders/{order_a}/suite?version=1", f"/api/orders/{order_a}",
        "/api/orders", f"/api/orders/{order_a}/questions", "/api/apps", f"/api/apps/{world.ids['app_a']}",
    )]
    for response in responses:
        text = response.get_data(as_text=True)
        for marker in HIDDEN_MARKERS:
            assert marker not in text, f"hidden case leaked through {response.request.path}"
    suite = responses[0].json
    assert suite["complete"] is False
    assert suite["document"]["hidden_counts"] == {"rules": 1}
    assert [c["id"] for c in suite["document"]["cases"]] == ["public-happy"]


def test_owning_department_sees_hidden_cases(world):
    suite = world.call("staff_a", "GET", f"/api/orders/{world.ids['order_a']}/suite").json
    assert suite["complete"] is True
    assert "secret-hidden-rule-zq" in {c["id"] for c in suite["document"]["cases"]}
    other = world.call("staff_b", "GET", f"/api/orders/{world.ids['order_a']}/suite").json
    assert other["complete"] is False


def test_question_askers_stay_anonymous(world):
    order_a = world.ids["order_a"]
    asked = world.call("vendor_a", "POST", f"/api/orders/{order_a}/questions", json={"text": "Which 类别 count?"})
    assert asked.status_code == 201
    answered = world.call("staff_a", "PUT", f"/api/orders/questions/{asked.json['id']}/answer",
                          json={"answer": "All three."})
    assert answered.status_code == 200
    listing = world.call("vendor_b", "GET", f"/api/orders/{order_a}/questions").json
    assert listing[0]["answer"] == "All three."
    assert not {"asked_by_vendor_id", "asked_by_user_id", "vendor_id"} & set(listing[0])
    assert world.call("staff_b", "PUT", f"/api/orders/questions/{asked.json['id']}/answer",
                      json={"answer": "hijack"}).status_code == 403
