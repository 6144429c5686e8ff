"""Order pages: the list, the detail, and the forms department staff and vendors use."""

from __future__ import annotations

import io
import re

import yaml

from core.extensions import db
from marketplace.orders.models import Order, Question
from tests.marketplace.conftest import contract_doc, suite_doc
from tests.marketplace.webpages import csrf_token, login, submit, text

CONTRACT_YAML = yaml.safe_dump(contract_doc())


def _count_orders() -> int:
    return db.session.query(Order).count()


def _new_order_data(**changes) -> dict:
    data = {"service_item_id": "0", "slug": "new-order", "title": "新订单 · New order",
            "description": "An app for item A.", "contract_text": CONTRACT_YAML, "dept_scopes": ["person.read",
            "application.submit"], "citizen_scopes": ["name", "phone"], "fee": "2.50", "budget": "12,345.67",
            "award_eligible": "y"}
    data.update(changes)
    return data


# --- list ----------------------------------------------------------------------------------------


def test_list_shows_public_orders_to_everyone_and_drafts_only_to_their_department(world, client):
    public = text(client.get("/orders"))
    assert "Order order-a" in public and "Order order-b" in public and "Order draft-a" not in public
    login(client, "staff_b")
    assert "Order draft-a" not in text(client.get("/orders"))
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "staff_a")
    assert "Order draft-a" in text(client.get("/orders"))


def test_list_search_status_filter_and_paging(world, client, app, monkeypatch):
    found = text(client.get("/orders?q=order-b"))
    assert "Order order-b" in found and "Order order-a" not in found
    login(client, "staff_a")
    drafts = text(client.get("/orders?status=draft"))
    assert "Order draft-a" in drafts and "Order order-a" not in drafts
    assert "Order draft-a" in text(client.get("/orders?status=bogus")), "an unknown status filter is ignored"

    monkeypatch.setitem(app.config, "PAGE_SIZE", 1)
    first = text(client.get("/orders?status=open"))
    assert "第 1 页，共 2 页" in first
    next_link = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "status=open" in next_link and "page=2" in next_link
    second = text(client.get(next_link))
    titles = lambda html: set(re.findall(r"Order order-[ab]", html))  # noqa: E731
    assert titles(first) | titles(second) == {"Order order-a", "Order order-b"} and not titles(first) & titles(second)


# --- detail --------------------------------------------------------------------------------------


def test_detail_summarises_contract_scopes_price_and_suite(world, client):
    page = text(client.get(f"/orders/{world.ids['order_a']}"))
    assert "<code>POST</code>" in page and "<code>/applications</code>" in page
    assert "person.read" in page and "<code>name</code>" in page
    assert "¥2.00" in page and "¥10,000.00" in page, "fee and budget are shown in yuan"
    assert "1.0★" in page and "×0.50" in page and "5.0★" in page and "×1.20" in page
    assert "¥2.40" in page, "pay per transaction at 5 stars = 2.00 × 1.20"
    assert "v1" in page and "开放中" in page
    english = text(client.get(f"/orders/{world.ids['order_a']}?lang=en"))
    assert "Price schedule" in english and "Rating multipliers" in english and "计费方案" not in english


def test_vendors_see_only_public_cases_and_hidden_counts(world, client):
    login(client, "vendor_a")
    for url in (f"/orders/{world.ids['order_a']}", f"/orders/{world.ids['order_a']}/suite"):
        page = text(client.get(url))
        assert "HIDDEN-MARKER" not in page and "secret-hidden-rule-zq" not in page and "hidden-path-zq" not in page
    suite = text(client.get(f"/orders/{world.ids['order_a']}/suite"))
    assert "public-happy" in suite and "rules: 1" in suite


def test_owning_department_sees_the_hidden_cases(world, client):
    login(client, "staff_a")
    suite = text(client.get(f"/orders/{world.ids['order_a']}/suite"))
    assert "secret-hidden-rule-zq" in suite and "HIDDEN-MARKER" in suite


