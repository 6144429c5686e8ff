"""Every API use case × every role, including cross-department and cross-vendor attempts.

Expected outcomes are read as: a number is the status for that role; roles not listed get the row's
default. Citizens hold no API scopes at all, so they call without a token (401)."""

from __future__ import annotations

import io

import pytest

from tests.marketplace.conftest import minimal_bundle

ROLES = ["admin", "finance", "auditor", "staff_a", "staff_b", "vendor_a", "vendor_b", "citizen"]


def _order_create_a(w):
    return {"service_item_id": w.ids["item_a"], "slug": "new-order", "title": "New",
            "contract": __import__("tests.marketplace.conftest", fromlist=["x"]).contract_doc(),
            "fee_per_transaction_fen": 100, "quarterly_budget_fen": 1000}


def _suite(w):
    from tests.marketplace.conftest import suite_doc

    return suite_doc("order-a")


# (name, method, path template, body builder or None, {role: status}, default status)
CASES = [
    ("me", "GET", "/api/me", None, {"citizen": 401}, 200),
    ("order_list", "GET", "/api/orders", None, {"citizen": 401}, 200),
    ("order_create_own_department", "POST", "/api/orders", _order_create_a,
     {"admin": 201, "staff_a": 201, "citizen": 401}, 403),
    ("order_get_open", "GET", "/api/orders/{order_a}", None, {"citizen": 401}, 200),
    ("order_get_other_departments_draft", "GET", "/api/orders/{draft_a}", None,
     {"admin": 200, "finance": 200, "auditor": 200, "staff_a": 200, "citizen": 401}, 404),
    ("order_update_draft", "PATCH", "/api/orders/{draft_a}", lambda w: {"title": "Renamed"},
     {"admin": 200, "staff_a": 200, "staff_b": 404, "citizen": 401}, 403),
    ("order_update_other_department", "PATCH", "/api/orders/{order_b}", lambda w: {"title": "Hijack"},
     {"admin": 200, "staff_b": 200, "citizen": 401}, 403),
    ("order_publish_draft", "POST", "/api/orders/{draft_a}/publish", None,
     {"admin": 200, "staff_a": 200, "staff_b": 404, "citizen": 401}, 403),
    ("order_close", "POST", "/api/orders/{order_a}/close", None,
     {"admin": 200, "staff_a": 200, "citizen": 401}, 403),
    ("order_archive_draft", "POST", "/api/orders/{draft_a}/archive", None,
     {"admin": 200, "staff_a": 200, "staff_b": 404, "citizen": 401}, 403),
    ("suite_get", "GET", "/api/orders/{order_a}/suite", None, {"citizen": 401}, 200),
    ("suite_add", "POST", "/api/orders/{order_a}/suite", _suite,
     {"admin": 201, "staff_a": 201, "citizen": 401}, 403),
    ("question_list", "GET", "/api/orders/{order_a}/questions", None, {"citizen": 401}, 200),
    ("question_ask", "POST", "/api/orders/{order_a}/questions", lambda w: {"text": "Is 热食类 allowed?"},
     {"vendor_a": 201, "vendor_b": 201, "citizen": 401}, 403),
    ("department_create", "POST", "/api/departments", lambda w: {"code": "dept-new", "name": "新局"},
     {"admin": 201, "citizen": 401}, 403),
    ("service_item_create_own", "POST", "/api/service-items",
     lambda w: {"department_id": w.ids["dept_a"], "code": "item-new", "name": "新事项", "time_limit_days": 3},
     {"admin": 201, "citizen": 401}, 403),
    ("vendor_create", "POST", "/api/vendors",
     lambda w: {"name": "New Vendor", "credit_code": "91310000MA1FL0003" + _check("91310000MA1FL0003")},
     {"admin": 201, "citizen": 401}, 403),
    ("vendor_get_own", "GET", "/api/vendors/{org_a}", None,
     {"vendor_b": 404, "citizen": 401}, 200),
    ("vendor_list", "GET", "/api/vendors", None, {"citizen": 401}, 200),
    ("app_list", "GET", "/api/apps", None, {"citizen": 401}, 200),
    ("app_create_on_open_order", "POST", "/api/apps",
     lambda w: {"order_id": w.ids["order_a"], "name": "New App", "slug": "new-app"},
     {"vendor_a": 201, "vendor_b": 201, "citizen": 401}, 403),
    ("app_create_on_draft_order", "POST", "/api/apps",
     lambda w: {"order_id": w.ids["draft_a"], "name": "Early", "slug": "early-app"},
     {"vendor_a": 404, "vendor_b": 404, "citizen": 401}, 403),
    ("app_get", "GET", "/api/apps/{app_a}", None,
     {"staff_b": 404, "vendor_b": 404, "citizen": 401}, 200),
    ("version_list", "GET", "/api/apps/{app_a}/versions", None,
     {"staff_b": 404, "vendor_b": 404, "citizen": 401}, 200),
    ("version_upload", "POST", "/api/apps/{app_a}/versions?version=1.0.0", "bundle",
     {"vendor_a": 201, "vendor_b": 404, "citizen": 401}, 403),
    ("version_get", "GET", "/api/versions/{version_a}", None, {"staff_b": 404, "vendor_b": 404, "citizen": 401}, 200),
    ("version_report", "GET", "/api/versions/{version_a}/report", None,
     {"finance": 403, "staff_b": 404, "vendor_b": 404, "citizen": 401}, 200),
    ("version_approve_while_queued", "POST", "/api/versions/{version_a}/approve", None,
     {"admin": 409, "staff_a": 409, "staff_b": 404, "citizen": 401}, 403),
    ("version_reject", "POST", "/api/versions/{version_a}/reject", lambda w: {"reason": "Not yet certified"},
     {"admin": 409, "staff_a": 409, "staff_b": 404, "citizen": 401}, 403),
    ("version_publish_unapproved", "POST", "/api/versions/{version_a}/publish", None,
     {"admin": 409, "staff_a": 409, "vendor_a": 409, "staff_b": 404, "vendor_b": 404, "citizen": 401,
      "finance": 403, "auditor": 403}, 403),
    ("version_recertify_while_queued", "POST", "/api/versions/{version_a}/recertify", None,
     {"admin": 200, "staff_a": 200, "vendor_a": 200, "staff_b": 404, "vendor_b": 404, "citizen": 401}, 403),
    ("audit_list", "GET", "/api/audit", None, {"admin": 200, "auditor": 200, "citizen": 401}, 403),
    ("user_create", "POST", "/api/users",
     lambda w: {"email": "new@test.example.cn", "display_name": "New", "role": "auditor",
                "password": "long enough password"}, {"admin": 201, "citizen": 401}, 403),
    ("client_list", "GET", "/api/clients", None, {"citizen": 401}, 200),
]


def _check(first17):
    from core.ids import uscc_check_char

    return uscc_check_char(first17)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_every_use_case_for_every_role(world, case, role):
    name, method, template, body, expected, default = case
    path = template.format(**world.ids)
    kwargs = {}
    if body == "bundle":
        kwargs = {"data": io.BytesIO(minimal_bundle("1.0.0")), "content_type": "application/gzip"}
    elif body is not None:
        kwargs = {"json": body(world)}
    response = world.call(role, method, path, **kwargs)
    want = expected.get(role, default)
    assert response.status_code == want, f"{name} as {role}: {response.status_code} {response.get_data(as_text=True)[:300]}"
    if want >= 400:
        assert response.mimetype == "application/problem+json"
        assert response.json["detail"], "every refusal says why"


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
