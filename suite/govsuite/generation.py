"""Case generation: negative cases derived from the OpenAPI contract, the same for every vendor and run."""

from __future__ import annotations

import re
from collections.abc import Mapping
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


