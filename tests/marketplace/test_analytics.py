from __future__ import annotations

from datetime import timedelta

import pytest

from core.errors import Forbidden
from core.extensions import db
from core.time import utcnow
from tests.marketplace.citizen_world import *  # noqa: F403  (the `market` fixture)


def user(world, name):
    from marketplace.accounts.models import User

    return db.session.get(User, world.ids[name])


def test_department_sees_usage_ratings_dimensions_and_complaint_themes(market, world):
    from marketplace.analytics.services import analytics_department
    from marketplace.complaints import services as complaints
    from marketplace.ratings import services as ratings

    now = utcnow()
    for i, stars in enumerate((5, 3)):
        c = market.citizen(f"a{i}")
        txn = market.complete(c, market.apps["a"], when=now - timedelta(minutes=5))
        ratings.rating_create(c, txn.id, stars=stars, now=now + timedelta(hours=i),
                              dimensions={"tangibility": 4, "reliability": 4, "responsiveness": 2, "assurance": 5,
                                          "empathy": 3})
    complaints.complaint_file(market.citizens["a0"], theme="slow", description="慢", app_id=market.apps["a"].id)
    result = analytics_department(user(world, "staff_a"), world.ids["dept_a"], now=now)
    item, apps = result.items[0]
    assert item.key == "item:item-a" and item.completed == 2 and item.ratings == 2
    assert item.stars_mean == 4
    assert item.worst_dimensions[0] == ("responsiveness", 2)
    assert item.complaint_themes == {"slow": 1}
    by_app = {a.key: a for a in apps}
    assert by_app["app:app-a"].usage[result.months[-1]] == 2 and by_app["app:rival-b"].completed == 0


def test_other_departments_and_vendors_may_not_look(market, world):
    from marketplace.analytics.services import analytics_department

    for who in ("staff_b", "vendor_a", "citizen"):
        with pytest.raises(Forbidden):
            analytics_department(user(world, who), world.ids["dept_a"])


def test_charts_are_svg_without_scripts():
    from marketplace.analytics import charts

    svg = charts.usage_chart("用量", ["2026-07", "2026-08"], {"App": {"2026-08": 3}})
    assert svg.startswith("<svg") and "<script" not in svg and "用量" in svg


def test_count_axes_are_whole_numbers_and_labels_are_legible():
    import re

    from marketplace.analytics import charts

    one = charts.themes_chart("投诉", {"慢": 1})
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", one)
    assert "0" in labels and "1" in labels and not any(re.fullmatch(r"0\.\d+", t) for t in labels), labels
    usage = charts.usage_chart("用量", [f"2026-{m:02d}" for m in range(1, 13)], {"App": {"2026-08": 47}})
    ticks = [int(t) for t in re.findall(r"<text[^>]*>(\d+)</text>", usage)]
    assert ticks[:2] == [0, 10] and max(ticks) >= 47 and len(ticks) <= 7, ticks
    assert "font-size:18px" in usage.replace(" ", ""), "labels drawn at 18 px (≥ 14 px once scaled to a phone)"
    assert charts.count_axis([])["y_labels"] == [0, 1]


@pytest.mark.parametrize("who", ["admin", "auditor"])
def test_admins_and_auditors_choose_a_department_then_see_its_analytics(app, world, who):
    from tests.marketplace.webpages import login, text

    client = app.test_client()
    login(client, who)
    chooser = client.get("/analytics")
    assert chooser.status_code == 200
    link = f'/analytics?department={world.ids["dept_a"]}'
    assert link in text(chooser) and 'href="/analytics"' in text(chooser)  # reached from the navigation too
    page = client.get(link)
    assert page.status_code == 200 and "<svg" in text(page)


def test_staff_go_straight_to_their_department_and_citizens_are_refused(app, world):
    from tests.marketplace.webpages import login

    client = app.test_client()
    login(client, "staff_a")
    assert client.get("/analytics").status_code == 200
    client = app.test_client()
    login(client, "vendor_a")
    assert client.get("/analytics").status_code == 403
