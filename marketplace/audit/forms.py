"""The audit log's filter bar (a GET form that changes nothing, so no CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import Length, Optional


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Who or what"), validators=[Optional(), Length(max=200)],
                    description=_l("Part of the actor's name or email, or of the action."))
    action = StringField(_l("Action"), validators=[Optional(), Length(max=80)],
                         description=_l("Exact action, e.g. order.publish"))
    object_type = StringField(_l("Object type"), validators=[Optional(), Length(max=60)],
                              description=_l("e.g. order, app, app_version"))
    object_id = StringField(_l("Object ID"), validators=[Optional(), Length(max=64)])
    page = IntegerField(validators=[Optional()], default=1)
