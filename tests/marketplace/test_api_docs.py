"""docs/api.md stays true: its table of scopes per operation is the live document's, row for row."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
METHODS = {"get", "put", "post", "delete", "patch"}


def _token(operation: dict) -> str:
    security = operation.get("security")
    if security == []:
        return "public"
    if security and "clientSecretBasic" in security[0]:
        return "client id + secret (Basic)"
    scopes = [scope for requirement in security for scope in requirement.get("oauth2", [])]
    return " or ".join(f"`{s}`" for s in scopes) if scopes else "any token"


def test_the_scopes_table_is_the_documents(client):
    document = client.get("/api/openapi.json").json
    live = {(op["operationId"], f"{method.upper()} {path}", _token(op))
            for path, item in document["paths"].items() for method, op in item.items() if method in METHODS}
    rows = set(re.findall(r"^\| `(\w+)` \| `([A-Z]+ [^`]+)` \| (.+?) \|$", DOC.read_text("utf-8"), re.MULTILINE))
    assert rows - live == set(), "rows in docs/api.md the document does not have"
    assert live - rows == set(), "operations missing from docs/api.md"


def test_the_document_check_of_make_lint_finds_what_it_promises(client):
    import importlib.util

    spec = importlib.util.spec_from_file_location("openapi_document", DOC.parents[1] / "scripts" / "openapi_document.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    document = client.get("/api/openapi.json").json
    assert check.problems(document) == []
    operation = document["paths"]["/api/orders"]["get"]
    operation["operationId"], operation["summary"] = "getApiOrders", ""
    del operation["security"]
    document["components"]["schemas"]["OrderOut"]["properties"]["title"] = {"readOnly": True}
    found = "\n".join(check.problems(document))
    for expected in ("not <object>_<verb>", "no summary", "no security requirement", "OrderOut.title"):
        assert expected in found, found
