"""Re-requesting a certification that ended in an infrastructure error (a sandbox worker killed mid-run, the
sandbox host down): through the API and the version page, by the vendor or the order's department, once.

The job queue is held here (HeldJobs records job ids); tests/faults/test_certification_faults.py runs the same
re-request against a real worker, sandbox and Redis."""

from __future__ import annotations

import sqlalchemy as sa

from core.audit import AuditEvent
from core.extensions import db
from core.time import utcnow
from marketplace.vendors.models import AppVersion
from marketplace.vendors.services import latest_certification
from tests.marketplace.webpages import login, submit, text

LOST = "the worker running this certification stopped mid-run; its sandbox was swept"


def _run(world):
    db.session.expire_all()
    return latest_certification(db.session.get(AppVersion, world.ids["version_a"]))


def _end(world, state: str, error: str | None = None):
    run = _run(world)
    run.state, run.error, run.attempts, run.finished_at = state, error, 1, utcnow()
    db.session.commit()
    return run


def _recertify(world, who: str):
    return world.call(who, "POST", f"/api/versions/{world.ids['version_a']}/recertify")


def test_vendor_recertifies_an_errored_run_once(world, held_jobs):
    run = _end(world, "error", LOST)
    assert world.call("vendor_a", "GET", f"/api/versions/{world.ids['version_a']}").json["status"] == "error"
    jobs_before = list(held_jobs.jobs)

    first = _recertify(world, "vendor_a")
    assert first.status_code == 200, first.json
    assert first.json["status"] == "queued" and first.json["certification"]["run_id"] == run.id
    again = _recertify(world, "vendor_a")  # a double click
    assert again.status_code == 200 and again.json["status"] == "queued"

    assert held_jobs.jobs == [*jobs_before, ("sandbox", run.job_id)], "queued once, under the run's job id"
    run = _run(world)
    assert (run.state, run.error, run.attempts) == ("queued", None, 1)
    asked = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "version.recertify")).all()
    assert [(e.actor_id, e.payload["previous_state"], e.payload["previous_error"]) for e in asked] == [
        (world.ids["vendor_a"], "error", LOST)]


def test_the_department_may_ask_other_tenants_and_citizens_may_not(world, held_jobs):
    _end(world, "error", LOST)
    assert _recertify(world, "vendor_b").status_code == 404
    assert _recertify(world, "staff_b").status_code == 404
    assert _recertify(world, "citizen").status_code == 401  # no API token for citizens
    assert _run(world).state == "error"
    assert _recertify(world, "staff_a").json["status"] == "queued"


def test_a_finished_run_is_a_result_not_an_error(world, held_jobs):
    for state in ("certified", "failed"):
        _end(world, state)
        refused = _recertify(world, "vendor_a")
        assert refused.status_code == 409 and "upload a new version" in refused.json["detail"], refused.json
        assert _run(world).state == state


def test_a_withdrawn_version_is_not_certified_again(world, held_jobs):
    _end(world, "error", LOST)
    db.session.get(AppVersion, world.ids["version_a"]).withdrawn_at = utcnow()
    db.session.commit()
    refused = _recertify(world, "vendor_a")
    assert refused.status_code == 409 and "withdrawn" in refused.json["detail"]


def test_the_version_page_shows_the_error_and_offers_to_certify_again(world, client, held_jobs):
    _end(world, "error", LOST)
    page = f"/versions/{world.ids['version_a']}"
    login(client, "vendor_a")
    shown = text(client.get(page))
    assert LOST in shown and "重新认证" in shown and f'action="{page}/recertify"' in shown
    response = submit(client, page, {}, action=f"{page}/recertify")
    assert response.status_code == 302, text(response)
    assert _run(world).state == "queued"
    assert f'action="{page}/recertify"' not in text(client.get(page)), "nothing to ask for while it is queued"
