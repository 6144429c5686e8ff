"""Forms of the order pages. Amounts are typed in yuan and converted exactly to fen; contracts and suites
are uploaded or pasted as JSON or YAML."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from marketplace.forms import (
    CheckboxListField,
    DocumentFields,
    YuanField,
    document_file_field,
    document_text_field,
    select_choices,
)
from marketplace.orders.contract import CITIZEN_SCOPES, DEPT_SCOPES

# How the scopes of marketplace/orders/contract.py read on the pages, in the page's language.
SCOPE_LABELS = {
    "person.read": _l("Look up a person by resident ID"),
    "business.read": _l("Look up a business by unified social credit code"),
    "licence.read": _l("Read e-licences of a person or business"),
    "application.submit": _l("Submit an application to the department"),
    "application.read": _l("Read the status of a submitted case"),
    "name": _l("Full name"),
    "resident_id": _l("Resident ID number"),
    "phone": _l("Mobile phone number"),
    "address": _l("Registered address"),
    "birth_date": _l("Date of birth"),
    "gender": _l("Gender"),
}


def scope_label(scope: str) -> str:
    return str(SCOPE_LABELS.get(scope) or DEPT_SCOPES.get(scope) or CITIZEN_SCOPES.get(scope) or scope)


STATUS_CHOICES = {"": _l("Any status"), "draft": _l("Draft"), "open": _l("Open"), "closed": _l("Closed"),
                  "archived": _l("Archived")}


class OrderSearchForm(FlaskForm):
    """The list's search bar: a GET form that changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=200)])
    status = SelectField(_l("Status"), validators=[Optional()])
    page = IntegerField(validators=[Optional()], default=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = select_choices({value: str(label) for value, label in STATUS_CHOICES.items()})


class OrderForm(FlaskForm, DocumentFields):
    """Create or edit an order. On edit, fields the order's status no longer allows are removed."""

    service_item_id = SelectField(_l("Service item"), coerce=int, validators=[InputRequired()])
    slug = StringField(_l("Short name for URLs"), validators=[DataRequired(), Length(max=63),
                       Regexp(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
                              message=_l("Use lowercase letters, digits and inner hyphens, e.g. `food-licence`."))],
                       description=_l("Lowercase letters, digits and hyphens, e.g. `food-licence`."))
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=20000)],
                                render_kw={"rows": 5},
                                description=_l("What the app must do for citizens, in plain words."))
    contract_file = document_file_field(_l("Contract file (OpenAPI 3, JSON or YAML)"))
    contract_text = document_text_field(
        _l("…or paste the contract"),
        description=_l("The OpenAPI 3 document of what the app must serve, as JSON or YAML."))
    dept_scopes = CheckboxListField(_l("Department APIs the app may call"))
    citizen_scopes = CheckboxListField(_l("Citizen data the app may ask consent for"))
    fee = YuanField(_l("Fee per completed transaction (yuan)"), validators=[DataRequired()],
                    render_kw={"inputmode": "decimal", "autocomplete": "off"}, description=_l("For example 2.00"))
    budget = YuanField(_l("Quarterly budget (yuan)"), validators=[DataRequired()],
                       render_kw={"inputmode": "decimal", "autocomplete": "off"}, description=_l("For example 50000.00"))
    award_eligible = BooleanField(_l("Apps for this order may win the quarterly awards"), default=True)
    revision = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The scope's name is what the contract and the SDK call it: shown as code, with its meaning in words.
        labelled = Markup("<code>{}</code> — {}")
        self.dept_scopes.choices = select_choices({k: labelled.format(k, scope_label(k)) for k in DEPT_SCOPES})
        self.citizen_scopes.choices = select_choices({k: labelled.format(k, scope_label(k)) for k in CITIZEN_SCOPES})

    def limit_to(self, editable: set[str], *, creating: bool) -> None:
        """Keep only the fields that can be set now (a service field name maps to one or two form fields)."""
        keep = {"csrf_token", "revision"}
        names = {"contract": ("contract_file", "contract_text"), "fee_per_transaction_fen": ("fee",),
                 "quarterly_budget_fen": ("budget",)}
        for key in editable:
            keep.update(names.get(key, (key,)))
        if creating:
            keep.update({"service_item_id", "slug"})
        for name in list(self._fields):
            if name not in keep:
                delattr(self, name)


# Service argument names → the form field showing their errors.
ORDER_ERROR_FIELDS = {"contract": "contract_text", "fee_per_transaction_fen": "fee", "quarterly_budget_fen": "budget",
                      "rating_multipliers": "fee", "service_item_id": "service_item_id"}


class SuiteForm(FlaskForm, DocumentFields):
    suite_file = document_file_field(_l("Suite file (JSON or YAML)"))
    suite_text = document_text_field(_l("…or paste the suite"),
                                     description=_l("Cases with request, expected response, category and "
                                                    "public or hidden visibility."))


class QuestionForm(FlaskForm):
    text = TextAreaField(_l("Your question"), validators=[DataRequired(), Length(min=5, max=4000)],
                         render_kw={"rows": 4},
                         description=_l("Questions and answers are public; your name and company are not shown."))


class AnswerForm(FlaskForm):
    answer = TextAreaField(_l("Answer"), validators=[DataRequired(), Length(max=20000)], render_kw={"rows": 3})


class HideQuestionForm(FlaskForm):
    reason = StringField(_l("Reason for hiding"), validators=[DataRequired(), Length(max=500)])
