"""What an order's contract and price schedule may contain, and how they are checked on save."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate as validate_openapi
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from core.errors import ValidationError

# The department APIs an app may be granted (served by the department service; see docs/mockdata.md).
DEPT_SCOPES = {
    "person.read": "Look up a person by resident ID",
    "business.read": "Look up a business by unified social credit code",
    "licence.read": "Read e-licences of a person or business",
    "application.submit": "Submit an application to the department",
    "application.read": "Read the status of a submitted case",
}

# Citizen data an app may ask the citizen to consent to.
CITIZEN_SCOPES = {
    "name": "Full name",
    "resident_id": "Resident ID number",
    "phone": "Mobile phone number",
    "address": "Registered address",
    "birth_date": "Date of birth",
    "gender": "Gender",
}


def check_contract(document: Any) -> dict:
    """Validate an OpenAPI 3 document; raise ValidationError naming the first problem and where it is."""
    if not isinstance(document, dict):
        raise ValidationError("the contract must be an OpenAPI 3 document (a JSON object)",
                              errors={"contract": "not an object"})
    if not str(document.get("openapi", "")).startswith("3."):
        raise ValidationError("the contract must declare 'openapi: 3.x'", errors={"contract.openapi": "missing"})
    try:
        validate_openapi(document)
    except OpenAPIValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        problem = str(exc.message).strip().splitlines()[0]  # the first line says it; the rest is schema internals
        raise ValidationError(f"the contract is not valid OpenAPI at {where}: {problem}",
                              errors={"contract": f"{where}: {problem}"}) from exc
    if not document.get("paths"):
        raise ValidationError("the contract declares no paths; list the endpoints the app must serve",
                              errors={"contract.paths": "empty"})
    return document


def check_scopes(dept_scopes: list, citizen_scopes: list) -> None:
    errors = {}
    unknown = [s for s in dept_scopes if s not in DEPT_SCOPES]
    if unknown:
        errors["dept_scopes"] = f"unknown {', '.join(map(str, unknown))}; choose from {', '.join(DEPT_SCOPES)}"
    unknown = [s for s in citizen_scopes if s not in CITIZEN_SCOPES]
    if unknown:
        errors["citizen_scopes"] = f"unknown {', '.join(map(str, unknown))}; choose from {', '.join(CITIZEN_SCOPES)}"
    if errors:
        raise ValidationError("the order asks for scopes that do not exist: " + "; ".join(errors.values()),
                              errors=errors)


def check_price_schedule(fee: Any, budget: Any, multipliers: Any) -> None:
    """Fee and budget are whole fen; multipliers are [stars in tenths, multiplier in basis points] points
    covering 1.0–5.0 stars with increasing stars."""
    errors = {}
    for name, value in (("fee_per_transaction_fen", fee), ("quarterly_budget_fen", budget)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            errors[name] = f"must be a whole number of fen ≥ 0 (e.g. 200 for ¥2.00), got {value!r}"
    if not isinstance(multipliers, list) or len(multipliers) < 2:
        errors["rating_multipliers"] = ("give at least two points [stars×10, multiplier in basis points], "
                                        "e.g. [[10, 5000], [50, 12000]]")
    else:
        stars = []
        for point in multipliers:
            if (not isinstance(point, list) or len(point) != 2
                    or any(isinstance(v, bool) or not isinstance(v, int) for v in point)):
                errors["rating_multipliers"] = f"each point is two whole numbers [stars×10, basis points], got {point!r}"
                break
            if not (10 <= point[0] <= 50) or not (0 <= point[1] <= 50000):
                errors["rating_multipliers"] = f"point {point!r}: stars×10 must be 10–50 and basis points 0–50000"
                break
            stars.append(point[0])
        else:
            if stars != sorted(set(stars)) or stars[0] != 10 or stars[-1] != 50:
                errors["rating_multipliers"] = "stars must increase strictly from 10 (1.0★) to 50 (5.0★)"
    if errors:
        raise ValidationError("the price schedule is invalid: " + "; ".join(f"{k} {v}" for k, v in errors.items()),
                              errors=errors)
