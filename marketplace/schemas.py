"""Schemas shared by every API: paging query arguments."""

from __future__ import annotations

import json

from marshmallow import Schema, fields, validate

# Ids of rows: a value outside a 64-bit integer is invalid input (SQLite cannot even bind it).
ROW_ID = validate.Range(min=1, max=2**63 - 1)


class PageQuery(Schema):
    q = fields.String(load_default="", validate=validate.Length(max=200), metadata={"description": "Search text"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


def page_headers(page) -> dict[str, str]:
    """Paging facts for list responses, in the X-Pagination header (the body stays a plain list)."""
    return {"X-Pagination": json.dumps({"total": page.total, "total_pages": page.pages,
                                        "page": page.page, "page_size": page.page_size})}
