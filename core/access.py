"""Loading an object for a use case: get it or answer NotFound, then check the use case's rule.

Objects another tenant may not see answer NotFound (404) rather than Forbidden, so ids do not leak; the rule
(a function of the package's ``authz.py``, named like the use case) raises NotFound or Forbidden itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa

from core.errors import NotFound
from core.extensions import db

T = TypeVar("T")


def get_or_404(model: type[T], ident: Any, what: str, rule: Callable[[Any, T], Any] | None = None, actor: Any = None,
               *, for_update: bool = False) -> T:
    """The ``model`` row with primary key ``ident``, after ``rule(actor, row)`` passed.

    Raises NotFound ("<what> <ident> does not exist") for a missing row, and whatever the rule raises."""
    query = sa.select(model).where(sa.inspect(model).primary_key[0] == ident)
    if for_update:
        query = query.with_for_update()
    row = db.session.scalar(query)
    if row is None:
        raise NotFound(f"{what} {ident} does not exist")
    if rule is not None:
        rule(actor, row)
    return row
