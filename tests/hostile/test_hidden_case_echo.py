"""An app that echoes every request it has seen, in its responses, its output, /tmp and the shared socket
directory, certified on both backends: nothing of a hidden case reaches the vendor's view of the report, while
the department's view shows the hidden cases in full (so the echo did work)."""

from __future__ import annotations

import json
import uuid

import pytest

from sandbox import harness
from sandbox.services import vendor_view

pytestmark = pytest.mark.usefixtures("no_leftovers")


def suite(marker: str) -> dict:
    def case(case_id, visibility, **request):
        return {"id": case_id, "category": "rules", "visibility": visibility,
                "request": {"method": "GET", "path": f"/{case_id}", **request}, "expect": {"status": 200}}

    return {"suite": "echo", "version": "1", "dataset": {"spec": "citizens-v1", "seed": 7, "size": 100},
            "pass": {"ratio": 1.0, "latency_p95_ms": 5000},
            "cases": [case("h-path", "hidden", path=f"/applications/{marker}-path"),
                      case("public-1", "public"),
                      case("h-body", "hidden", method="POST", json={"resident_id": f"{marker}-body"}),
                      case("public-2", "public", query={"q": "public-query"}),
                      case("h-query", "hidden", query={"credit_code": f"{marker}-query"}),
                      case("public-3", "public", method="POST", json={"note": "public-body"})]}


def test_an_echoing_app_leaks_nothing_of_hidden_cases_to_its_vendor(backend, store, runs_root, stored_bundle):
    marker = f"HIDDEN{uuid.uuid4().hex[:10]}"
    sha = stored_bundle("echo:app", "echo")
    job = harness.CertificationInput(run_id=f"echo{uuid.uuid4().hex[:6]}", bundle_sha256=sha, suite=suite(marker),
                                     contract=None, scopes=["person.read"])
    report = harness.certify(backend, store, runs_root, job, limits=harness.HarnessLimits(ready_seconds=15))

    ran = [c["case_id"] for c in report["cases"]]
    assert ran == ["public-1", "public-2", "public-3", "h-path", "h-body", "h-query"]
    department = json.dumps(report, ensure_ascii=False)
    assert department.count(marker) >= 6, "the echo app did not echo: this test would prove nothing"
    assert f"{marker}-path" in report["hidden_output"]["text"]

    seen = json.dumps(vendor_view(report), ensure_ascii=False)
    assert marker not in seen
    # What the vendor does see: the public cases' echoes and the public instance's output.
    public_3 = next(c for c in vendor_view(report)["cases"] if c["case_id"] == "public-3")
    assert "public-query" in public_3["diff"] and "public-body" in public_3["diff"]
    assert "echo: GET /public-1" in vendor_view(report)["output"]["text"]


def test_no_route_shows_a_vendor_what_the_hidden_instance_echoed(backend, store, runs_root, stored_bundle, world, app,
                                                                 monkeypatch):
    """The same real report read where a vendor reads reports — the API, the version page and `govapp status` — holds
    the public echoes and nothing of a hidden case; the department reads the hidden cases on the same routes."""
    import httpx
    from click.testing import CliRunner
    from govapp import cli
    from govapp.client import PlatformClient

    from core.extensions import db
    from sandbox.models import CertificationRun
    from tests.marketplace.webpages import login, text

    marker = f"HIDDEN{uuid.uuid4().hex[:10]}"
    sha = stored_bundle("echo:app", "echo")
    job = harness.CertificationInput(run_id=f"echo{uuid.uuid4().hex[:6]}", bundle_sha256=sha, suite=suite(marker),
                                     contract=None, scopes=["person.read"])
    report = harness.certify(backend, store, runs_root, job, limits=harness.HarnessLimits(ready_seconds=15))
    version_id = world.ids["version_a"]
    run = db.session.query(CertificationRun).filter_by(app_version_id=version_id).one()
    run.report, run.state = report, "failed"
    db.session.commit()

    api = world.call("vendor_a", "GET", f"/api/versions/{version_id}/report")
    assert api.status_code == 200 and api.json["view"] == "vendor"
    assert marker not in api.get_data(as_text=True) and "public-query" in api.get_data(as_text=True)
    assert marker in world.call("staff_a", "GET", f"/api/versions/{version_id}/report").get_data(as_text=True)

    pages = {}
    for who in ("vendor_a", "staff_a"):
        browser = app.test_client()
        login(browser, who)
        pages[who] = text(browser.get(f"/versions/{version_id}"))
    assert marker not in pages["vendor_a"] and "echo: GET /public-1" in pages["vendor_a"]
    assert marker in pages["staff_a"]

    platform = PlatformClient("http://market.test", world.tokens["vendor_a"], transport=httpx.WSGITransport(app=app))
    monkeypatch.setattr(cli, "platform_client", lambda *args: platform)
    shown = CliRunner().invoke(cli.main, ["status", str(version_id), "--poll", "0.1"])
    assert "NOT CERTIFIED" in shown.output and "public-query" in shown.output, shown.output
    assert marker not in shown.output