# --- create --------------------------------------------------------------------------------------


def test_staff_create_an_order_with_amounts_in_yuan_converted_exactly_to_fen(world, client):
    login(client, "staff_a")
    form = text(client.get("/orders/new"))
    assert "甲事项" in form and "乙事项" not in form, "only the staff's own department's items"
    assert 'value="application.submit"' in form and 'value="resident_id"' in form
    before = _count_orders()
    response = submit(client, "/orders/new", _new_order_data(service_item_id=str(world.ids["item_a"])))
    assert response.status_code == 302, text(response)
    assert _count_orders() == before + 1
    order = db.session.query(Order).filter_by(slug="new-order").one()
    assert (order.fee_per_transaction_fen, order.quarterly_budget_fen) == (250, 1_234_567)
    assert order.dept_scopes == ["person.read", "application.submit"] and order.citizen_scopes == ["name", "phone"]
    assert order.status == "draft" and order.contract == contract_doc()
    page = text(client.get(response.headers["Location"]))
    assert "¥2.50" in page and "¥12,345.67" in page and "发布前请先添加验收测试集" in page


def test_contract_can_be_uploaded_as_a_json_file(world, client):
    import json

    login(client, "staff_a")
    data = _new_order_data(service_item_id=str(world.ids["item_a"]), slug="from-file", contract_text="")
    data["contract_file"] = (io.BytesIO(json.dumps(contract_doc()).encode()), "contract.json")
    response = submit(client, "/orders/new", data, content_type="multipart/form-data")
    assert response.status_code == 302, text(response)
    assert db.session.query(Order).filter_by(slug="from-file").one().contract == contract_doc()


def test_bad_amounts_and_unparseable_contract_show_field_errors_and_write_nothing(world, client):
    login(client, "staff_a")
    before = _count_orders()
    response = submit(client, "/orders/new", _new_order_data(
        service_item_id=str(world.ids["item_a"]), fee="2.345", budget="-5", contract_text="paths: [unclosed"))
    assert response.status_code == 422
    page = text(response)
    assert "请输入以元为单位、最多两位小数的金额" in page and "金额不能为负数" in page
    assert "这不是有效的 JSON 或 YAML" in page
    assert page.count('aria-invalid="true"') >= 3 and "提交的内容有问题" in page
    assert 'value="new-order"' in page, "what was typed is kept"
    assert _count_orders() == before


def test_an_invalid_openapi_contract_is_explained_next_to_the_contract(world, client):
    login(client, "staff_a")
    before = _count_orders()
    bad = yaml.safe_dump({"openapi": "3.0.3", "info": {"title": "x"}, "paths": {"/a": {"get": {}}}})
    response = submit(client, "/orders/new", _new_order_data(service_item_id=str(world.ids["item_a"]), contract_text=bad))
    assert response.status_code == 422
    error = re.search(r'id="contract_text-error">(.*?)</div>', text(response), re.S)
    assert error and "version" in error.group(1) and "is a required property" in error.group(1), \
        "the problem, at the field"
    assert "Failed validating" not in error.group(1), "only the sentence that says what is wrong"
    assert "the contract is not valid OpenAPI at info" in text(response), "and where it is, in the summary"
    assert _count_orders() == before


def test_a_taken_slug_is_a_conflict_shown_at_the_slug(world, client):
    login(client, "staff_a")
    response = submit(client, "/orders/new", _new_order_data(service_item_id=str(world.ids["item_a"]), slug="order-a"))
    assert response.status_code == 409
    assert re.search(r'id="slug-error">.*already exists', text(response), re.S)


def test_only_department_staff_and_admins_get_the_order_form(world, client):
    assert client.get("/orders/new").status_code == 401
    login(client, "vendor_a")
    assert client.get("/orders/new").status_code == 403
    before = _count_orders()
    response = client.post("/orders/new", data={**_new_order_data(service_item_id=str(world.ids["item_a"])),
                                                "csrf_token": csrf_token(client, "/")})
    assert response.status_code == 403 and _count_orders() == before


