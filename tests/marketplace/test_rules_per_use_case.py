"""One rule per use case: every public service function that takes an ``actor`` has a rule of the same name
in its package's ``authz.py`` (a list use case may have ``<name>_scope`` instead), so a new use case cannot ship
without deciding who may call it."""

from __future__ import annotations

import ast
import importlib
import importlib.util

import pytest

PACKAGES = ["marketplace.orders", "marketplace.vendors", "marketplace.complaints", "marketplace.transactions",
            "marketplace.accounts", "marketplace.identity", "marketplace.catalogue", "marketplace.analytics",
            "marketplace.gateway", "marketplace.ratings", "billing"]


def use_cases(package: str) -> list[str]:
    source = importlib.util.find_spec(f"{package}.services").origin
    with open(source, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")
            and node.args.args and node.args.args[0].arg == "actor"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_use_case_has_its_rule(package):
    rules = importlib.import_module(f"{package}.authz")
    cases = use_cases(package)
    assert cases, f"{package}.services has no use case taking an actor"
    missing = [name for name in cases if not (hasattr(rules, name) or hasattr(rules, f"{name}_scope"))]
    assert missing == [], f"use cases of {package} without a rule of the same name in its authz.py"
