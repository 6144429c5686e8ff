"""The acceptance suite format: loading, validation, scenario references, case evaluation, the pass rule.

This module is THE definition of the suite format. `govapp test` and the platform's sandbox harness both
import it, so an app is judged the same way on a vendor's laptop and in certification. It is pure (no
network, no processes, no files except what the caller hands in) and needs only PyYAML, jsonschema and
jsonpath-ng.

The flow of one run::

    suite = load_suite(path_or_text).resolve(scenarios)          # {{ scenarios.X.y }} -> values
    for case in suite.all_cases(contract):                        # written + generated cases
        for request in case.requests():                           # `repeat` sends a request again
            response = <send request, measure latency>            # the caller's transport
        result = evaluate_case(case, response, calls_during_case, contract)
    run = SuiteRun(suite, results); run.passed

The JSON Schema of the format is `suite.schema.json` beside this file; docs/suite-format.md explains it.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonpath_ng.ext import parse as jsonpath_parse
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "Case",
    "CaseResult",
    "Failure",
    "HttpResponse",
    "Request",
    "Suite",
    "SuiteError",
    "SuiteRun",
    "evaluate_case",
    "find_operation",
    "generate_contract_cases",
    "json_subset_mismatches",
    "load_suite",
    "resolve_references",
    "suite_schema",
]

_REFERENCE = re.compile(r"\{\{\s*scenarios\.([A-Za-z0-9_\-]+)((?:\.[A-Za-z0-9_\-]+)*)\s*\}\}")
_MISSING = object()


class SuiteError(ValueError):
    """A suite that does not follow the format; `problems` lists each bad field."""

    def __init__(self, problems: Sequence[str], source: str = "suite"):
        self.problems = list(problems)
        super().__init__(f"{source} is not a valid suite:\n" + "\n".join(f"  - {p}" for p in self.problems))


@cache
def suite_schema() -> dict:
    """The JSON Schema of the suite format (suite/govsuite/suite.schema.json)."""
    return json.loads(resources.files("govsuite").joinpath("suite.schema.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    json: Any = _MISSING
    body: str | None = None

    @property
    def has_json(self) -> bool:
        return self.json is not _MISSING

    def body_bytes(self) -> bytes | None:
        """The bytes to send: the JSON body, the raw body, or None."""
        if self.has_json:
            return json.dumps(self.json, ensure_ascii=False).encode("utf-8")
        if self.body is not None:
            return self.body.encode("utf-8")
        return None

    def content_type(self) -> str | None:
        if self.has_json or self.body is not None:
            return self.headers.get("Content-Type") or "application/json"
        return None

    def target(self) -> str:
        """Path plus the encoded query string."""
        if not self.query:
            return self.path
        from urllib.parse import urlencode

        return self.path + "?" + urlencode({k: _query_value(v) for k, v in sorted(self.query.items())})


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Case:
    """One acceptance case. `raw` is the case as written (after scenario resolution)."""

    id: str
    category: str
    visibility: str
    request: Request
    repeat: int
    expect: dict
    submissions: list
    identity: dict | None
    description: str = ""
    generated: bool = False
    raw: dict = field(default_factory=dict, compare=False)

    def requests(self) -> list[Request]:
        """The requests to send, in order; the last response is the one the expectations judge."""
        return [self.request] * self.repeat

    @classmethod
    def from_dict(cls, data: Mapping, generated: bool = False) -> Case:
        req = data["request"]
        request = Request(
            method=req["method"],
            path=req["path"],
            query=dict(req.get("query") or {}),
            headers=dict(req.get("headers") or {}),
            json=copy.deepcopy(req["json"]) if "json" in req else _MISSING,
            body=req.get("body"),
        )
        return cls(
            id=data["id"],
            category=data["category"],
            visibility=data.get("visibility", "public"),
            request=request,
            repeat=int(req.get("repeat", 1)),
            expect=copy.deepcopy(dict(data["expect"])),
            submissions=copy.deepcopy(list(data.get("submissions") or [])),
            identity=copy.deepcopy(data.get("identity")),
            description=data.get("description", ""),
            generated=generated,
            raw=copy.deepcopy(dict(data)),
        )


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

    def all_cases(self, contract: Mapping | None = None) -> list[Case]:
        """Written cases plus, when a contract is given and generation is not disabled, generated ones."""
        cases = list(self.cases)
        if contract is not None and self.generate.get("enabled", True):
            cases += generate_contract_cases(
                contract,
                identity=self.generate.get("identity"),
                category=self.generate.get("category", "contract"),
                visibility=self.generate.get("visibility", "public"),
            )
        return cases

    def to_dict(self) -> dict:
        return copy.deepcopy(self.raw)


# --------------------------------------------------------------------------------------------- loading


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


# --------------------------------------------------------------------------------------------- references


def resolve_references(value: Any, scenarios: Mapping, *, where: str = "") -> Any:
    """Replace `{{ scenarios.NAME.dotted.path }}` throughout `value`.

    A string that is exactly one reference becomes the referenced value with its type (a number stays a
    number); a reference inside a longer string is interpolated as text.
    """
    if isinstance(value, dict):
        return {k: resolve_references(v, scenarios, where=f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_references(v, scenarios, where=f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str) or "{{" not in value:
        return value
    whole = _REFERENCE.fullmatch(value.strip())
    if whole:
        return _lookup(scenarios, whole.group(1), whole.group(2), where)
    return _REFERENCE.sub(lambda m: str(_lookup(scenarios, m.group(1), m.group(2), where)), value)


def _lookup(scenarios: Mapping, name: str, dotted: str, where: str) -> Any:
    if name not in scenarios:
        known = ", ".join(sorted(scenarios)) or "none"
        raise SuiteError([f"{where}: unknown scenario {name!r} (the dataset has: {known})"])
    node: Any = scenarios[name]
    walked = f"scenarios.{name}"
    for part in [p for p in dotted.split(".") if p]:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            keys = ", ".join(sorted(map(str, node))) if isinstance(node, Mapping) else type(node).__name__
            raise SuiteError([f"{where}: {walked} has no {part!r} (it has: {keys})"])
        walked += f".{part}"
    return node


# --------------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class HttpResponse:
    """What the app answered: status, headers, raw body and how long it took."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    latency_ms: float = 0.0

    def json(self) -> Any:
        """The decoded JSON body; raises ValueError if the body is not JSON."""
        return json.loads(self.body.decode("utf-8"))

    @classmethod
    def coerce(cls, response: Any) -> HttpResponse:
        if isinstance(response, HttpResponse):
            return response
        if isinstance(response, Mapping):
            body = response.get("body", b"")
            if "json" in response and not body:
                body = json.dumps(response["json"], ensure_ascii=False)
            if isinstance(body, str):
                body = body.encode("utf-8")
            return cls(int(response["status"]), dict(response.get("headers") or {}), body or b"",
                       float(response.get("latency_ms") or 0.0))
        return cls(int(response.status), dict(getattr(response, "headers", {}) or {}),
                   getattr(response, "body", b"") or b"", float(getattr(response, "latency_ms", 0.0) or 0.0))