def test_staff_cannot_create_orders_for_another_departments_item(world, client):
    login(client, "staff_a")
    before = _count_orders()
    response = submit(client, "/orders/new", _new_order_data(service_item_id=str(world.ids["item_b"])))
    assert response.status_code == 422, "the item is not among the choices offered"
    assert _count_orders() == before


# --- other departments' orders -------------------------------------------------------------------


def test_staff_of_another_department_can_neither_see_nor_change_a_draft(world, client):
    draft = world.ids["draft_a"]
    login(client, "staff_b")
    assert client.get(f"/orders/{draft}").status_code == 404
    assert client.get(f"/orders/{draft}/edit").status_code == 404
    assert client.get(f"/orders/{draft}/suite").status_code == 404
    token = csrf_token(client, "/")
    assert client.post(f"/orders/{draft}/publish", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/orders/{draft}/edit", data={"csrf_token": token, "title": "hijacked"}).status_code == 404
    assert db.session.get(Order, draft).status == "draft" and db.session.get(Order, draft).title == "Order draft-a"


def test_staff_of_another_department_cannot_close_an_open_order(world, client):
    login(client, "staff_b")
    page = text(client.get(f"/orders/{world.ids['order_a']}"))
    assert "/close" not in page and "/edit" not in page, "no buttons for what they may not do"
    response = client.post(f"/orders/{world.ids['order_a']}/close", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 403
    assert db.session.get(Order, world.ids["order_a"]).status == "open"


# --- edit ----------------------------------------------------------------------------------------


def _edit_fields(html: str) -> dict:
    fields = dict(re.findall(r'<input[^>]*name="(title|revision|fee|budget|csrf_token)"[^>]*value="([^"]*)"', html))
    fields.update({k: v for k, v in re.findall(r'<input[^>]*value="([^"]*)"[^>]*name="(title|revision)"', html)})
    return fields


def test_edit_a_draft_then_a_concurrent_edit_is_refused_with_a_clear_message(world, client, app):
    draft = world.ids["draft_a"]
    login(client, "staff_a")
    form_page = text(client.get(f"/orders/{draft}/edit"))
    revision = re.search(r'name="revision" type="hidden" value="(\d+)"', form_page).group(1)
    assert 'value="2.00"' in form_page and 'value="10000.00"' in form_page, "amounts are shown in yuan"
    assert "openapi:" in form_page, "the current contract is pre-filled"
    data = {"csrf_token": csrf_token(client, "/"), "title": "First edit", "description": "", "fee": "3.00",
            "budget": "10000", "contract_text": CONTRACT_YAML, "dept_scopes": ["person.read"], "citizen_scopes": ["name"],
            "revision": revision, "award_eligible": "y"}
    assert client.post(f"/orders/{draft}/edit", data=data).status_code == 302
    order = db.session.get(Order, draft)
    assert order.title == "First edit" and order.fee_per_transaction_fen == 300

    # A colleague had opened the same form before that save and now saves from the stale copy.
    stale = client.post(f"/orders/{draft}/edit", data={**data, "title": "Stale edit"})
    assert stale.status_code == 409
    assert "您编辑期间已有其他人保存了此订单" in text(stale)
    db.session.expire_all()
    assert db.session.get(Order, draft).title == "First edit"


def test_an_open_order_only_offers_title_and_description(world, client):
    login(client, "staff_a")
    page = text(client.get(f"/orders/{world.ids['order_a']}/edit"))
    assert 'name="title"' in page and 'name="fee"' not in page and 'name="contract_text"' not in page


# --- lifecycle -----------------------------------------------------------------------------------


def test_buttons_follow_the_allowed_transitions(world, client):
    login(client, "staff_a")
    draft_page = text(client.get(f"/orders/{world.ids['draft_a']}"))
    assert f"/orders/{world.ids['draft_a']}/publish" in draft_page and f"/orders/{world.ids['draft_a']}/archive" in draft_page
    assert f"/orders/{world.ids['draft_a']}/close" not in draft_page
    open_page = text(client.get(f"/orders/{world.ids['order_a']}"))
    assert f"/orders/{world.ids['order_a']}/close" in open_page and f"/orders/{world.ids['order_a']}/publish" not in open_page


def test_publish_then_close_by_post_with_csrf(world, client):
    draft = world.ids["draft_a"]
    login(client, "staff_a")
    assert client.post(f"/orders/{draft}/publish").status_code == 400, "no CSRF token, no change"
    assert db.session.get(Order, draft).status == "draft"
    response = submit(client, f"/orders/{draft}", {}, action=f"/orders/{draft}/publish")
    assert response.status_code == 302
    assert db.session.get(Order, draft).status == "open"
    assert "订单已发布" in text(client.get(f"/orders/{draft}"))
    again = submit(client, f"/orders/{draft}", {}, action=f"/orders/{draft}/publish")
    assert again.status_code == 409 and "cannot publish" in text(again)
    submit(client, f"/orders/{draft}", {}, action=f"/orders/{draft}/close")
    assert db.session.get(Order, draft).status == "closed"


def test_add_a_suite_version_from_yaml_and_refuse_an_invalid_one(world, client):
    order_id = world.ids["draft_a"]
    login(client, "staff_a")
    response = submit(client, f"/orders/{order_id}/suite/new", {"suite_text": yaml.safe_dump(suite_doc("draft-a"))})
    assert response.status_code == 302
    db.session.expire_all()
    assert [s.version for s in db.session.get(Order, order_id).suites] == [1, 2]
    bad = submit(client, f"/orders/{order_id}/suite/new", {"suite_text": yaml.safe_dump({"suite": "x", "cases": []})})
    assert bad.status_code == 422 and "suite_text-error" in text(bad)
    db.session.expire_all()
    assert len(db.session.get(Order, order_id).suites) == 2
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "vendor_a")
    assert client.get(f"/orders/{world.ids['order_a']}/suite/new").status_code == 403


# --- questions -----------------------------------------------------------------------------------


def test_vendor_asks_publicly_and_the_department_answers(world, client):
    order_id = world.ids["order_a"]
    login(client, "vendor_a")
    short = submit(client, f"/orders/{order_id}", {"text": "Hi"}, action=f"/orders/{order_id}/questions")
    assert short.status_code == 422 and db.session.query(Question).count() == 0
    asked = submit(client, f"/orders/{order_id}", {"text": "Must the app accept 冷食类 alone?"},
                   action=f"/orders/{order_id}/questions")
    assert asked.status_code == 302
    question = db.session.query(Question).one()
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    public = text(client.get(f"/orders/{order_id}"))
    assert "Must the app accept 冷食类 alone?" in public and "尚未答复" in public
    assert "vendor_a" not in public and "Vendor A" not in public, "askers stay anonymous"

    login(client, "staff_b")
    token = csrf_token(client, "/")
    refused = client.post(f"/questions/{question.id}/answer",
                          data={"csrf_token": token, f"q{question.id}-answer": "No.", "order_id": order_id})
    assert refused.status_code == 403
    client.post("/logout", data={"csrf_token": token})
    login(client, "staff_a")
    answered = submit(client, f"/orders/{order_id}", {f"q{question.id}-answer": "Yes, 冷食类 alone is allowed.",
                                                      "order_id": order_id},
                      action=f"/questions/{question.id}/answer")
    assert answered.status_code == 302
    assert "Yes, 冷食类 alone is allowed." in text(client.get(f"/orders/{order_id}"))


def test_only_vendors_see_the_question_form(world, client):
    login(client, "staff_a")
    assert f"/orders/{world.ids['order_a']}/questions" not in text(client.get(f"/orders/{world.ids['order_a']}"))
