from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.schemas import PageQuery


class ReplyOut(Schema):
    side = fields.String()
    text = fields.String()
    updated_at = fields.DateTime()


class RatingOut(Schema):
    """A rating as the public sees it: no citizen, no case."""

    id = fields.Integer()
    app_id = fields.Integer()
    stars = fields.Integer()
    tangibility = fields.Integer()
    reliability = fields.Integer()
    responsiveness = fields.Integer()
    assurance = fields.Integer()
    empathy = fields.Integer()
    comment = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    under_review = fields.Boolean()
    replies = fields.List(fields.Nested(ReplyOut))


class FollowUpOut(Schema):
    rating_id = fields.Integer()
    opened_at = fields.DateTime()
    due_at = fields.DateTime()
    outcome = fields.String(allow_none=True)
    answered_side = fields.String(allow_none=True)
    answered_at = fields.DateTime(allow_none=True)


class FlagOut(Schema):
    id = fields.Integer()
    rating_id = fields.Integer()
    kind = fields.String()
    reason = fields.String()
    created_at = fields.DateTime()


class ReplyCreate(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ModerationNote(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class RatingQuery(PageQuery):
    pass
