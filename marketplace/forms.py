"""Form pieces every page of the site shares: amounts in yuan, checkbox lists, JSON/YAML documents, and
putting a service's field errors next to the fields they belong to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileSize
from wtforms import SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.fields.choices import SelectChoice

from core.money import Money

DOCUMENT_MAX_BYTES = 1024 * 1024


class YuanField(StringField):
    """An amount typed in yuan ("1234.56", "¥1,234.56"); ``fen`` holds it as an exact integer of fen."""

    fen: int | None = None

    def process_data(self, value):
        # Filled from an integer of fen (editing an order) or a string typed earlier.
        if isinstance(value, int) and not isinstance(value, bool):
            self.fen = value
            value = f"{value // 100}.{value % 100:02d}"
        super().process_data(value)

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.fen = None
        text = (self.data or "").replace(",", "").replace("，", "").replace("¥", "").replace("￥", "").strip()
        if not text:
            return
        try:
            amount = Money.parse(text)
        except ValueError as exc:
            raise ValueError(_l("Enter an amount in yuan with at most two decimals, for example 2.00.")) from exc
        if amount.minor < 0:
            raise ValueError(_l("The amount cannot be negative."))
        self.fen = amount.minor


def select_choices(labels: Mapping[Any, Any]) -> list[SelectChoice]:
    """Choices for a select, radio or checkbox list from {value: label}, in that order (the form WTForms 3.3+
    takes without deprecation warnings)."""
    return [SelectChoice(value, label) for value, label in labels.items()]


class CheckboxListField(SelectMultipleField):
    """A list of checkboxes, one per choice (easier to use on a phone than a multi-select)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class DocumentFields:
    """A JSON or YAML document given as an uploaded file or pasted text; the file wins when both are given.

    Mixed into forms that declare ``<name>_file`` and ``<name>_text`` fields; ``parse_document`` returns
    the parsed object or records an error on the text field and returns None.
    """

    def parse_document(self, name: str, *, required: bool) -> Any:
        upload = getattr(self, f"{name}_file")
        text_field = getattr(self, f"{name}_text")
        raw: str | None = None
        if upload.data and getattr(upload.data, "filename", ""):
            data = upload.data.read(DOCUMENT_MAX_BYTES + 1)
            if len(data) > DOCUMENT_MAX_BYTES:
                add_error(upload, _l("The file is larger than 1 MB."))
                return None
            try:
                raw = data.decode("utf-8")
            except UnicodeDecodeError:
                add_error(upload, _l("The file is not UTF-8 text; save it as UTF-8 JSON or YAML."))
                return None
        elif (text_field.data or "").strip():
            raw = text_field.data
        if raw is None:
            if required:
                add_error(text_field, _l("Upload a file or paste the document."))
            return None
        try:
            document = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            add_error(text_field, _l("This is not valid JSON or YAML%(where)s: %(problem)s", where=where,
                                     problem=getattr(exc, "problem", None) or str(exc)))
            return None
        if not isinstance(document, dict):
            add_error(text_field, _l("The document must be a JSON object or YAML mapping, not a %(kind)s.",
                                     kind=type(document).__name__))
            return None
        return document


def document_file_field(label) -> FileField:
    return FileField(label, validators=[FileAllowed(["json", "yaml", "yml"], _l("Upload a .json, .yaml or .yml file.")),
                                        FileSize(DOCUMENT_MAX_BYTES, message=_l("The file is larger than 1 MB."))])


def document_text_field(label, description=None) -> TextAreaField:
    return TextAreaField(label, description=description, render_kw={"rows": 10, "spellcheck": "false"})


def add_error(field, message) -> None:
    field.errors = [*field.errors, str(message)]


def show_service_errors(form: FlaskForm, errors: Mapping[str, Any], message: str,
                        fields: Mapping[str, str] | None = None) -> None:
    """Put a service's ``errors`` (keyed by its argument names) next to the form's fields.

    ``fields`` maps a service key (or its prefix before the first '.') to a form field name. The overall
    ``message`` goes to ``form.form_errors``, the summary above the form, with any key that matches no field.
    """
    fields = fields or {}
    form.form_errors.insert(0, message)
    for key, detail in (errors or {}).items():
        name = fields.get(key) or fields.get(key.split(".")[0]) or key
        text = "; ".join(map(str, detail)) if isinstance(detail, (list, tuple)) else str(detail)
        if " " not in text.strip():
            text = message  # a bare code such as "invalid": the message says what to do
        if name in form._fields:
            add_error(form[name], text)
        elif text != message:
            form.form_errors.append(f"{key}: {text}")