@dataclass(frozen=True)
class Failure:
    kind: str  # status | json | jsonpath | schema | submission | violation | body
    message: str


@dataclass
class CaseResult:
    case_id: str
    category: str
    visibility: str
    passed: bool
    status: int | None
    latency_ms: float
    failures: list[Failure] = field(default_factory=list)
    violations: list[dict] = field(default_factory=list)
    body_excerpt: str = ""
    verdict: str | None = None  # a resource verdict set by a harness (timeout, crashed, ...); a verdict fails the case

    def diff(self) -> str:
        """A readable explanation of why the case failed ('' when it passed)."""
        if self.passed:
            return ""
        lines = [f"✗ {self.case_id} [{self.category}] — status {self.status}, {self.latency_ms:.0f} ms"]
        if self.verdict:
            lines.append(f"    verdict: {self.verdict}")
        for failure in self.failures:
            for i, line in enumerate(failure.message.splitlines()):
                lines.append(("    " if i == 0 else "      ") + (f"{failure.kind}: " if i == 0 else "") + line)
        if self.body_excerpt:
            lines.append("    response body: " + self.body_excerpt)
        return "\n".join(lines)

    def to_dict(self, with_diff: bool = True) -> dict:
        data = {
            "case_id": self.case_id,
            "category": self.category,
            "visibility": self.visibility,
            "passed": self.passed,
            "status": self.status,
            "latency_ms": round(self.latency_ms, 3),
            "violations": len(self.violations),
            "verdict": self.verdict,
        }
        if with_diff:
            data["failures"] = [{"kind": f.kind, "message": f.message} for f in self.failures]
            data["diff"] = self.diff()
        return data


