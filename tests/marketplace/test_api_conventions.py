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
