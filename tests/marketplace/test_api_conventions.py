"""#22 item 3: one way for every list, creation and error of the REST API."""

from __future__ import annotations

import re

from tests.marketplace.conftest import minimal_bundle


def _links(response) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["Link"])}


def test_lists_page_with_link_headers(world):
    response = world.call("admin", "GET", "/api/orders?page_size=1&status=open")
    assert response.status_code == 200, response.json
    assert len(response.json) == 1
    assert response.headers["X-Total-Count"] == "2"
    links = _links(response)
    assert set(links) == {"first", "next", "last"}
    assert "status=open" in links["next"] and "page=2" in links["next"]
    second = world.call("admin", "GET", links["next"].split("localhost", 1)[-1])
    assert second.status_code == 200
    assert {o["id"] for o in second.json}.isdisjoint({o["id"] for o in response.json})
    assert set(_links(second)) == {"first", "prev", "last"}


def test_versions_awaiting_approval_are_one_call(world, app):
    from core.extensions import db
    from sandbox.models import CertificationRun

    run = db.session.query(CertificationRun).filter_by(app_version_id=world.ids["version_a"]).first()
    if run is None:
        from marketplace.vendors.models import AppVersion
        from sandbox.services import certification_request

        certification_request(db.session.get(AppVersion, world.ids["version_a"]))
        run = db.session.query(CertificationRun).filter_by(app_version_id=world.ids["version_a"]).one()
    run.state = "certified"
    db.session.commit()
    upload = world.call("vendor_a", "POST", f"/api/apps/{world.ids['app_a']}/versions?version=1.0.0",
                        data=minimal_bundle("1.0.0"), headers={"Content-Type": "application/gzip"})
    assert upload.status_code == 201, upload.json

    queue = world.call("staff_a", "GET", "/api/versions?status=certified")
    assert queue.status_code == 200, queue.json
    assert [v["id"] for v in queue.json] == [world.ids["version_a"]]
    assert queue.headers["X-Total-Count"] == "1"
    # another department sees none of it, the vendor sees its own
    assert world.call("staff_b", "GET", "/api/versions?status=certified").json == []
    assert [v["id"] for v in world.call("vendor_a", "GET", "/api/versions?status=certified").json] == [
        world.ids["version_a"]]
    # approving moves it out of the queue and into the next
    assert world.call("staff_a", "POST", f"/api/versions/{world.ids['version_a']}/approve").status_code == 200
    assert world.call("staff_a", "GET", "/api/versions?status=certified").json == []
    assert [v["status"] for v in world.call("staff_a", "GET", "/api/versions?status=approved").json] == ["approved"]


def test_created_answers_say_where(world):
    response = world.call("vendor_a", "POST", "/api/apps", json={"order_id": world.ids["order_a"], "name": "App Z",
                                                                 "slug": "app-z"})
    assert response.status_code == 201, response.json
    assert response.headers["Location"].endswith(f"/api/apps/{response.json['id']}")
    assert world.call("vendor_a", "GET", response.headers["Location"].split("localhost", 1)[-1]).status_code == 200


def test_a_retried_post_with_its_idempotency_key_creates_once(world):
    body = {"order_id": world.ids["order_a"], "name": "App K", "slug": "app-k"}
    first = world.call("vendor_a", "POST", "/api/apps", json=body, headers={"Idempotency-Key": "k-1"})
    again = world.call("vendor_a", "POST", "/api/apps", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201, (first.json, again.json)
    assert again.json == first.json and again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    slugs = [a["slug"] for a in world.call("vendor_a", "GET", "/api/apps?page_size=100").json]
    assert slugs.count("app-k") == 1
    # the same key for another request is refused; another user's same key is theirs alone
    other = world.call("vendor_a", "POST", "/api/apps", json={**body, "slug": "app-l"}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 422 and "Idempotency-Key" in other.json["errors"]
    theirs = world.call("vendor_b", "POST", "/api/apps", json={**body, "slug": "app-kb"}, headers={"Idempotency-Key": "k-1"})
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers
    assert theirs.json["id"] != first.json["id"]


def test_an_upload_retried_with_its_key_is_one_version(world):
    path = f"/api/apps/{world.ids['app_a']}/versions?version=2.0.0"
    headers = {"Content-Type": "application/gzip", "Idempotency-Key": "upload-2.0.0"}
    first = world.call("vendor_a", "POST", path, data=minimal_bundle("2.0.0"), headers=headers)
    again = world.call("vendor_a", "POST", path, data=minimal_bundle("2.0.0"), headers=headers)
    assert first.status_code == again.status_code == 201, (first.json, again.json)
    assert again.json["id"] == first.json["id"]
    versions = world.call("vendor_a", "GET", f"/api/apps/{world.ids['app_a']}/versions").json
    assert [v["version"] for v in versions].count("2.0.0") == 1


def test_a_failed_request_lets_its_key_go(world):
    bad = world.call("vendor_a", "POST", "/api/apps", json={"order_id": world.ids["order_a"]},
                     headers={"Idempotency-Key": "k-2"})
    assert bad.status_code == 422
    good = world.call("vendor_a", "POST", "/api/apps", json={"order_id": world.ids["order_a"], "name": "M", "slug": "app-m"},
                      headers={"Idempotency-Key": "k-2"})
    assert good.status_code == 201, good.json


def test_updates_guard_against_lost_updates_with_etags(world):
    path = f"/api/orders/{world.ids['draft_a']}"
    read = world.call("staff_a", "GET", path)
    etag = read.headers["ETag"]
    first = world.call("staff_a", "PATCH", path, json={"title": "One"}, headers={"If-Match": etag})
    assert first.status_code == 200, first.json
    assert first.headers["ETag"] != etag
    stale = world.call("staff_a", "PATCH", path, json={"title": "Two"}, headers={"If-Match": etag})
    assert stale.status_code == 412, stale.json
    assert stale.json["type"].endswith("/problems#precondition_failed")
    assert world.call("staff_a", "GET", path).json["title"] == "One"


def test_problem_types_resolve_to_their_explanation(world):
    page = world.client.get("/problems").get_data(as_text=True)
    problems = [world.client.get("/api/orders/999999", headers=world.headers("admin")),  # domain NotFound
                world.client.get("/api/no-such-thing"),  # werkzeug's 404
                world.client.delete("/api/orders", headers=world.headers("admin")),  # 405
                world.client.get("/api/orders"),  # 401
                world.call("vendor_a", "POST", "/api/apps", json={})]  # webargs' 422
    for response in problems:
        url = response.json["type"]
        assert url == f"http://localhost/problems#{response.json['code']}", url
        assert f'id="{response.json["code"]}"' in page, response.json


def test_invalid_input_has_one_errors_shape(world):
    response = world.call("vendor_a", "POST", "/api/apps", json={"order_id": "x"})
    assert response.status_code == 422
    assert response.json["code"] == "invalid" and response.json["type"].endswith("/problems#invalid")
    assert response.json["errors"]["order_id"] and response.json["errors"]["name"]
    assert all(isinstance(v, list) and all(isinstance(m, str) for m in v) for v in response.json["errors"].values())


def test_rate_limits_are_announced_where_they_apply(app, world):
    import re as regex

    from core.extensions import limiter

    limiter.reset()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = regex.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"email": "admin@test.example.cn", "password": "wrong password x",
                                           "csrf_token": token}, environ_base={"REMOTE_ADDR": "10.9.0.1"})
    assert response.status_code == 401
    assert int(response.headers["X-RateLimit-Limit"]) >= 1
    assert "X-RateLimit-Remaining" in response.headers and "X-RateLimit-Reset" in response.headers
    limiter.reset()
