"""Contract checks: which OpenAPI operation serves a request, and whether a response matches its schema."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from govsuite.model import Request


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


