"""Evaluation: judging one case from the app's response and the department calls it made."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jsonpath_ng.ext import parse as jsonpath_parse

from govsuite.contract import check_response_schema
from govsuite.model import _MISSING, Case


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
    kind: str  # status | json | jsonpath | schema | submission | violation | delegation | body | no_answer
    message: str
    # For kind delegation: what the app reached for, in words that hold nothing of the case (no identifier, no path)
    # — the one thing of a hidden case's failure a vendor is told (delegation_finding).
    finding: str = ""


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
            data["failures"] = [{"kind": f.kind, "message": f.message, **({"finding": f.finding} if f.finding else {})}
                                for f in self.failures]
            data["diff"] = self.diff()
        return data


# Department refusals (mockdata.delegation) a correct app meets when the request names someone the citizen may not
# act for: it asks, and answers the refusal.
NAMED_REFUSALS = frozenset({"not_delegated", "not_represented"})
_SUBJECT_PATH = re.compile(r"^/(?:persons|businesses)/([^/?]+)")


_FIELD_READ = re.compile(r"^/persons/[^/?]+/(licences|businesses)/?$")
# What each refusal (mockdata.delegation) says the app reached for. Only these fixed words and a field name from
# _FIELD_READ ever reach a finding: nothing the app or the case chose.
_FINDINGS = {
    "delegation_missing": "a department call without the department access token of the request being served",
    "delegation_invalid": "a department call with a token that is not the department access token it was given",
    "delegation_expired": "a department call with an expired department access token (not the current request's)",
    "delegation_superseded": "a department call with an old department access token (the citizen's consent changed)",
    "delegation_other_app": "a department call with another app's department access token",
    "not_represented": "the record of a business the citizen does not represent",
}


def delegation_finding(call: Mapping) -> str:
    """What a department call refused outside the delegation reached for, without any data of the case: which
    field the citizen did not consent to, or which kind of record (another person's, a business the citizen does not
    represent), or which kind of token. Safe to show a vendor for a hidden case."""
    refusal = str(call.get("refusal") or "")
    path = str(call.get("path") or "").split("?", 1)[0]
    if refusal == "field_not_consented":
        field_read = _FIELD_READ.match(path)
        if field_read:
            return f"the field {field_read.group(1)}, which the citizen did not consent to"
        return "a person record, though the citizen consented to none of their personal details"
    if refusal == "not_delegated":
        if str(call.get("method") or "").upper() == "POST" and path.startswith("/applications/"):
            return "an application for another person than the citizen (or a person in their care)"
        return "the record of another person than the citizen (or a person in their care)"
    return _FINDINGS.get(refusal, "a department call refused outside the delegation")


def _subjects_named(call: Mapping, named: str) -> bool:
    """Whether every person or business the refused call was about appears in the case's request."""
    found = _SUBJECT_PATH.match(str(call.get("path") or ""))
    subjects = [found.group(1)] if found else []
    body = call.get("json") if isinstance(call.get("json"), Mapping) else {}
    subjects += [str(body[k]) for k in ("applicant_resident_id", "guardian_resident_id", "credit_code") if body.get(k)]
    return bool(subjects) and all(s in named for s in subjects)


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
    # Outside the case citizen's delegation: no or a wrong token, an undeclared field, or another person or business
    # than the request named. Asking about whom the citizen named is how an app learns they may not act for them.
    request = case.request
    named = " ".join([request.path, json.dumps(request.query, ensure_ascii=False, default=str),
                      json.dumps(request.json if request.has_json else None, ensure_ascii=False, default=str),
                      request.body or ""])
    for call in department_calls:
        refusal = call.get("refusal")
        if refusal and not (refusal in NAMED_REFUSALS and _subjects_named(call, named)):
            failures.append(Failure("delegation", f"{call.get('method', '?')} {call.get('path', '?')} was refused "
                                                  f"({refusal}): the app read outside the case citizen's delegation",
                                    delegation_finding(call)))

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


