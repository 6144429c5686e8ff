"""Forms of the rating pages: rating a case, flagging a rating, the staff's replies and moderation."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from marketplace.forms import select_choices

STAR_CHOICES = select_choices({5: "5 ★★★★★", 4: "4 ★★★★", 3: "3 ★★★", 2: "2 ★★", 1: "1 ★"})
# The overall level, one tap (好差评): five levels, the stars behind them.
LEVELS = ((5, _l("Very satisfied")), (4, _l("Satisfied")), (3, _l("Fairly satisfied")), (2, _l("Dissatisfied")),
          (1, _l("Very dissatisfied")))
# The five quality dimensions in plain words, each with a hint; all optional.
DIMENSION_LABELS = {
    "tangibility": (_l("Easy to use"), _l("Were the pages clear and the forms easy to fill in?")),
    "reliability": (_l("Done right the first time"), _l("Did it get your application right without going back and forth?")),
    "responsiveness": (_l("Quick"), _l("Was it fast, and did you hear back promptly?")),
    "assurance": (_l("Trustworthy"), _l("Did you feel your data was safe and the result correct?")),
    "empathy": (_l("Considerate"), _l("Did it spare you work: fill in what it knew, explain a refusal plainly?")),
}


def _optional_int(value):
    return int(value) if value not in (None, "") else None


def _dimension(label, description):
    return RadioField(label, choices=STAR_CHOICES, coerce=_optional_int, validate_choice=False,
                      validators=[Optional()], description=description)


class RatingForm(FlaskForm):
    # Sent by the level button the citizen taps (one tap submits the form).
    stars = IntegerField(_l("How satisfied are you with how this case went?"),
                         validators=[InputRequired(), NumberRange(1, 5)])
    tangibility = _dimension(*DIMENSION_LABELS["tangibility"])
    reliability = _dimension(*DIMENSION_LABELS["reliability"])
    responsiveness = _dimension(*DIMENSION_LABELS["responsiveness"])
    assurance = _dimension(*DIMENSION_LABELS["assurance"])
    empathy = _dimension(*DIMENSION_LABELS["empathy"])
    comment = TextAreaField(_l("Comment (optional, shown publicly without your name)"),
                            validators=[Optional(), Length(max=2000)], render_kw={"rows": 4})


class RerateForm(FlaskForm):
    stars = IntegerField(_l("Rate again, once"), validators=[InputRequired(), NumberRange(1, 5)])


class FlagForm(FlaskForm):
    reason = StringField(_l("Why should a moderator look at this rating?"), validators=[DataRequired(), Length(max=500)])


class ReplyForm(FlaskForm):
    text = TextAreaField(_l("Public reply"), validators=[DataRequired(), Length(max=2000)], render_kw={"rows": 3})


class ModerationForm(FlaskForm):
    reason = StringField(_l("Reason (kept with the rating)"), validators=[DataRequired(), Length(max=1000)])
