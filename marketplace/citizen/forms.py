"""Forms of the citizen pages: the service search."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search services"), validators=[Optional(), Length(max=100)])