def evaluate_case(case: Case, response: Any, department_calls: Sequence[Mapping], contract: Mapping | None = None) -> CaseResult:
    """Judge one case from the app's (last) response and the department calls the app made during the case.

    `response` is an HttpResponse or a mapping {status, headers, body, latency_ms}; `department_calls` are the
    simulated department service's records ({method, path, json, violation, ...}) for this case only.
    """
    resp = HttpResponse.coerce(response)
    failures: list[Failure] = []
    expect = case.expect

    if not status_matches(expect["status"], resp.status):
        failures.append(Failure("status", f"expected {describe_status(expect['status'])}, got {resp.status}"))

    needs_json = "json" in expect or expect.get("jsonpath") or expect.get("schema")
    document: Any = _MISSING
    if needs_json:
        try:
            document = resp.json()
        except (ValueError, UnicodeDecodeError):
            content_type = resp.headers.get("Content-Type", "unset")
            failures.append(Failure("body", f"the response is not JSON (Content-Type {content_type!r})"))

    if document is not _MISSING:
        if "json" in expect:
            mismatches = json_subset_mismatches(expect["json"], document)
            if mismatches:
                failures.append(Failure("json", "response JSON differs from the expected subset:\n" + "\n".join(mismatches)))
        for assertion in expect.get("jsonpath") or []:
            problem = check_jsonpath(assertion, document)
            if problem:
                failures.append(Failure("jsonpath", problem))
        if expect.get("schema"):
            problem = check_response_schema(contract, case.request, resp.status, document)
            if problem:
                failures.append(Failure("schema", problem))

    for expected in case.submissions:
        problem = check_submission(expected, department_calls)
        if problem:
            failures.append(Failure("submission", problem))

    violations = [dict(c) for c in department_calls if c.get("violation")]
    for call in violations:
        failures.append(Failure("violation", f"{call.get('method', '?')} {call.get('path', '?')} needs scope "
                                             f"{call.get('scope')!r}, which the order does not grant"))

    return CaseResult(
        case_id=case.id,
        category=case.category,
        visibility=case.visibility,
        passed=not failures,
        status=resp.status,
        latency_ms=resp.latency_ms,
        failures=failures,
        violations=violations,
        body_excerpt=_excerpt(resp.body) if failures else "",
    )


def status_matches(expected: Any, actual: int) -> bool:
    if isinstance(expected, int):
        return actual == expected
    if isinstance(expected, list):
        return actual in expected
    return str(actual)[0] == str(expected)[0] and len(str(actual)) == 3


def describe_status(expected: Any) -> str:
    if isinstance(expected, list):
        return "one of " + ", ".join(map(str, expected))
    return str(expected)


def _excerpt(body: bytes, limit: int = 400) -> str:
    text = body.decode("utf-8", errors="replace")
    try:  # JSON is shown with its Chinese readable, not as \u escapes
        text = json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        pass
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 200 else text[:200] + "…"


