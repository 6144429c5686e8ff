"""When the demo's story happens: the quarter before the current one is its settled past, the current quarter
stays open. Everything is derived from the day the demo is seeded, so a fresh demo always has a fresh past."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from billing.calendar import CHINA, quarter_code_of, quarter_span
from billing.source import QuarterSpan

ORDERS_LEAD = timedelta(days=30)  # the orders were published this long before the past quarter began


@dataclass(frozen=True)
class Timeline:
    now: datetime
    past: QuarterSpan  # the previous calendar quarter: citizens' activity, then settled
    current: QuarterSpan  # open

    @property
    def orders_published_at(self) -> datetime:
        day = (self.past.starts_at - ORDERS_LEAD).astimezone(CHINA)
        return day.replace(hour=10, minute=0, second=0, microsecond=0)


def timeline(now: datetime) -> Timeline:
    current = quarter_span(quarter_code_of(now))
    past = quarter_span(quarter_code_of(current.starts_at - timedelta(seconds=1)))
    return Timeline(now, past, current)
