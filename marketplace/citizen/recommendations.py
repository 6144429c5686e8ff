"""Recommendations from a person's history: the next steps of the life events they are going through, and
what other people did after the same item."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from core.extensions import db
from marketplace.catalogue.life_events import life_event_progress
from marketplace.catalogue.models import LifeEvent, LifeEventStep, ServiceItem
from marketplace.transactions.models import Transaction

FOLLOW_WINDOW_DAYS = 365


@dataclass(frozen=True)
class Recommendation:
    item: ServiceItem
    reason: str  # next_step | others_next
    life_event: LifeEvent | None = None
    people: int = 0  # for others_next: how many people did it after the same item


def _codes(citizen_id: int) -> tuple[set[str], set[str]]:
    rows = db.session.execute(sa.select(ServiceItem.code, Transaction.status)
                              .join(ServiceItem, Transaction.service_item_id == ServiceItem.id)
                              .where(Transaction.citizen_id == citizen_id))
    completed, started = set(), set()
    for code, status in rows:
        (completed if status == "completed" else started).add(code)
    return completed, started - completed


def recommendations_for(citizen_id: int, *, limit: int = 6) -> list[Recommendation]:
    """What to do next, for one citizen (their own history only)."""
    completed, started = _codes(citizen_id)
    if not completed and not started:
        return []
    touched = completed | started
    seen: set[str] = set(touched)
    result: list[Recommendation] = []
    events = db.session.scalars(sa.select(LifeEvent).join(LifeEventStep).join(ServiceItem)
                                .where(ServiceItem.code.in_(touched)).distinct().order_by(LifeEvent.position))
    for event in events:
        for progress in life_event_progress(event, completed, started):
            code = progress.step.service_item.code
            if progress.ready and code not in seen:
                seen.add(code)
                result.append(Recommendation(progress.step.service_item, "next_step", event))
    # Others' next item: people who completed an item this citizen completed, and later started another.
    mine = aliased(Transaction)
    theirs = aliased(Transaction)
    follow = db.session.execute(
        sa.select(theirs.service_item_id, sa.func.count(sa.distinct(theirs.citizen_id)))
        .join(mine, sa.and_(mine.citizen_id == theirs.citizen_id, mine.status == "completed",
                            theirs.started_at > mine.started_at))
        .join(ServiceItem, ServiceItem.id == mine.service_item_id)
        .where(ServiceItem.code.in_(completed), theirs.citizen_id != citizen_id)
        .group_by(theirs.service_item_id)).all()
    counts = Counter({item_id: int(n) for item_id, n in follow})
    items = {i.id: i for i in db.session.scalars(sa.select(ServiceItem).where(ServiceItem.id.in_(list(counts))))}
    for item_id, people in sorted(counts.items(), key=lambda kv: (-kv[1], items[kv[0]].code)):
        item = items[item_id]
        if item.code not in seen:
            seen.add(item.code)
            result.append(Recommendation(item, "others_next", people=people))
    return result[:limit]
