"""Forms of the vendor pages: entering an app for an order and uploading a version bundle."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

SLUG_MESSAGE = _l("Use lowercase letters, digits and inner hyphens (at most 63), e.g. swift-food.")


class AppSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=200)])
    page = IntegerField(validators=[Optional()], default=1)


class AppForm(FlaskForm):
    order_id = SelectField(_l("Order"), coerce=int, validators=[DataRequired()])
    name = StringField(_l("App name"), validators=[DataRequired(), Length(max=120)],
                       description=_l("The name citizens will see in the market."))
    slug = StringField(_l("Address name"), validators=[DataRequired(), Length(max=63),
                       Regexp(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", message=SLUG_MESSAGE)])
    summary = TextAreaField(_l("Summary"), validators=[Optional(), Length(max=4000)], render_kw={"rows": 3})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The real address on this platform, with an example name in place of the one the vendor will choose.
        scheme = "https" if current_app.config.get("ENV") == "production" else "http"
        self.slug.description = _l("The app is served at its own address, e.g. `%(example)s`.",
                                   example=f"{scheme}://my-app.{current_app.config['APPS_DOMAIN']}/")


class VersionUploadForm(FlaskForm):
    version = StringField(_l("Version"), validators=[DataRequired(), Length(max=40),
                          Regexp(r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,39}$",
                                 message=_l("Use a version like 1.0.0 (letters, digits, '.', '+', '-')."))],
                          description=_l("Must match the version in govapp.toml, e.g. 1.0.0."))
    bundle = FileField(_l("Bundle (.tar.gz from `govapp package`)"),
                       validators=[FileRequired(_l("Choose the bundle file.")),
                                   FileAllowed(["gz", "tgz"], _l("Upload the .tar.gz file made by `govapp package`."))])


class ReasonForm(FlaskForm):
    """A decision that needs a reason the vendor will read (reject, suspend)."""

    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=4000)])
