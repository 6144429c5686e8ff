"""Forms of the citizen pages: search, rating a case, filing a complaint, and the staff's answers."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from marketplace.complaints.models import THEMES
from marketplace.home.forms import select_choices

STAR_CHOICES = select_choices({5: "5 ★★★★★", 4: "4 ★★★★", 3: "3 ★★★", 2: "2 ★★", 1: "1 ★"})
DIMENSION_LABELS = {
    "tangibility": (_l("Tangibility"), _l("Is the app clear and pleasant to use, with the forms and documents you need?")),
    "reliability": (_l("Reliability"), _l("Did it do what it promised, correctly, the first time?")),
    "responsiveness": (_l("Responsiveness"), _l("Was it quick, and did it answer your questions promptly?")),
    "assurance": (_l("Assurance"), _l("Did you trust it with your data and feel the result was right?")),
    "empathy": (_l("Empathy"), _l("Did it take your situation into account (pre-filled data, clear refusals)?")),
}
THEME_LABELS = {
    "slow": _l("Too slow"), "wrong_decision": _l("Wrong result or refusal"), "data_privacy": _l("Use of my data"),
    "usability": _l("Hard to use"), "accessibility": _l("Not accessible"), "staff_conduct": _l("Conduct"),
    "fees": _l("Fees"), "other": _l("Something else"),
}


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search services"), validators=[Optional(), Length(max=100)])


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


class ComplaintForm(FlaskForm):
    theme = SelectField(_l("What is it about?"), choices=select_choices({t: THEME_LABELS[t] for t in THEMES}),
                        validators=[DataRequired()])
    description = TextAreaField(_l("What happened?"), validators=[DataRequired(), Length(max=4000)],
                                description=_l("Only the vendor and the department see this text; the public sees "
                                               "the topic and the outcome."), render_kw={"rows": 6})


class FlagForm(FlaskForm):
    reason = StringField(_l("Why should a moderator look at this rating?"), validators=[DataRequired(), Length(max=500)])


class ReplyForm(FlaskForm):
    text = TextAreaField(_l("Public reply"), validators=[DataRequired(), Length(max=2000)], render_kw={"rows": 3})


class ModerationForm(FlaskForm):
    reason = StringField(_l("Reason (kept with the rating)"), validators=[DataRequired(), Length(max=1000)])


class ComplaintAnswerForm(FlaskForm):
    outcome = SelectField(_l("Outcome"), choices=select_choices({"resolved": _l("Resolved"), "rejected": _l("Rejected")}))
    response = TextAreaField(_l("Answer to the citizen"), validators=[DataRequired(), Length(max=4000)],
                             render_kw={"rows": 4})
    public_outcome = TextAreaField(_l("Public outcome (no personal data)"), validators=[DataRequired(),
                                   Length(max=1000)], render_kw={"rows": 2})
