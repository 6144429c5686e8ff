"""Write the REST API's OpenAPI document, as /api/openapi.json serves it, to a file and validate it.

`make lint` runs this, then Spectral on the file. Checks beyond the OpenAPI 3.0 schema (openapi-spec-validator):
every operation has an operationId named ``<object>_<verb>`` and a summary, every property a type, every
operation a security requirement (``[]`` when public). Usage: python scripts/openapi_document.py OUT.json"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

from openapi_spec_validator import validate

OPERATION_ID = re.compile(r"^[a-z]+(_[a-z]+)+$")
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def document() -> dict:
    from marketplace.app import create_app

    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "INSTANCE_PATH": instance,
                          "BUNDLE_STORE": str(Path(instance) / "bundles")})
        return app.test_client().get("/api/openapi.json").get_json()


def problems(spec: dict) -> list[str]:
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            if not OPERATION_ID.match(operation.get("operationId", "")):
                found.append(f"{where}: operationId {operation.get('operationId')!r} is not <object>_<verb>")
            if not operation.get("summary"):
                found.append(f"{where}: no summary (the first line of the view's docstring)")
            if "security" not in operation:
                found.append(f"{where}: no security requirement")

    def walk(node, where):
        if isinstance(node, dict):
            for name, prop in (node.get("properties") or {}).items():
                if isinstance(prop, dict) and not ({"type", "$ref", "allOf", "anyOf", "oneOf"} & prop.keys()):
                    found.append(f"{where}.{name}: property without a type")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for value in node:
                walk(value, where)

    walk(spec.get("components", {}), "#/components")
    return found


def main(out: str) -> int:
    spec = document()
    validate(spec)
    found = problems(spec)
    for line in found:
        print(line, file=sys.stderr)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(spec, indent=1, ensure_ascii=False), "utf-8")
    operations = sum(1 for item in spec["paths"].values() for m in item if m in METHODS)
    print(f"{out}: valid OpenAPI {spec['openapi']}, {operations} operations, {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
