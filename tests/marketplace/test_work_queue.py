"""Each platform role lands on its work queue after logging in: what needs it now, with deadlines, and links to
every page of the role."""

from __future__ import annotations

import re
from datetime import timedelta

from core.extensions import db
from core.time import utcnow
from tests.marketplace.citizen_world import *  # noqa: F403  (the `market` fixture)
from tests.marketplace.webpages import login, submit, text

DIMS = {"tangibility": 3, "reliability": 3, "responsiveness": 3, "assurance": 3, "empathy": 3}


def _user(world, name):
    from marketplace.accounts.models import User

    return db.session.get(User, world.ids[name])


def _certify(version_id, *, state="certified"):
    """The sandbox's verdict on the run the upload queued (the run itself is tested in test_certification_flow)."""
    import sqlalchemy as sa

    from sandbox.models import CertificationRun

    run = db.session.scalar(sa.select(CertificationRun).where(CertificationRun.app_version_id == version_id))
    run.state, run.finished_at = state, utcnow()
    db.session.commit()


def _section(page: str, key: str) -> str:
    match = re.search(rf'<section class="queue" id="queue-{key}".*?</section>', page, re.S)
    assert match, f"no {key} section on the work queue"
    return match.group(0)


def test_staff_land_on_their_queue_with_approvals_questions_complaints_and_poor_ratings(market, world, client):
    from marketplace.complaints import services as complaints
    from marketplace.orders import services as orders
    from marketplace.ratings import services as ratings

    _certify(world.ids["version_a"])
    orders.question_ask(_user(world, "vendor_a"), world.ids["order_a"], "Which licence types count?")
    orders.question_ask(_user(world, "vendor_b"), world.ids["order_b"], "Another department's question")
    citizen = market.citizens["citizen"]
    txn = market.complete(citizen, market.apps["a"])
    ratings.rating_create(citizen, txn.id, stars=1, dimensions=DIMS, comment="太慢了")
    complaint = complaints.complaint_file(citizen, theme="slow", description="等了三天没有回音",
                                          transaction_id=txn.id)

    response = login(client, "staff_a")
    assert response.headers["Location"] == "/work", "staff land on their work queue, not the public home"
    page = text(client.get("/work"))
    assert 'id="nav-work"' in page and 'aria-current="page"' in page

    approvals = _section(page, "approvals")
    assert "App A 0.9.0" in approvals and f'href="/versions/{world.ids["version_a"]}"' in approvals
    assert "发布" in approvals, "approve vs publish is explained where the decision is made"
    questions = _section(page, "questions")
    assert "Which licence types count?" in questions and "Another department" not in questions
    assert complaint.reference in _section(page, "complaints") and "截止" in _section(page, "complaints")
    assert "太慢了" in _section(page, "ratings")
    for path in ("/orders/new", "/feedback", "/analytics", "/apps", "/account/clients"):
        assert f'href="{path}"' in page, f"the queue links to {path}"

    orders.question_answer(_user(world, "staff_a"), orders.question_list(_user(world, "staff_a"),
                                                                       world.ids["order_a"])[0].id, "Both.")
    assert "Which licence types count?" not in _section(text(client.get("/work")), "questions"), \
        "an answered question leaves the queue"


def test_overdue_complaints_are_marked_and_come_first(market, world, client):
    from marketplace.complaints import services as complaints
    from marketplace.complaints.models import Complaint

    citizen = market.citizens["citizen"]
    late = complaints.complaint_file(citizen, theme="slow", description="很久以前的投诉",
                                     transaction_id=market.complete(citizen, market.apps["a"]).id)
    fresh = complaints.complaint_file(citizen, theme="usability", description="按钮太小",
                                      transaction_id=market.complete(citizen, market.apps["a"]).id)
    db.session.get(Complaint, late.id).due_at = utcnow() - timedelta(days=1)
    db.session.commit()
    login(client, "vendor_a")
    section = _section(text(client.get("/work")), "complaints")
    assert section.index(late.reference) < section.index(fresh.reference)
    assert re.search(rf'<tr class="overdue">\s*<td><a [^>]*>{late.reference}', section)
    assert "已逾期" in section


def test_vendor_queue_shows_certification_results_ratings_and_statements(market, world, client):
    from marketplace.ratings import services as ratings

    _certify(world.ids["version_a"], state="failed")
    citizen = market.citizens["citizen"]
    txn = market.complete(citizen, market.apps["a"])
    rating = ratings.rating_create(citizen, txn.id, stars=4, dimensions=DIMS, comment="还不错")
    login(client, "vendor_a")
    page = text(client.get("/work"))
    assert "App A 0.9.0" in _section(page, "certification") and "status-failed" in _section(page, "certification")
    assert "还不错" in _section(page, "ratings")
    assert f'/finance/vendors/{world.ids["org_a"]}/statement' in _section(page, "statements")

    ratings.rating_reply(_user(world, "vendor_a"), rating.id, "谢谢")
    assert "还不错" not in _section(text(client.get("/work")), "ratings"), "an answered rating leaves the queue"
    login_b = text(client.get("/work"))
    assert 'id="nav-work"' in login_b


