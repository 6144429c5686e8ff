"""Catalogue use cases: departments ("stores") and service items ("products") with their guide."""

from __future__ import annotations

import re

import sqlalchemy as sa

from core import audit
from core.errors import Conflict, NotFound, ValidationError
from core.extensions import db
from marketplace.catalogue import authz
from marketplace.catalogue.models import Department, ServiceItem
from marketplace.pagination import Page, like, paginate

CODE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$")


def _check_code(code: str, what: str) -> str:
    code = (code or "").strip()
    if not CODE_RE.match(code):
        raise ValidationError(f"{what} code {code!r} must be lowercase letters, digits and hyphens, e.g. 'market-regulation'",
                              errors={"code": "invalid"})
    return code


def department_create(actor, *, code: str, name: str, name_en: str = "", description: str = "") -> Department:
    """Create a department. Admins only. Raises ValidationError, Conflict if the code is taken."""
    authz.department_create(actor)
    code = _check_code(code, "department")
    if not (name or "").strip():
        raise ValidationError("give the department's name", errors={"name": "empty"})
    if db.session.scalar(sa.select(Department.id).where(Department.code == code)):
        raise Conflict(f"a department with code {code!r} already exists")
    dept = Department(code=code, name=name.strip(), name_en=name_en.strip(), description=description)
    db.session.add(dept)
    db.session.flush()
    audit.record(actor, "department.create", "department", dept.id, {"code": code, "name": name},
                 department_id=dept.id)
    db.session.commit()
    return dept


def department_list(*, q: str = "", page: int = 1, page_size: int = 20) -> Page:
    """Departments are public: anyone may list them."""
    query = sa.select(Department).order_by(Department.code)
    if q:
        query = query.where(sa.or_(Department.name.like(like(q), escape="\\"),
                                   Department.name_en.ilike(like(q), escape="\\"),
                                   Department.code.like(like(q), escape="\\")))
    return paginate(query, page, page_size)


def department_get(code_or_id: str | int) -> Department:
    query = sa.select(Department)
    if isinstance(code_or_id, int) or str(code_or_id).isdigit():
        query = query.where(Department.id == int(code_or_id))
    else:
        query = query.where(Department.code == code_or_id)
    dept = db.session.scalar(query)
    if dept is None:
        raise NotFound(f"department {code_or_id} does not exist")
    return dept


def service_item_create(actor, *, department_id: int, code: str, name: str, time_limit_days: int,
                        name_en: str = "", description: str = "", materials: list | None = None,
                        trips: int = 0, fee_fen: int = 0, channels: list | None = None) -> ServiceItem:
    """Add a service item with its guide to a department. Admins, or staff of that department."""
    authz.service_item_create(actor, department_id)
    department_get(department_id)
    code = _check_code(code, "service item")
    errors = {}
    for name_, value in (("time_limit_days", time_limit_days), ("trips", trips), ("fee_fen", fee_fen)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            errors[name_] = f"must be a whole number ≥ 0, got {value!r}"
    if not (name or "").strip():
        errors["name"] = "give the service item's name"
    if errors:
        raise ValidationError("the service item is invalid: " + "; ".join(f"{k} {v}" for k, v in errors.items()),
                              errors=errors)
    if db.session.scalar(sa.select(ServiceItem.id).where(ServiceItem.code == code)):
        raise Conflict(f"a service item with code {code!r} already exists")
    item = ServiceItem(department_id=department_id, code=code, name=name.strip(), name_en=name_en,
                       description=description, materials=materials or [], time_limit_days=time_limit_days,
                       trips=trips, fee_fen=fee_fen, channels=channels or [])
    db.session.add(item)
    db.session.flush()
    audit.record(actor, "service_item.create", "service_item", item.id, {"code": code, "name": name},
                 department_id=department_id)
    db.session.commit()
    return item


def service_item_get(code_or_id: str | int) -> ServiceItem:
    query = sa.select(ServiceItem)
    if isinstance(code_or_id, int) or str(code_or_id).isdigit():
        query = query.where(ServiceItem.id == int(code_or_id))
    else:
        query = query.where(ServiceItem.code == code_or_id)
    item = db.session.scalar(query)
    if item is None:
        raise NotFound(f"service item {code_or_id} does not exist")
    return item


MAX_SYNONYMS, MAX_SYNONYM_LENGTH = 20, 30


def service_item_synonyms_set(actor, code: str, synonyms: list[str]) -> ServiceItem:
    """Replace the words citizens may search an item by (besides its name, pinyin and code). The item's
    department or an admin. Raises Forbidden, NotFound, ValidationError (too many or too long words)."""
    item = service_item_get(code)
    authz.service_item_synonyms_set(actor, item.department_id)
    words = list(dict.fromkeys(w.strip() for w in synonyms if w and w.strip()))
    too_long = [w for w in words if len(w) > MAX_SYNONYM_LENGTH]
    if too_long or len(words) > MAX_SYNONYMS:
        raise ValidationError(f"give at most {MAX_SYNONYMS} search words of at most {MAX_SYNONYM_LENGTH} characters "
                              f"each; got {len(words)}" + (f", too long: {', '.join(too_long)}" if too_long else ""),
                              errors={"synonyms": "too many or too long"})
    previous, item.synonyms = list(item.synonyms or []), words
    audit.record(actor, "service_item.synonyms_set", "service_item", item.id, {"code": item.code, "from": previous,
                                                                              "to": words},
                 department_id=item.department_id)
    db.session.commit()
    return item


def service_item_list(*, department_id: int | None = None, q: str = "", page: int = 1, page_size: int = 20) -> Page:
    query = sa.select(ServiceItem).order_by(ServiceItem.code)
    if department_id:
        query = query.where(ServiceItem.department_id == department_id)
    if q:
        query = query.where(sa.or_(ServiceItem.name.like(like(q), escape="\\"),
                                   ServiceItem.name_en.ilike(like(q), escape="\\"),
                                   ServiceItem.code.like(like(q), escape="\\")))
    return paginate(query, page, page_size)
