"""Forms of the rating pages: rating a case, flagging a rating, the staff's replies and moderation."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from marketplace.forms import select_choices

STAR_CHOICES = select_choices({5: "5 ★★★★★", 4: "4 ★★★★", 3: "3 ★★★", 2: "2 ★★", 1: "1 ★"})
DIMENSION_LABELS = {
    "tangibility": (_l("Tangibility"), _l("Is the app clear and pleasant to use, with the forms and documents you need?")),
    "reliability": (_l("Reliability"), _l("Did it do what it promised, correctly, the first time?")),
    "responsiveness": (_l("Responsiveness"), _l("Was it quick, and did it answer your questions promptly?")),
    "assurance": (_l("Assurance"), _l("Did you trust it with your data and feel the result was right?")),
    "empathy": (_l("Empathy"), _l("Did it take your situation into account (pre-filled data, clear refusals)?")),
}


def _stars(label, description=""):
    return RadioField(label, choices=STAR_CHOICES, coerce=int, validators=[InputRequired()], description=description)


class RatingForm(FlaskForm):
    stars = _stars(_l("Overall"), _l("How satisfied are you with this app overall?"))
    tangibility = _stars(*DIMENSION_LABELS["tangibility"])
    reliability = _stars(*DIMENSION_LABELS["reliability"])
    responsiveness = _stars(*DIMENSION_LABELS["responsiveness"])
    assurance = _stars(*DIMENSION_LABELS["assurance"])
    empathy = _stars(*DIMENSION_LABELS["empathy"])
    comment = TextAreaField(_l("Comment (optional, shown publicly without your name)"),
                            validators=[Optional(), Length(max=2000)], render_kw={"rows": 4})


class FlagForm(FlaskForm):
    reason = StringField(_l("Why should a moderator look at this rating?"), validators=[DataRequired(), Length(max=500)])


class ReplyForm(FlaskForm):
    text = TextAreaField(_l("Public reply"), validators=[DataRequired(), Length(max=2000)], render_kw={"rows": 3})


class ModerationForm(FlaskForm):
    reason = StringField(_l("Reason (kept with the rating)"), validators=[DataRequired(), Length(max=1000)])
