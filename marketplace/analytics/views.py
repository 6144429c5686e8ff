"""The department analytics page: per service item and app, usage, the rating trend, the quality dimensions and
the complaints by topic, as charts."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from core.auth import require_role, web_actor
from core.roles import Role
from marketplace.analytics import charts
from marketplace.analytics import services as analytics
from marketplace.catalogue import services as catalogue
from marketplace.complaints.forms import THEME_LABELS
from marketplace.ratings.forms import DIMENSION_LABELS
from marketplace.ratings.models import DIMENSIONS

bp = Blueprint("analytics", __name__, template_folder="templates")


@bp.get("/analytics")
def analytics_page():
    actor = web_actor()
    department_id = request.args.get("department", type=int) or getattr(actor, "department_id", None)
    if department_id is None:
        # Staff always have a department; admins and auditors look across departments and choose one first.
        require_role(actor, Role.ADMIN, Role.AUDITOR, action="see department analytics")
        departments = catalogue.department_list(page=request.args.get("page", 1, type=int), page_size=50)
        return render_template("analytics/departments.html", departments=departments)
    result = analytics.analytics_department(actor, department_id)
    dimension_names = {d: str(DIMENSION_LABELS[d][0]) for d in DIMENSIONS}
    sections = []
    for item, apps in result.items:
        series = {a.name: a for a in apps} or {item.name: item}
        themes = {str(THEME_LABELS[t]): n for t, n in item.complaint_themes.items()}
        sections.append({
            "item": item, "apps": apps,
            "usage": charts.usage_chart(_("Completed cases per month"), result.months,
                                        {n: s.usage for n, s in series.items()}),
            "trend": charts.rating_trend_chart(_("Average stars per month"), result.months,
                                               {n: s.rating_trend for n, s in series.items()}),
            "dimensions": charts.dimension_chart(_("Quality dimensions (1–5)"), dimension_names,
                                                 {n: s.dimensions for n, s in series.items()}),
            "themes": charts.themes_chart(_("Complaints by topic"), themes) if themes else None,
        })
    return render_template("analytics/analytics.html", result=result, sections=sections)
