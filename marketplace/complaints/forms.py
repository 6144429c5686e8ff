"""Forms of the complaint pages: filing a complaint and answering it."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from marketplace.complaints.models import THEMES
from marketplace.forms import select_choices

THEME_LABELS = {
    "slow": _l("Too slow"), "wrong_decision": _l("Wrong result or refusal"), "data_privacy": _l("Use of my data"),
    "usability": _l("Hard to use"), "accessibility": _l("Not accessible"), "staff_conduct": _l("Conduct"),
    "fees": _l("Fees"), "other": _l("Something else"),
}


class ComplaintForm(FlaskForm):
    theme = SelectField(_l("What is it about?"), choices=select_choices({t: THEME_LABELS[t] for t in THEMES}),
                        validators=[DataRequired()])
    description = TextAreaField(_l("What happened?"), validators=[DataRequired(), Length(max=4000)],
                                description=_l("Only the vendor and the department see this text; the public sees "
                                               "the topic and the outcome."), render_kw={"rows": 6})


class ComplaintAnswerForm(FlaskForm):
    outcome = SelectField(_l("Outcome"), choices=select_choices({"resolved": _l("Resolved"), "rejected": _l("Rejected")}))
    response = TextAreaField(_l("Answer to the citizen"), validators=[DataRequired(), Length(max=4000)],
                             render_kw={"rows": 4})
    public_outcome = TextAreaField(_l("Public outcome (no personal data)"), validators=[DataRequired(),
                                   Length(max=1000)], render_kw={"rows": 2})
