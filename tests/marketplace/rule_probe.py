"""Calling authorization rules directly, CKAN style: plain actors for every role (department 1 / vendor 3 are
the owning ones) and the outcome of a rule for each of them."""

from __future__ import annotations

from types import SimpleNamespace

from core.errors import Forbidden, NotFound, Unauthenticated

DEPT, VENDOR, CITIZEN = 1, 3, 5


def person(role: str, id: int = 1, department_id: int | None = None, vendor_id: int | None = None, **extra):
    return SimpleNamespace(id=id, role=role, department_id=department_id, vendor_id=vendor_id, **extra)


ACTORS = {
    "anonymous": None, "citizen": person("citizen", CITIZEN, resident_id="110105199003074578"),
    "other_citizen": person("citizen", 6), "vendor": person("vendor_member", 8, vendor_id=VENDOR),
    "other_vendor": person("vendor_member", 9, vendor_id=4), "staff": person("department_staff", 10, DEPT),
    "other_staff": person("department_staff", 11, 2), "finance": person("finance", 12),
    "auditor": person("auditor", 13), "admin": person("admin", 14),
}


def outcomes(rule, *args) -> dict[str, object]:
    """``rule(actor, *args)`` for every actor: "ok" (or what the rule returned), else the refusal's type name."""
    seen = {}
    for who, actor in ACTORS.items():
        try:
            result = rule(actor, *args)
        except (NotFound, Forbidden, Unauthenticated) as exc:
            seen[who] = type(exc).__name__
        else:
            seen[who] = "ok" if result is None else result
    return seen


def allowed(rule, *args) -> list[str]:
    return [who for who, result in outcomes(rule, *args).items() if result == "ok"]