def test_other_vendors_see_nothing_of_vendor_a(market, world, client):
    from marketplace.ratings import services as ratings

    _certify(world.ids["version_a"])
    citizen = market.citizens["citizen"]
    ratings.rating_create(citizen, market.complete(citizen, market.apps["a"]).id, stars=2, dimensions=DIMS,
                          comment="秘密评论")
    login(client, "vendor_b")
    page = text(client.get("/work"))
    assert "App A" not in page and "秘密评论" not in page


def test_finance_sees_the_quarter_that_ended_and_admins_the_moderation_queue(market, world, client):
    login(client, "finance")
    page = text(client.get("/work"))
    quarters = _section(page, "quarters")
    from billing.calendar import quarter_code_of, quarter_span

    ended = quarter_code_of(quarter_span(quarter_code_of(utcnow())).starts_at - timedelta(seconds=1))
    assert ended in quarters, "the quarter that ended last waits to be settled, even before anyone used it"
    assert 'href="/finance/"' in page and 'href="/finance/ledger"' in page

    client.post("/logout", data={"csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)})
    login(client, "admin")
    page = text(client.get("/work"))
    assert "queue-moderation" in page and 'href="/audit"' in page


def test_citizens_have_no_work_queue_and_anonymous_visitors_must_log_in(world, client):
    assert client.get("/work").status_code == 401
    submit(client, "/login", {"email": "citizen@test.example.cn", "password": "correct horse battery"})
    assert client.get("/work").status_code == 403


def test_the_order_page_lists_its_competing_apps(market, world, client):
    page = text(client.get(f"/orders/{world.ids['order_a']}"))
    apps = re.search(r'<ul class="cards" id="competing-apps">.*?</ul>', page, re.S).group(0)
    assert "App A" in apps and "Rival B" in apps and 'href="/services/apps/rival-b"' in apps
    assert "Draft C" not in apps, "only published apps compete"
    assert "本订单还没有应用上架" in text(client.get(f"/orders/{world.ids['order_b']}"))


def test_questions_are_paginated_and_the_department_hides_one_with_a_reason(world, client):
    from marketplace.orders import services as orders

    vendor = _user(world, "vendor_a")
    asked = [orders.question_ask(vendor, world.ids["order_a"], f"问题编号 {n:02d} 的内容") for n in range(25)]
    first = text(client.get(f"/orders/{world.ids['order_a']}"))
    assert "问题编号 00" in first and "问题编号 24" not in first and "共 25 个问题" in first
    second = text(client.get(f"/orders/{world.ids['order_a']}?page=2"))
    assert "问题编号 24" in second and "问题编号 00" not in second

    login(client, "staff_a")
    order_url = f"/orders/{world.ids['order_a']}"
    spam = asked[3]
    response = submit(client, order_url, {f"h{spam.id}-reason": "广告"}, action=f"/questions/{spam.id}/hide")
    assert response.status_code == 302
    staff_view = text(client.get(order_url))
    assert "问题编号 03" in staff_view and "已对公众隐藏" in staff_view and "广告" in staff_view
    client.post("/logout", data={"csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                                                         staff_view).group(1)})
    public = text(client.get(order_url))
    assert "问题编号 03" not in public and "共 24 个问题" in public
    assert all(q.id != spam.id for q in orders.question_list(None, world.ids["order_a"]))

    login(client, "staff_b")
    other = client.post(f"/questions/{asked[4].id}/hide", data={
        "csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text(client.get("/work"))).group(1),
        f"h{asked[4].id}-reason": "不喜欢"})
    assert other.status_code == 403, "another department cannot hide this order's questions"


def test_vendors_download_the_sdk_wheels_with_their_version_from_the_platform(world, client, app):
    import importlib.metadata
    import io
    import zipfile

    login(client, "vendor_a")
    assert 'href="/sdk"' in text(client.get("/work"))
    page = text(client.get("/sdk"))
    version = importlib.metadata.version("govapp-sdk")
    assert f"开发工具包（SDK）{version}" in page
    name = re.search(r'href="/sdk/(govapp_sdk-[^"]+\.whl)"', page).group(1)
    assert version in name and re.search(r'href="/sdk/govapp_suite-[^"]+\.whl"', page)
    wheel = client.get(f"/sdk/{name}")
    assert wheel.status_code == 200 and "attachment" in wheel.headers["Content-Disposition"]
    assert "govapp/cli.py" in zipfile.ZipFile(io.BytesIO(wheel.data)).namelist()
    assert client.get("/sdk/../../etc/passwd").status_code == 404
    assert client.get("/sdk/other.whl").status_code == 404
