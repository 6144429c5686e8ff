"""Scenario references: `{{ scenarios.NAME.dotted.path }}` in a suite, replaced from the dataset's scenarios."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from govsuite.errors import SuiteError

_REFERENCE = re.compile(r"\{\{\s*scenarios\.([A-Za-z0-9_\-]+)((?:\.[A-Za-z0-9_\-]+)*)\s*\}\}")


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

