"""Schemas of the citizen catalogue API: search hits, life events, apps compared side by side."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.ratings.models import DIMENSIONS
from marketplace.schemas import NO_NUL, decimal_text


class SearchQuery(Schema):
    q = fields.String(required=True, validate=[validate.Length(min=1, max=100), NO_NUL])
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=50))


class SearchHitOut(Schema):
    kind = fields.String(metadata={"description": "item or life_event"})
    code = fields.String()
    name = fields.String()
    name_en = fields.String()
    score = fields.Float()
    uses = fields.Integer(metadata={"description": "completed transactions"})


class StepOut(Schema):
    position = fields.Integer()
    item_code = fields.String(attribute="service_item.code")
    item_name = fields.String(attribute="service_item.name")
    item_name_en = fields.String(attribute="service_item.name_en")
    prerequisites = fields.List(fields.String())
    note = fields.String()
    note_en = fields.String()


class LifeEventOut(Schema):
    code = fields.String()
    name = fields.String()
    name_en = fields.String()
    description = fields.String()
    description_en = fields.String()
    steps = fields.List(fields.Nested(StepOut))


class AppChoiceOut(Schema):
    app_id = fields.Integer(attribute="app.id")
    slug = fields.String(attribute="app.slug")
    name = fields.String(attribute="app.name")
    summary = fields.String(attribute="app.summary")
    vendor = fields.String(attribute="app.vendor.name")
    version = fields.String(attribute="version.version")
    bayesian_rating = fields.Function(
        lambda c: decimal_text(c.rating.bayesian) if c.rating_shown else None,
        metadata={"type": "string", "nullable": True,
                  "description": "(20·m + Σstars) / (20 + n), as billing pays on; null below the minimum count of "
                                 "ratings (RATINGS_MIN_SHOWN, default 10): the prior is never shown as a rating"})
    rating_lower_bound = fields.Function(
        lambda c: None if c.lower_bound is None else f"{c.lower_bound:.2f}",
        metadata={"type": "string", "nullable": True,
                  "description": "mean stars − 1.96 standard errors, the comparison's first sort key; null below "
                                 "the minimum count"})
    ratings = fields.Integer(attribute="rating.count")
    distribution = fields.Function(lambda c: list(c.rating.distribution), metadata={
        "type": "array", "items": {"type": "integer"}, "description": "counts of 1, 2, 3, 4 and 5 stars"})
    dimensions = fields.Function(lambda c: {d: decimal_text(c.rating.dimensions[d]) for d in DIMENSIONS}, metadata={
        "type": "object", "additionalProperties": {"type": "string", "nullable": True},
        "description": "mean score per service-quality dimension, as decimal text"})
    completed = fields.Integer()
    median_handling_seconds = fields.Integer(allow_none=True)
    certified_at = fields.DateTime(allow_none=True)
    citizen_scopes = fields.List(fields.String())
