"""One suite hash everywhere: the order page shows the hash the certification report records (and the SDK can
recompute it with govsuite.suite_sha256)."""

from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db
from tests.marketplace.webpages import text


def test_the_order_page_and_the_certification_run_show_the_same_suite_hash(world, client):
    from govsuite import suite_sha256

    from marketplace.orders.models import AcceptanceSuite
    from sandbox.harness import suite_hash
    from sandbox.models import CertificationRun

    stored = db.session.scalar(sa.select(AcceptanceSuite).where(AcceptanceSuite.order_id == world.ids["order_a"]))
    run = db.session.scalar(sa.select(CertificationRun).where(CertificationRun.app_version_id == world.ids["version_a"]))
    assert stored.sha256 == suite_sha256(stored.document) == suite_hash(run.suite) == run.suite_sha256
    assert f'title="{stored.sha256}"' in text(client.get(f"/orders/{world.ids['order_a']}"))
