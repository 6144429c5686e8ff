"""Ratings: public per app; replies by the vendor and the department; flags by the department, appeals by the
rated app's vendor; moderation by admins."""

from __future__ import annotations

from flask_smorest import Blueprint

from marketplace.apidoc import secured
from marketplace.ratings import services
from marketplace.ratings.schemas import FlagOut, FollowUpOut, ModerationNote, RatingOut, RatingQuery, ReplyCreate, ReplyOut
from marketplace.schemas import page_headers
from marketplace.vendors.services import app_get_published

blp = Blueprint("ratings_api", __name__, url_prefix="/api", description="Ratings (一事一评)")


@blp.get("/apps/<int:app_id>/ratings")
@blp.arguments(RatingQuery, location="query")
@blp.response(200, RatingOut(many=True))
def rating_list_public(args, app_id):
    """A published app's ratings, newest first (public; hidden ratings are left out)."""
    app_get_published(app_id)
    page = services.rating_list_public(app_id, page=args["page"], page_size=args["page_size"])
    return page.items, page_headers(page)


@blp.get("/ratings")
@blp.arguments(RatingQuery, location="query")
@blp.response(200, RatingOut(many=True))
@secured(blp, "feedback:read")
def rating_list_for_staff(actor, args):
    """Ratings of your vendor's apps or your department's orders, newest first."""
    page = services.rating_list_for_staff(actor, page=args["page"], page_size=args["page_size"])
    return page.items, page_headers(page)


@blp.put("/ratings/<int:rating_id>/reply")
@blp.arguments(ReplyCreate)
@blp.response(200, ReplyOut)
@secured(blp, "feedback:write")
def rating_reply(actor, args, rating_id):
    """Answer a rating publicly as the app's vendor or the order's department (replaces your side's answer)."""
    return services.rating_reply(actor, rating_id, args["text"])


@blp.put("/ratings/<int:rating_id>/follow-up")
@blp.arguments(ReplyCreate)
@blp.response(200, FollowUpOut)
@secured(blp, "feedback:write")
def rating_follow_up_answer(actor, args, rating_id):
    """Answer a 差评's follow-up (整改) as the app's vendor or the order's department: what was put right."""
    return services.rating_follow_up_answer(actor, rating_id, args["text"])


@blp.post("/ratings/<int:rating_id>/flag")
@blp.arguments(ModerationNote)
@blp.response(201, FlagOut)
@secured(blp, "feedback:write")
def rating_flag(actor, args, rating_id):
    """Report a rating to the moderators (staff of the rated service's department; citizens on the web). The
    rating keeps counting until a moderator hides it; 429 past the per-account limit."""
    return services.rating_flag(actor, rating_id, args["reason"])


@blp.post("/ratings/<int:rating_id>/appeal")
@blp.arguments(ModerationNote)
@blp.response(201, FlagOut)
@secured(blp, "feedback:write")
def rating_appeal(actor, args, rating_id):
    """Ask a moderator to review a rating of your own app (vendors; 403 for any other app's ratings). The rating
    keeps counting until a moderator hides it."""
    return services.rating_appeal(actor, rating_id, args["reason"])


@blp.post("/ratings/<int:rating_id>/hide")
@blp.arguments(ModerationNote)
@blp.response(200, RatingOut)
@secured(blp, "feedback:write")
def rating_hide(actor, args, rating_id):
    """Hide a rating with the reason (admins; kept, never deleted)."""
    return services.rating_hide(actor, rating_id, args["reason"])


@blp.post("/ratings/<int:rating_id>/resolve")
@blp.arguments(ModerationNote)
@blp.response(200, RatingOut)
@secured(blp, "feedback:write")
def rating_review_resolve(actor, args, rating_id):
    """Close a rating's review as legitimate: it leaves the queue and keeps counting (admins)."""
    return services.rating_review_resolve(actor, rating_id, args["reason"])
