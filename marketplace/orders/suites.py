"""Acceptance suites on the platform side: validation by the SDK's one definition of the format
(``govsuite``), and the view vendors get, which never contains a hidden case."""

from __future__ import annotations

from typing import Any

from govsuite import SuiteError, load_suite

from core.errors import ValidationError
from mockdata.specs import get_spec


def check_suite(document: Any) -> None:
    if not isinstance(document, dict):
        raise ValidationError("the acceptance suite must be a JSON object with suite, version, dataset, pass, cases",
                              errors={"suite": "not an object"})
    try:
        load_suite(document)
    except SuiteError as exc:
        raise ValidationError(f"the acceptance suite is invalid: {'; '.join(exc.problems[:5])}",
                              errors={"suite": exc.problems}) from exc
    _check_dataset(document["dataset"])


def _check_dataset(dataset: dict) -> None:
    """The simulated department service must be able to serve the suite's dataset; otherwise every certification
    against it would end in an infrastructure error after its retries, blaming no one."""
    try:
        spec = get_spec(dataset["spec"])
        if "size" in dataset:
            spec.check_size(dataset["size"])
    except (KeyError, ValueError) as exc:
        problem = str(exc.args[0])
        raise ValidationError(f"the acceptance suite is invalid: dataset: {problem}", errors={"suite": [problem]}) from exc
    except RuntimeError:  # the host's data generator changed: a platform problem, reported when the service starts
        pass


def vendor_view(document: dict) -> dict:
    """The suite without its hidden cases; hidden cases appear only as counts per category."""
    return load_suite(document).public().to_dict()
