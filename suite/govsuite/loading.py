"""Loading a suite: the Suite document, its JSON Schema, parsing YAML or JSON, and validation naming every bad field."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from govsuite.errors import SuiteError
from govsuite.generation import generate_contract_cases, generate_delegation_case
from govsuite.model import Case
from govsuite.references import resolve_references


def suite_sha256(document: Mapping) -> str:
    """THE hash of a suite document, wherever it is shown (the order page, the certification report, the CLI):
    sha256 of ``json.dumps(document, sort_keys=True, ensure_ascii=False)`` in UTF-8 (docs/formats.md)."""
    return hashlib.sha256(json.dumps(document, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


@cache
def suite_schema() -> dict:
    """The JSON Schema of the suite format (suite/govsuite/suite.schema.json)."""
    return json.loads(resources.files("govsuite").joinpath("suite.schema.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Suite:
    name: str
    version: str
    dataset: dict
    pass_ratio: float
    latency_p95_ms: float
    cases: list[Case]
    generate: dict
    hidden_counts: dict
    raw: dict = field(compare=False)

    @classmethod
    def from_dict(cls, data: Mapping) -> Suite:
        return cls(
            name=data["suite"],
            version=str(data["version"]),
            dataset=dict(data["dataset"]),
            pass_ratio=float(data["pass"]["ratio"]),
            latency_p95_ms=float(data["pass"]["latency_p95_ms"]),
            cases=[Case.from_dict(c) for c in data["cases"]],
            generate=dict(data.get("generate") or {}),
            hidden_counts=dict(data.get("hidden_counts") or {}),
            raw=copy.deepcopy(dict(data)),
        )

    def resolve(self, scenarios: Mapping) -> Suite:
        """A copy with every `{{ scenarios.NAME.path }}` replaced from `scenarios` (raises SuiteError if unknown)."""
        return Suite.from_dict(resolve_references(self.raw, scenarios))

    def public(self) -> Suite:
        """The suite as a vendor sees it: public cases only, hidden ones counted per category."""
        data = copy.deepcopy(self.raw)
        counts: dict[str, int] = {}
        for case in data["cases"]:
            if case.get("visibility", "public") == "hidden":
                counts[case["category"]] = counts.get(case["category"], 0) + 1
        data["cases"] = [c for c in data["cases"] if c.get("visibility", "public") == "public"]
        data["hidden_counts"] = dict(sorted(counts.items()))
        return Suite.from_dict(data)

    def all_cases(self, contract: Mapping | None = None, *, department_scopes: Collection[str] = ()) -> list[Case]:
        """Written cases plus generated ones: from the contract when one is given (unless ``generate.enabled`` is
        false), and — when the order grants ``department_scopes`` (unless ``generate.delegation`` is false) — the
        hidden case that checks the app reads nothing outside its citizen's delegation."""
        cases = list(self.cases)
        if contract is not None and self.generate.get("enabled", True):
            cases += generate_contract_cases(
                contract,
                identity=self.generate.get("identity"),
                category=self.generate.get("category", "contract"),
                visibility=self.generate.get("visibility", "public"),
            )
        if department_scopes and self.generate.get("delegation", True):
            delegation_case = generate_delegation_case(self.cases)
            if delegation_case is not None:
                cases.append(delegation_case)
        return cases

    def to_dict(self) -> dict:
        return copy.deepcopy(self.raw)




def load_suite(source: str | bytes | Path | Mapping, *, name: str | None = None) -> Suite:
    """Parse (YAML or JSON) and validate a suite; raises SuiteError naming every bad field.

    `source` is a path, the text of the document, or an already parsed mapping.
    """
    label = name or "suite"
    if isinstance(source, Path):
        label = name or str(source)
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise SuiteError([f"cannot read {source}: {exc.strerror}"], label) from exc
        data = _parse_text(text, label)
    elif isinstance(source, bytes | str):
        text = source.decode("utf-8") if isinstance(source, bytes) else source
        data = _parse_text(text, label)
    else:
        data = copy.deepcopy(dict(source))
    validate_suite_data(data, label)
    return Suite.from_dict(data)


def _parse_text(text: str, label: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SuiteError([f"not valid YAML or JSON{where}: {getattr(exc, 'problem', exc)}"], label) from exc


def validate_suite_data(data: Any, label: str = "suite") -> None:
    """Check a parsed suite against the JSON Schema and the rules a schema cannot say (unique ids)."""
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise SuiteError([f"the document must be a mapping with suite, version, dataset, pass and cases, not {kind}"], label)
    validator = jsonschema.Draft202012Validator(suite_schema())
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        problems.append(f"{_field_name(error.absolute_path)}: {_error_message(error)}")
    seen: set[str] = set()
    for index, case in enumerate(data.get("cases") or []):
        case_id = case.get("id") if isinstance(case, dict) else None
        if isinstance(case_id, str):
            if case_id in seen:
                problems.append(f"cases[{index}].id: {case_id!r} is used by an earlier case; case ids must be unique")
            seen.add(case_id)
    if problems:
        raise SuiteError(problems, label)


def _field_name(path: Iterable) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _error_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field(s)")
    if error.validator == "not" and error.schema_path and "request" in str(list(error.schema_path)):
        return "give either json or body, not both"
    if error.validator == "oneOf" and "status" in [str(p) for p in error.absolute_path]:
        return (f"{error.instance!r} is not a status: use an integer such as 201, a list such as [200, 201] "
                f"or a class such as \"4xx\"")
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {error.validator_value}"
    return error.message

