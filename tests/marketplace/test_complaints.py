from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import Conflict, Forbidden, NotFound, ValidationError
from core.extensions import db
from tests.marketplace.citizen_world import *  # noqa: F403  (the `market` fixture)


def user(world, name):
    from marketplace.accounts.models import User

    return db.session.get(User, world.ids[name])


def test_deadline_is_five_working_days_skipping_the_weekend():
    from marketplace.complaints.services import response_deadline

    friday = datetime(2026, 8, 14, 2, 0, tzinfo=UTC)  # Friday 10:00 in Beijing
    due = response_deadline(friday)
    assert due == datetime(2026, 8, 21, 15, 59, 59, tzinfo=UTC)  # next Friday 23:59:59 Beijing


def test_complaint_is_routed_to_vendor_and_department_and_answered(market, world):
    from marketplace.complaints import services

    citizen = market.citizens["citizen"]
    txn = market.complete(citizen, market.apps["a"])
    complaint = services.complaint_file(citizen, theme="slow", description="等了三天没有回音 张三 13800000000",
                                        transaction_id=txn.id)
    assert complaint.status == "open" and complaint.vendor_id == world.ids["org_a"]
    assert complaint.department_id == world.ids["dept_a"]
    for who in ("vendor_a", "staff_a"):
        assert [c.id for c in services.complaint_list(user(world, who)).items] == [complaint.id]
    for who in ("vendor_b", "staff_b"):
        assert services.complaint_list(user(world, who)).items == []
        with pytest.raises(NotFound):
            services.complaint_acknowledge(user(world, who), complaint.id)
    services.complaint_acknowledge(user(world, "vendor_a"), complaint.id)
    with pytest.raises(Conflict):
        services.complaint_acknowledge(user(world, "staff_a"), complaint.id)
    closed = services.complaint_close(user(world, "staff_a"), complaint.id, outcome="resolved",
                                      response="已联系开发商修复", public_outcome="处理时长问题已修复")
    assert closed.status == "resolved" and closed.responder_side == "department"
    public = services.public_view(closed)
    assert public["public_outcome"] == "处理时长问题已修复" and public["answered_late"] is False
    assert "张三" not in repr(public) and "description" not in public and "citizen_id" not in public
    with pytest.raises(Conflict):
        services.complaint_close(user(world, "vendor_a"), complaint.id, outcome="rejected", response="x",
                                 public_outcome="y")


def test_citizen_cannot_complain_about_someone_elses_case_or_without_a_target(market):
    from marketplace.complaints import services

    other = market.complete(market.citizen("lisi"), market.apps["a"])
    with pytest.raises(NotFound):
        services.complaint_file(market.citizens["citizen"], theme="slow", description="x", transaction_id=other.id)
    with pytest.raises(ValidationError):
        services.complaint_file(market.citizens["citizen"], theme="slow", description="x")
    with pytest.raises(ValidationError):
        services.complaint_file(market.citizens["citizen"], theme="nonsense", description="x",
                                app_id=market.apps["a"].id)
    with pytest.raises(NotFound):
        services.complaint_file(market.citizens["citizen"], theme="other", description="x",
                                app_id=market.apps["draft"].id)


def test_only_citizens_file_and_only_handlers_close(market, world):
    from marketplace.complaints import services

    with pytest.raises(Forbidden):
        services.complaint_file(user(world, "vendor_a"), theme="other", description="x", app_id=market.apps["a"].id)
    complaint = services.complaint_file(market.citizens["citizen"], theme="usability", description="按钮太小",
                                        app_id=market.apps["a"].id)
    with pytest.raises(NotFound):
        services.complaint_close(market.citizen("other"), complaint.id, outcome="resolved", response="x",
                                 public_outcome="y")
    with pytest.raises(ValidationError):
        services.complaint_close(user(world, "vendor_a"), complaint.id, outcome="resolved", response="",
                                 public_outcome="")
