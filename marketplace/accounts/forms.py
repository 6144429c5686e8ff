from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import EmailField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from marketplace.forms import CheckboxListField


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class LogoutForm(FlaskForm):
    """Only carries the CSRF token: logging out is a POST."""


class ClientForm(FlaskForm):
    """A new API client for the signed-in user; scope choices are set from the user's role."""

    name = StringField(_l("Client name"), validators=[DataRequired(), Length(max=100)],
                       description=_l("Where it is used, e.g. 'CI upload' or 'govapp on my laptop'."))
    scopes = CheckboxListField(_l("Scopes"), validators=[DataRequired(_l("Choose at least one scope."))])


class VendorApplicationForm(FlaskForm):
    company_name = StringField(_l("Company name"), validators=[DataRequired(), Length(max=160)],
                               description=_l("As on the business licence."))
    credit_code = StringField(_l("Unified social credit code"), validators=[DataRequired(), Length(max=18)],
                              description=_l("18 characters, on the business licence; the last one is a check "
                                             "character we verify."))
    contact_name = StringField(_l("Contact person"), validators=[DataRequired(), Length(max=80)])
    contact_email = EmailField(_l("Contact email"), validators=[DataRequired(), Length(max=254)],
                               description=_l("The invitation to the platform is made out to this address."))
    contact_phone = StringField(_l("Contact mobile number"), validators=[DataRequired(), Length(max=20)])
    licence = FileField(_l("Business licence (PDF, JPEG or PNG, at most 5 MB)"), validators=[FileRequired()])


class DecisionForm(FlaskForm):
    reason = TextAreaField(_l("Reason (required to reject; the company sees it)"), validators=[Length(max=2000)],
                           render_kw={"rows": 2})


class InvitationForm(FlaskForm):
    email = EmailField(_l("Colleague's email"), validators=[DataRequired(), Length(max=254)])


class AcceptInvitationForm(FlaskForm):
    display_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Choose a password"), validators=[DataRequired(), Length(min=10, max=1024)],
                             description=_l("At least 10 characters."))
