"""End to end through the platform: a vendor uploads real sample apps, the sandbox certifies them (or not) as
their quality says, the department approves, the vendor publishes, a new suite version re-tests the live app.

Runs on the bubblewrap backend (the embedded default); the sandbox's own tests cover both backends."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from core.auth import SYSTEM
from tests.marketplace.conftest import World, issue_token
from tests.services import require_bwrap

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.real_jobs


def _package(tmp_path_factory, name: str) -> bytes:
    src = tmp_path_factory.mktemp(name) / "app"
    shutil.copytree(ROOT / "examples" / name, src)
    out = src.parent / f"{name}.tar.gz"
    subprocess.run([str(ROOT / ".venv" / "bin" / "govapp"), "package", "--out", str(out), str(src)], check=True,
                   capture_output=True, timeout=300)
    return out.read_bytes()


@pytest.fixture(scope="session")
def good_bundle(tmp_path_factory) -> bytes:
    return _package(tmp_path_factory, "food-shiantong")


@pytest.fixture(scope="session")
def buggy_bundle(tmp_path_factory) -> bytes:
    return _package(tmp_path_factory, "food-yishi")


@pytest.fixture
def demo(app, client, monkeypatch):
    require_bwrap()
    monkeypatch.setitem(app.config, "SANDBOX_BACKEND", "bwrap")
    monkeypatch.setitem(app.config, "SANDBOX_RUNS", "/run/govmarket-sandbox-test")
    from core.time import utcnow
    from marketplace.accounts.models import User
    from marketplace.accounts.scopes import ROLE_SCOPES
    from marketplace.demo.base import seed_base
    from marketplace.demo.timeline import timeline
    from marketplace.orders.models import Order
    from marketplace.vendors import services as vendors

    seed_base(timeline(utcnow()))
    from core.extensions import db

    w = World(client=client)
    # The sample apps' fictional vendors (examples/README.md): 海川数智 builds 食安通, 快码科技 易食证.
    for key, email in (("staff", "staff@market-regulation.gov.example.cn"), ("swift", "dev@haichuan.example.cn"),
                       ("hasty", "dev@kuaima.example.cn")):
        user = db.session.query(User).filter_by(email=email).one()
        w.ids[key] = user.id
        w.tokens[key] = issue_token(client, user, ROLE_SCOPES[user.role])
    order = db.session.query(Order).filter_by(slug="food-licence").one()
    w.ids["order"] = order.id
    for key, slug in (("swift", "shiantong"), ("hasty", "yishi")):
        user = db.session.get(User, w.ids[key])
        w.ids[f"app_{key}"] = vendors.app_create(user, order_id=order.id, name=slug, slug=slug).id
    return w


def _upload(w, who, bundle, version="1.0.0"):
    response = w.call(who, "POST", f"/api/apps/{w.ids['app_' + who]}/versions?version={version}", data=bundle,
                      content_type="application/gzip")
    assert response.status_code == 201, response.json
    return response.json


def test_good_app_certifies_is_approved_published_and_retested(demo, good_bundle):
    version = _upload(demo, "swift", good_bundle)
    # The embedded queue ran the certification during the upload; the vendor sees the outcome and progress.
    seen = demo.call("swift", "GET", f"/api/versions/{version['id']}").json
    assert seen["status"] == "certified", seen
    assert seen["progress"]["done"] == seen["progress"]["total"] > 20
    report = demo.call("swift", "GET", f"/api/versions/{version['id']}/report").json
    assert report["view"] == "vendor" and report["state"] == "certified"

    assert demo.call("swift", "POST", f"/api/versions/{version['id']}/publish").status_code == 409  # not approved
    approved = demo.call("staff", "POST", f"/api/versions/{version['id']}/approve")
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    published = demo.call("swift", "POST", f"/api/versions/{version['id']}/publish")
    assert published.json["status"] == "published"

    from core.extensions import db
    from marketplace.orders import services as orders
    from marketplace.orders.models import Order

    document = dict(db.session.get(Order, demo.ids["order"]).current_suite.document)
    suite = orders.suite_add(SYSTEM, demo.ids["order"], document)
    assert suite.version == 2
    after = demo.call("swift", "GET", f"/api/versions/{version['id']}").json
    assert after["certification"]["suite_version"] == "2" and after["certification"]["state"] == "certified"
    assert after["status"] == "published" and after["regression"] is False


def test_buggy_app_fails_and_hidden_cases_stay_hidden_from_its_vendor(demo, buggy_bundle):
    version = _upload(demo, "hasty", buggy_bundle)
    assert demo.call("hasty", "GET", f"/api/versions/{version['id']}").json["status"] == "failed"

    vendor = demo.call("hasty", "GET", f"/api/versions/{version['id']}/report")
    text = vendor.get_data(as_text=True)
    for hidden_case in ("licence-revoked", "small-premises-hot-food", "retry-submits-once"):
        assert hidden_case not in text
    assert vendor.json["report"]["hidden"], "hidden cases appear as counts per category"

    department = demo.call("staff", "GET", f"/api/versions/{version['id']}/report").json
    failed = {c["case_id"] for c in department["report"]["cases"] if not c["passed"]}
    assert failed == {"licence-revoked", "small-premises-hot-food", "retry-submits-once"}
    assert demo.call("staff", "POST", f"/api/versions/{version['id']}/approve").status_code == 409
    rejected = demo.call("staff", "POST", f"/api/versions/{version['id']}/reject",
                         json={"reason": "Fails the premises rule."})
    assert rejected.json["status"] == "rejected" and rejected.json["rejection_reason"] == "Fails the premises rule."


def test_version_page_shows_the_report_each_side_may_see(demo, buggy_bundle, app):
    from marketplace.demo.data import DEMO_PASSWORD
    from tests.marketplace.webpages import submit, text

    version = _upload(demo, "hasty", buggy_bundle)
    page = f"/versions/{version['id']}"
    vendor = app.test_client()
    submit(vendor, "/login", {"email": "dev@kuaima.example.cn", "password": DEMO_PASSWORD})
    shown = text(vendor.get(page))
    assert "24 / 27" in shown
    for hidden_case in ("licence-revoked", "small-premises-hot-food", "retry-submits-once"):
        assert hidden_case not in shown
    assert vendor.get(f"{page}/progress.json").json == {"status": "failed", "cases_done": 27, "cases_total": 27,
                                                        "running": False}
    assert vendor.post(f"{page}/approve").status_code == 400  # no CSRF token: refused before any view

    staff = app.test_client()
    submit(staff, "/login", {"email": "staff@market-regulation.gov.example.cn", "password": DEMO_PASSWORD})
    shown = text(staff.get(page))
    assert "licence-revoked" in shown and "small-premises-hot-food" in shown
    empty = submit(staff, page, {"reason": ""}, action=f"{page}/reject")
    assert empty.status_code == 422
    done = submit(staff, page, {"reason": "Fails the premises rule."}, action=f"{page}/reject")
    assert done.status_code == 302
    assert demo.call("hasty", "GET", f"/api/versions/{version['id']}").json["status"] == "rejected"
