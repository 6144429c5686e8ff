"""The SDK's API client (sdk/govapp/client.py) is written by hand — it streams uploads, pages lazily, polls
certification — and checked here against the live OpenAPI document, so it cannot drift from it (docs/api.md,
"Clients"): every request it makes is an operation of the document with that method, and every query parameter
it sends is one the operation declares."""

from __future__ import annotations

import ast
import re
from pathlib import Path

CLIENT = Path(__file__).resolve().parents[2] / "sdk" / "govapp" / "client.py"
METHODS = {"get", "put", "post", "delete", "patch"}


def _text(node) -> str | None:
    """A path literal or f-string with every placeholder as {}."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)
    return None


def _requests() -> list[tuple[str, str, set[str]]]:
    """(method, path, query parameter names) of every request the client makes."""
    found = []
    for node in ast.walk(ast.parse(CLIENT.read_text("utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name, args = node.func.attr, node.args
        if name in {"_json", "_request"} and len(args) >= 2 and _text(args[0]) and _text(args[1]):
            method, path, params = _text(args[0]), _text(args[1]), set()
            for keyword in node.keywords:
                if keyword.arg == "params" and isinstance(keyword.value, ast.Dict):
                    params = {k.value for k in keyword.value.keys if isinstance(k, ast.Constant)}
            found.append((method.lower(), path, params))
        elif name in {"_page", "_iterate"} and args and _text(args[0]):
            params = {k.value for k in args[1].keys if isinstance(k, ast.Constant)} if (
                len(args) > 1 and isinstance(args[1], ast.Dict)) else set()
            found.append(("get", _text(args[0]), params | {"page"}))
        elif name == "post" and args and _text(args[0]) == "/oauth/token":
            found.append(("post", "/oauth/token", set()))
    return [(m, p, q) for m, p, q in found if p.startswith(("/api/", "/oauth/"))]


def test_every_request_of_the_sdk_client_is_an_operation_of_the_document(client):
    document = client.get("/api/openapi.json").json
    templates = {re.sub(r"\{[^}]+\}", "{}", path): item for path, item in document["paths"].items()}
    requests = _requests()
    assert len(requests) >= 20, requests
    for method, path, params in requests:
        item = templates.get(path)
        assert item is not None, f"the SDK calls {path}, which the document does not have"
        assert method in item, f"the SDK calls {method.upper()} {path}; the document has {sorted(set(item) & METHODS)}"
        declared = {p["name"] for p in item[method].get("parameters", []) if p["in"] == "query"}
        assert params <= declared, f"{method.upper()} {path}: the SDK sends {params - declared}, undeclared"
