"""One way to page a list: services return a ``Page`` for a select and the requested page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from core.extensions import db

MAX_PAGE_SIZE = 100
MAX_PAGE = 10**9  # far past any list's end; keeps OFFSET inside a 64-bit integer for any page asked for


@dataclass
class Page:
    items: list[Any]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def paginate(query: sa.Select, page: int = 1, page_size: int = 20) -> Page:
    page = min(MAX_PAGE, max(1, int(page or 1)))
    page_size = min(MAX_PAGE_SIZE, max(1, int(page_size or 20)))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0
    items = db.session.scalars(query.limit(page_size).offset((page - 1) * page_size)).all()
    return Page(items=list(items), total=total, page=page, page_size=page_size)


def like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with LIKE's wildcards escaped."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
