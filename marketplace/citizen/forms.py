"""Forms of the citizen pages: the service search; the search words a department keeps for its items."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search services"), validators=[Optional(), Length(max=100)])


SEPARATORS = re.compile(r"[,，、;；\n]+")


class SynonymsForm(FlaskForm):
    synonyms = TextAreaField(_l("Search words"), validators=[Length(max=1000)], render_kw={"rows": 2},
                             description=_l("Words citizens use for this item that are not in its name, separated "
                                            "by commas, e.g. catering, restaurant."))

    def words(self) -> list[str]:
        return [w.strip() for w in SEPARATORS.split(self.synonyms.data or "") if w.strip()]
