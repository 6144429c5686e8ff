"""Acceptance suites on the platform side: validation by the SDK's one definition of the format
(``govapp.suite``), and the view vendors get, which never contains a hidden case."""

from __future__ import annotations

from typing import Any

from govapp.suite import SuiteError, load_suite

from core.errors import ValidationError


def check_suite(document: Any) -> None:
    if not isinstance(document, dict):
        raise ValidationError("the acceptance suite must be a JSON object with suite, version, dataset, pass, cases",
                              errors={"suite": "not an object"})
    try:
        load_suite(document)
    except SuiteError as exc:
        raise ValidationError(f"the acceptance suite is invalid: {'; '.join(exc.problems[:5])}",
                              errors={"suite": exc.problems}) from exc


def vendor_view(document: dict) -> dict:
    """The suite without its hidden cases; hidden cases appear only as counts per category."""
    return load_suite(document).public().to_dict()
