"""Quarters of the financial calendar, in China Standard Time (UTC+8, no daylight saving)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from billing.source import QuarterSpan
from core.errors import ValidationError

CHINA = timezone(timedelta(hours=8), "CST")
GRACE_PERIOD = timedelta(days=10)  # late usage received this long after quarter end still counts
_CODE = re.compile(r"^(\d{4})Q([1-4])$")


def quarter_span(code: str) -> QuarterSpan:
    """'2026Q3' → the span 2026-07-01 00:00 to 2026-10-01 00:00 China time, in UTC."""
    match = _CODE.match(code or "")
    if not match:
        raise ValidationError(f"{code!r} is not a quarter; write it like 2026Q3 (year, Q, 1–4)")
    year, q = int(match.group(1)), int(match.group(2))
    start = datetime(year, 3 * q - 2, 1, tzinfo=CHINA)
    end = datetime(year + 1, 1, 1, tzinfo=CHINA) if q == 4 else datetime(year, 3 * q + 1, 1, tzinfo=CHINA)
    return QuarterSpan(code, start.astimezone(UTC), end.astimezone(UTC))


def quarter_code_of(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValidationError(f"naive datetime {moment!r}: give times with a timezone")
    local = moment.astimezone(CHINA)
    return f"{local.year}Q{(local.month - 1) // 3 + 1}"