def _same_scalar(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual
    return type(expected) is type(actual) and expected == actual


def json_subset_mismatches(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Lines naming each place where `actual` does not contain `expected`.

    Objects: every expected key must be present and match (extra keys are fine). Arrays: same length,
    matched element by element. Scalars: equal (1 == 1.0, but True is not 1).
    """
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"  {path}: expected an object, got {_show(actual)}"]
        lines = []
        for key, value in expected.items():
            sub = f"{path}.{key}"
            if key not in actual:
                lines.append(f"  {sub}: missing (expected {_show(value)})")
            else:
                lines += json_subset_mismatches(value, actual[key], sub)
        return lines
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"  {path}: expected an array, got {_show(actual)}"]
        if len(expected) != len(actual):
            return [f"  {path}: expected {len(expected)} item(s), got {len(actual)}: {_show(actual)}"]
        lines = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            lines += json_subset_mismatches(e, a, f"{path}[{i}]")
        return lines
    if not _same_scalar(expected, actual):
        return [f"  {path}: expected {_show(expected)}, got {_show(actual)}"]
    return []


def _equal(a: Any, b: Any) -> bool:
    return not json_subset_mismatches(a, b) and not json_subset_mismatches(b, a)


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def check_jsonpath(assertion: Mapping, document: Any) -> str | None:
    """None if the JSONPath assertion holds, else a sentence saying what was expected and found."""
    path = assertion["path"]
    try:
        matches = [m.value for m in jsonpath_parse(path).find(document)]
    except Exception as exc:  # jsonpath-ng raises plain Exceptions as well as JsonPathParserError for bad syntax
        return f"{path}: not a valid JSONPath expression ({exc})"
    found = matches[0] if len(matches) == 1 else matches
    shown = _show(found) if matches else "nothing"

    if "exists" in assertion:
        if bool(matches) != assertion["exists"]:
            return f"{path}: expected {'a value' if assertion['exists'] else 'no value'}, found {shown}"
    if not matches and any(k in assertion for k in ("equals", "contains", "length", "matches", "one_of", "type")):
        return f"{path}: expected a value, found nothing"
    if "equals" in assertion and not _equal(assertion["equals"], found):
        return f"{path}: expected {_show(assertion['equals'])}, found {shown}"
    if "not_equals" in assertion and matches and _equal(assertion["not_equals"], found):
        return f"{path}: expected anything but {_show(assertion['not_equals'])}, found it"
    if "contains" in assertion:
        needle = assertion["contains"]
        if isinstance(found, str) and isinstance(needle, str) and len(matches) == 1:
            ok = needle in found
        else:
            pool = found if len(matches) == 1 and isinstance(found, list) else matches
            ok = any(not json_subset_mismatches(needle, item) for item in pool)
        if not ok:
            return f"{path}: expected to contain {_show(needle)}, found {shown}"
    if "length" in assertion:
        size = len(found) if len(matches) == 1 and isinstance(found, list | str | dict) else len(matches)
        if size != assertion["length"]:
            return f"{path}: expected length {assertion['length']}, found {size}: {shown}"
    if "matches" in assertion:
        values = matches if len(matches) > 1 else [found]
        bad = [v for v in values if not isinstance(v, str) or not re.search(assertion["matches"], v)]
        if bad:
            return f"{path}: expected to match /{assertion['matches']}/, found {_show(bad[0])}"
    if "one_of" in assertion and found not in assertion["one_of"]:
        return f"{path}: expected one of {_show(assertion['one_of'])}, found {shown}"
    if "type" in assertion:
        values = matches if len(matches) > 1 else [found]
        if not all(_TYPES[assertion["type"]](v) for v in values):
            return f"{path}: expected type {assertion['type']}, found {shown}"
    return None


def check_submission(expected: Mapping, calls: Sequence[Mapping]) -> str | None:
    """None if the app made the expected department calls, else what it did instead."""
    method = expected.get("method", "POST").upper()
    want = expected.get("count", 1)
    same_route = [c for c in calls if str(c.get("method", "")).upper() == method and _call_path(c) == expected["path"]]
    if "json" in expected:
        matching = [c for c in same_route if not json_subset_mismatches(expected["json"], _call_json(c))]
    else:
        matching = same_route
    if len(matching) == want:
        return None
    message = f"expected {want} {method} {expected['path']} call(s) to the department"
    if "json" in expected:
        message += f" with body containing {_show(expected['json'])}"
    message += f", the app made {len(matching)}"
    if len(same_route) != len(matching):
        message += f" ({len(same_route)} to that path in all)"
        for call in same_route[:3]:
            diff = json_subset_mismatches(expected["json"], _call_json(call))
            if diff:
                message += "\n  one of them differs:\n" + "\n".join("  " + line for line in diff)
                break
    others = sorted({f"{c.get('method')} {_call_path(c)}" for c in calls} - {f"{method} {expected['path']}"})
    if others:
        message += "\n  other department calls: " + ", ".join(others)
    return message


def _call_path(call: Mapping) -> str:
    return str(call.get("path", "")).split("?", 1)[0]


def _call_json(call: Mapping) -> Any:
    for key in ("json", "body"):
        if key in call:
            value = call[key]
            if isinstance(value, bytes | str):
                try:
                    return json.loads(value)
                except ValueError:
                    return value
            return value
    return None


# --------------------------------------------------------------------------------------------- contract


def find_operation(contract: Mapping, method: str, path: str) -> tuple[str, dict] | None:
    """The (path template, operation object) of the contract serving `method path`, or None."""
    path = path.split("?", 1)[0]
    paths = contract.get("paths") or {}
    # Literal templates win over parameterised ones, as in routing.
    for template in sorted(paths, key=lambda t: (t.count("{"), t)):
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            operation = (paths[template] or {}).get(method.lower())
            if operation is not None:
                return template, operation
    return None


def _registry(contract: Mapping) -> Registry:
    resource = Resource.from_contents(dict(contract), default_specification=DRAFT202012)
    return Registry().with_resource("urn:govapp:contract", resource)


def _pointer_escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def check_response_schema(contract: Mapping | None, request: Request, status: int, document: Any) -> str | None:
    """None if the response conforms to the contract's JSON schema for (operation, status), else why not."""
    if contract is None:
        return "the case asks for schema validation but no contract was given"
    found = find_operation(contract, request.method, request.path)
    if found is None:
        return f"the contract has no operation {request.method} {request.path}"
    template, operation = found
    responses = operation.get("responses") or {}
    key = next((k for k in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default") if k in responses), None)
    if key is None:
        return f"the contract declares no response {status} for {request.method} {template} (declared: {', '.join(responses)})"
    response = responses[key]
    if "$ref" in response:
        response = _deref(contract, response["$ref"])
    content = (response.get("content") or {}) if isinstance(response, Mapping) else {}
    media = next((m for m in content if m.split(";")[0].strip() in ("application/json", "application/problem+json")), None)
    if media is None or "schema" not in content[media]:
        return None  # nothing declared to validate against
    pointer = "/".join(["#", "paths", _pointer_escape(template), request.method.lower(), "responses", _pointer_escape(key)])
    if "$ref" in responses[key]:
        pointer = responses[key]["$ref"]
    pointer += "/content/" + _pointer_escape(media) + "/schema"
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": "urn:govapp:contract" + pointer}
    validator = jsonschema.Draft202012Validator(schema, registry=_registry(contract))
    errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return None
    lines = [f"the response does not match the contract's schema for {status} of {request.method} {template}:"]
    for error in errors[:5]:
        lines.append(f"  {_json_path(error.absolute_path)}: {error.message}")
    if len(errors) > 5:
        lines.append(f"  … and {len(errors) - 5} more")
    return "\n".join(lines)


def _json_path(parts: Iterable) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _deref(contract: Mapping, ref: str) -> Any:
    node: Any = contract
    for token in ref.lstrip("#/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


_WRONG_VALUE = {"string": 12345, "integer": "not-a-number", "number": "not-a-number", "boolean": "not-a-boolean",
                "array": "not-an-array", "object": "not-an-object"}


def generate_contract_cases(contract: Mapping, *, identity: Mapping | None = None, category: str = "contract",
                            visibility: str = "public") -> list[Case]:
    """Cases derived from the OpenAPI contract, in the manner of schemathesis' negative testing.

    For every JSON request body: an empty object, a body that is not JSON, each required field missing and
    each typed field given the wrong type must all be answered with a 4xx (never a 5xx) whose body matches
    the contract's schema for that status. For every path with parameters: an identifier that cannot exist
    must give a 4xx. The cases are deterministic, so every vendor and every run sees the same ones.
    """
    cases: list[dict] = []
    for template, item in sorted((contract.get("paths") or {}).items()):
        for method in ("get", "post", "put", "patch", "delete"):
            operation = (item or {}).get(method)
            if operation is None:
                continue
            op_id = operation.get("operationId") or f"{method}{re.sub(r'[^A-Za-z0-9]+', '-', template)}".strip("-")
            path = re.sub(r"\{[^/]+?\}", "govapp-contract-probe-0000", template)

            def add(suffix: str, description: str, request: dict, op_id=op_id, method=method, path=path) -> None:
                case = {
                    "id": f"contract:{op_id}:{suffix}",
                    "category": category,
                    "visibility": visibility,
                    "description": description,
                    "request": {"method": method.upper(), "path": path, **request},
                    "expect": {"status": "4xx", "schema": True},
                }
                if identity is not None:
                    case["identity"] = dict(identity)
                cases.append(case)

            if "{" in template and method in ("get", "delete"):
                add("unknown-id", f"{method.upper()} {template} with an identifier that does not exist", {})
            body_schema = _json_body_schema(contract, operation)
            if body_schema is None:
                continue
            add("empty-body", f"{method.upper()} {template} with an empty JSON object", {"json": {}})
            add("not-json", f"{method.upper()} {template} with a body that is not JSON", {"body": "{not json"})
            properties = body_schema.get("properties") or {}
            required = [r for r in body_schema.get("required") or [] if r in properties]
            example = {name: _example_value(contract, properties[name]) for name in required}
            for name in required:
                partial = {k: v for k, v in example.items() if k != name}
                add(f"missing-{name}", f"{method.upper()} {template} without the required field {name}", {"json": partial})
            for name, prop in sorted(properties.items()):
                prop = _resolve_schema(contract, prop)
                kind = prop.get("type")
                if isinstance(kind, list):
                    kind = next((k for k in kind if k != "null"), None)
                if kind in _WRONG_VALUE:
                    add(f"wrong-type-{name}", f"{method.upper()} {template} with {name} of the wrong type",
                        {"json": {**example, name: _WRONG_VALUE[kind]}})
    return [Case.from_dict(c, generated=True) for c in cases]


def _resolve_schema(contract: Mapping, schema: Any) -> dict:
    seen = 0
    while isinstance(schema, Mapping) and "$ref" in schema and seen < 20:
        schema = _deref(contract, schema["$ref"])
        seen += 1
    return dict(schema) if isinstance(schema, Mapping) else {}


def _json_body_schema(contract: Mapping, operation: Mapping) -> dict | None:
    body = operation.get("requestBody")
    if not body:
        return None
    body = _resolve_schema(contract, body)
    content = body.get("content") or {}
    media = next((m for m in content if m.split(";")[0].strip() == "application/json"), None)
    if media is None:
        return None
    schema = _resolve_schema(contract, content[media].get("schema") or {})
    return schema if schema.get("type", "object") == "object" else None


def _example_value(contract: Mapping, schema: Any) -> Any:
    """A plausible, schema-valid value (used to fill the other fields of a negative case)."""
    schema = _resolve_schema(contract, schema)
    if "example" in schema:
        return schema["example"]
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "array":
        items = schema.get("items") or {}
        return [_example_value(contract, items)] * max(1, int(schema.get("minItems", 1)))
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: _example_value(contract, props[k]) for k in schema.get("required") or [] if k in props}
    return "x" * max(1, int(schema.get("minLength", 1)))


# --------------------------------------------------------------------------------------------- run summary


def p95(latencies: Sequence[float]) -> float:
    """The 95th percentile by the nearest-rank method (0 for no samples)."""
    if not latencies:
        return 0.0
    ordered = sorted(latencies)
    return float(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)])


@dataclass
class SuiteRun:
    """The results of one run of a suite and the pass rule: ratio ≥ threshold, p95 ≤ limit, no scope violation."""

    suite: Suite
    results: list[CaseResult]

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def passed_count(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def ratio(self) -> float:
        return self.passed_count / self.total if self.total else 0.0

    @property
    def latency_p95_ms(self) -> float:
        return p95([r.latency_ms for r in self.results])

    @property
    def violations(self) -> int:
        return sum(len(r.violations) for r in self.results)

    @property
    def reasons(self) -> list[str]:
        """Why the run does not pass ([] when it passes)."""
        out = []
        if self.total == 0:
            out.append("no case was run")
        if self.ratio < self.suite.pass_ratio:
            out.append(f"pass ratio {self.ratio:.1%} is below the required {self.suite.pass_ratio:.1%}")
        if self.latency_p95_ms > self.suite.latency_p95_ms:
            out.append(f"latency p95 {self.latency_p95_ms:.0f} ms is above the limit of {self.suite.latency_p95_ms:.0f} ms")
        if self.violations:
            out.append(f"{self.violations} department call(s) outside the granted scopes")
        return out

    @property
    def passed(self) -> bool:
        return not self.reasons

    def by_category(self) -> dict[str, tuple[int, int]]:
        """category -> (passed, total)."""
        out: dict[str, tuple[int, int]] = {}
        for r in self.results:
            ok, total = out.get(r.category, (0, 0))
            out[r.category] = (ok + r.passed, total + 1)
        return dict(sorted(out.items()))

    def summary(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        line = (f"{verdict}: {self.passed_count}/{self.total} cases ({self.ratio:.1%}, need {self.suite.pass_ratio:.0%}), "
                f"p95 {self.latency_p95_ms:.0f} ms (limit {self.suite.latency_p95_ms:.0f} ms), "
                f"{self.violations} scope violation(s)")
        return line + "".join(f"\n  - {r}" for r in self.reasons)

    def to_dict(self, public_diffs_only: bool = True) -> dict:
        return {
            "suite": self.suite.name,
            "suite_version": self.suite.version,
            "passed": self.passed,
            "pass_ratio": round(self.ratio, 6),
            "required_ratio": self.suite.pass_ratio,
            "latency_p95_ms": round(self.latency_p95_ms, 3),
            "latency_limit_ms": self.suite.latency_p95_ms,
            "violations": self.violations,
            "reasons": self.reasons,
            "by_category": {k: {"passed": v[0], "total": v[1]} for k, v in self.by_category().items()},
            "cases": [r.to_dict(with_diff=(r.visibility == "public" or not public_diffs_only)) for r in self.results],
        }
