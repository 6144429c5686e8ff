"""Schemas shared by every API: paging query arguments, row ids, exact figures as decimal text."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from marshmallow import Schema, fields, validate

from core.conventions import page_headers as core_page_headers

# Every integer the API reads has an upper bound (tests/marketplace/test_bad_input.py checks the OpenAPI document):
# a value past its column is invalid input with the field's name, never an overflow in the database (a 500).
INT32_MAX = 2**31 - 1  # INTEGER columns
BIGINT_MAX = 2**63 - 1  # BIGINT columns (amounts in fen)
# Ids of rows are INTEGER columns (32-bit on PostgreSQL): a larger value is invalid input, never a database error.
ROW_ID = validate.Range(min=1, max=INT32_MAX)
# Amounts in fen, stored in BIGINT columns.
FEN = validate.Range(min=0, max=BIGINT_MAX)


# PostgreSQL text cannot hold NUL: a search for one is invalid input, not a database error.
NO_NUL = validate.Regexp(r"^[^\x00]*$", error="remove the NUL character (\\x00) from the text")


class PageQuery(Schema):
    q = fields.String(load_default="", validate=[validate.Length(max=200), NO_NUL], metadata={"description": "Search text"})
    # The bounds of marketplace.pagination (MAX_PAGE, MAX_PAGE_SIZE), a sibling module this one may not import.
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10**9))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


def page_headers(page) -> dict[str, str]:
    """Paging headers of a list response (core.paging) for a marketplace.pagination.Page."""
    return core_page_headers(total=page.total, page=page.page, page_size=page.page_size)


def decimal_text(value: Fraction | None, places: int = 2) -> str | None:
    """An exact figure as a decimal string rounded half to even, e.g. Fraction(95, 23) → '4.13'."""
    if value is None:
        return None
    quantum = Decimal(1).scaleb(-places)
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(quantum, rounding=ROUND_HALF_EVEN))
