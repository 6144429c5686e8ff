"""Department analytics as JSON, for the department's own dashboards."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from marketplace.analytics import services
from marketplace.apidoc import secured
from marketplace.schemas import decimal_text

blp = Blueprint("analytics_api", __name__, url_prefix="/api", description="Department analytics")


def subject_json(subject: services.Subject) -> dict:
    return {"key": subject.key, "name": subject.name, "completed": subject.completed, "usage": subject.usage,
            "rating_trend": {m: decimal_text(v) for m, v in subject.rating_trend.items()},
            "ratings": subject.ratings, "stars_mean": decimal_text(subject.stars_mean),
            "dimensions": {d: decimal_text(v) for d, v in subject.dimensions.items()},
            "worst_dimensions": [d for d, _ in subject.worst_dimensions],
            "complaint_themes": dict(subject.complaint_themes)}


class AnalyticsOut(Schema):
    department_id = fields.Integer(attribute="department.id")
    months = fields.List(fields.String())
    items = fields.Function(lambda a: [{**subject_json(item), "apps": [subject_json(x) for x in apps]}
                                       for item, apps in a.items],
                            metadata={"type": "array", "items": {"type": "object"},
                                      "description": "per service item: its figures and its apps' figures"})


@blp.get("/departments/<int:department_id>/analytics")
@blp.response(200, AnalyticsOut)
@secured(blp, "analytics:read")
@blp.doc(operationId="department_analytics_get")
def analytics_department(actor, department_id):
    """Per service item and app: usage per month, rating trend, dimension scores, worst dimensions, complaint themes."""
    return services.analytics_department(actor, department_id)
