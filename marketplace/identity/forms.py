from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from marketplace.forms import CheckboxListField


class PersonaLoginForm(FlaskForm):
    resident_id = HiddenField(validators=[DataRequired(), Length(min=18, max=18)])


class ConsentForm(FlaskForm):
    """Which of the requested fields to share; choices are set from the app's order."""

    fields = CheckboxListField(_l("Share these details"))
    grant = SubmitField(_l("Allow and continue"))
    decline = SubmitField(_l("Share nothing"))


class RevokeForm(FlaskForm):
    """Only carries the CSRF token: revoking is a POST."""


class AccessLogFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter

    citizen_id = IntegerField(_l("Citizen (user id)"), validators=[Optional(), NumberRange(min=1)])
    app_id = IntegerField(_l("App (id)"), validators=[Optional(), NumberRange(min=1)])
    page = IntegerField(validators=[Optional(), NumberRange(min=1)])


class DeletionCompleteForm(FlaskForm):
    """The vendor's answer to a deletion request."""

    note = TextAreaField(_l("What was deleted (or what the law requires you to keep, and why)"),
                         validators=[DataRequired(), Length(max=2000)])
