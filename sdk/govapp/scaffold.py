"""`govapp init`: a new app folder for an order, from the template in govapp/templates/app.

The app module is generated from the order's contract: one Flask route per operation, each already
checking the citizen's identity and parsing the JSON body, answering 501 until the vendor writes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import yaml
from govsuite import Suite

__all__ = ["ScaffoldError", "create_app_folder", "render_app_module"]


class ScaffoldError(Exception):
    """The folder cannot be created (not empty, bad name); the message says what to do."""


_MODULE_HEAD = '''"""__TITLE__ — an app for the order "__ORDER__".

The platform runs this WSGI app with `python -m govapp.serve`; `govapp test` does the same locally.
The citizen's identity arrives as a platform-signed JWT (govapp.identity); department data and the
submission go through govapp.department. The contract is contract.openapi.yaml.
"""

from flask import Flask, jsonify, request

from govapp.department import DepartmentClient, DepartmentError
from govapp.identity import IdentityError, identity_from_environ

app = Flask(__name__)


def problem(status, error, detail, **extra):
    return jsonify({"error": error, "detail": detail, **extra}), status


def citizen():
    """The verified citizen, or an IdentityError (answered with 401 below)."""
    return identity_from_environ(request.environ)


def department():
    return DepartmentClient.from_env()


@app.errorhandler(IdentityError)
def unauthenticated(error):
    return problem(401, "unauthenticated", str(error))


@app.errorhandler(DepartmentError)
def department_failed(error):
    return problem(502, "department_unavailable", f"the department service failed: {error.detail}")


@app.get("/")
def index():
    return app.send_static_file("index.html")
'''

_ROUTE = '''

@app.route("__PATH__", methods=["__METHOD__"])
def __FUNC__(__ARGS__):
    """__SUMMARY__"""
    who = citizen()
__BODY__    return problem(501, "not_implemented", "__OPID__ is not written yet", citizen=who.sub)
'''

_BODY = '''    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return problem(400, "invalid_request", "send a JSON object")
'''


def _snake(text: str) -> str:
    text = re.sub(r"(?<!^)(?=[A-Z])", "_", text)
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower() or "operation"


def render_app_module(contract: Mapping, *, title: str, order: str) -> str:
    """The app.py for a contract: one route per operation."""
    source = _MODULE_HEAD.replace("__TITLE__", title).replace("__ORDER__", order)
    used: set[str] = set()
    for path, item in sorted((contract.get("paths") or {}).items()):
        for method in ("get", "post", "put", "patch", "delete"):
            operation = (item or {}).get(method)
            if operation is None:
                continue
            op_id = operation.get("operationId") or f"{method}_{path}"
            func = _snake(op_id)
            while func in used or func in {"index", "problem", "citizen", "department", "app"}:
                func += "_"
            used.add(func)
            params = re.findall(r"\{([A-Za-z_]\w*)\}", path)
            summary = str(operation.get("summary") or op_id).replace('"""', "'''")
            source += (_ROUTE.replace("__PATH__", re.sub(r"\{([A-Za-z_]\w*)\}", r"<\1>", path))
                       .replace("__METHOD__", method.upper()).replace("__FUNC__", func)
                       .replace("__ARGS__", ", ".join(params)).replace("__SUMMARY__", summary)
                       .replace("__OPID__", op_id)
                       .replace("__BODY__", _BODY if operation.get("requestBody") else ""))
    return source


def create_app_folder(target: Path, *, name: str, order: str, contract: Mapping, suite: Suite | None,
                      scopes: list[str]) -> list[Path]:
    """Write a new app into `target` (which must be empty or absent); returns the files written."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ScaffoldError(f"app name {name!r} may hold only letters, digits, '.', '_' and '-'; pass --name")
    if target.exists() and any(target.iterdir()):
        raise ScaffoldError(f"{target} is not empty; `govapp init` only writes into an empty or new folder")
    target.mkdir(parents=True, exist_ok=True)
    title = str((contract.get("info") or {}).get("title") or order)
    template = resources.files("govapp").joinpath("templates/app")

    def fill(text: str) -> str:
        return (text.replace("__NAME__", name).replace("__ORDER__", str(order)).replace("__TITLE__", title)
                .replace("__SCOPES__", ", ".join(f'"{s}"' for s in scopes))
                .replace("__GRANTED__", ", ".join(scopes) or "none"))

    written: list[Path] = []

    def write(rel: str, text: str) -> None:
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)

    write("govapp.toml", fill(template.joinpath("govapp.toml").read_text(encoding="utf-8")))
    write("requirements.txt", template.joinpath("requirements.txt").read_text(encoding="utf-8"))
    write("README.md", fill(template.joinpath("README.md").read_text(encoding="utf-8")))
    write(".gitignore", template.joinpath("gitignore").read_text(encoding="utf-8"))
    write("static/index.html", fill(template.joinpath("static/index.html").read_text(encoding="utf-8")))
    write("app.py", render_app_module(contract, title=title, order=str(order)))
    write("contract.openapi.yaml", yaml.safe_dump(dict(contract), allow_unicode=True, sort_keys=False))
    if suite is not None:
        write("suite.yaml", "# The order's public acceptance cases (hidden ones run only on the platform).\n"
              + yaml.safe_dump(suite.public().to_dict(), allow_unicode=True, sort_keys=False))
    return written
