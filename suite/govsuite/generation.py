"""Case generation, the same for every vendor and run: negative cases derived from the OpenAPI contract, and the
hidden case that checks an app reads nothing outside its citizen's delegation."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from govsuite.contract import _deref
from govsuite.model import Case

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


DELEGATION_CASE_ID = "delegation:required-fields-only"
DELEGATION_CATEGORY = "delegation"
# A resident ID (GB 11643) anywhere in a request: 17 digits and a check character, not inside a longer token.
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")


def generate_delegation_case(cases: Sequence[Case]) -> Case | None:
    """The hidden case that checks the app reads nothing outside its citizen's delegation, or None when no written
    case can carry it.

    It repeats the request of a written case the citizen is served in (an identity with a resident ID, a 2xx
    expected) whose request names no other person's resident ID — preferring a public case, then one that submits an
    application, then the first — from a citizen who consented only to the app's *required* fields
    (``consent: required``: the optional ones withheld, as on a consent screen left as it came). It expects the
    same status (an optional field is one the app works without) and, like every case, fails on a department
    refusal outside the delegation: a field withheld, another person's record, a business the citizen does not
    represent. It is hidden, so it runs in the fresh instance after the public cases; its id and category are
    fixed, and the reason a vendor is shown when it fails names only the kind of read (``delegation_finding``).
    """
    if any(case.id == DELEGATION_CASE_ID for case in cases):
        return None
    candidates = []
    for index, case in enumerate(cases):
        resident_id = str((case.identity or {}).get("resident_id") or "")
        if not resident_id or not _only_success(case.expect.get("status")) or _names_someone_else(case, resident_id):
            continue
        submits = any(int(s.get("count", 1)) >= 1 for s in case.submissions)
        candidates.append(((case.visibility != "public", not submits, index), case))
    if not candidates:
        return None
    source = min(candidates, key=lambda pair: pair[0])[1]
    return Case.from_dict({
        "id": DELEGATION_CASE_ID,
        "category": DELEGATION_CATEGORY,
        "visibility": "hidden",
        "consent": "required",
        "description": "A request the citizen is served in, from a citizen who consented only to the app's required "
                       "department fields: the app reads nothing outside that delegation (no withheld field, no other "
                       "person's record, no business the citizen does not represent) and still serves them.",
        "identity": dict(source.identity or {}),
        "request": source.raw["request"],
        "expect": {"status": source.expect["status"]},
    }, generated=True)


def _only_success(status: Any) -> bool:
    if isinstance(status, bool):
        return False
    if isinstance(status, int):
        return 200 <= status < 300
    if isinstance(status, list):
        return bool(status) and all(isinstance(s, int) and 200 <= s < 300 for s in status)
    return status == "2xx"


def _names_someone_else(case: Case, resident_id: str) -> bool:
    request = case.raw.get("request") or {}
    text = json.dumps([request.get(k) for k in ("path", "query", "json", "body")], ensure_ascii=False, default=str)
    return any(found.upper() != resident_id.upper() for found in _RESIDENT_ID.findall(text))


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


