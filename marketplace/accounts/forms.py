from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
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
