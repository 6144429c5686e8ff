"""Citizen search over service items and life events, tolerant of typos and of pinyin or partial input.

Every item and life event is indexed under its Chinese name, its full pinyin (``shipinjingying…``), its pinyin
initials (``spjy…``), its English name and its code; an item also under the search words its department keeps
(餐饮 for 食品经营许可证核发). A query is compared with each of these by RapidFuzz's
partial ratio (so a fragment matches a long name and a typo costs a few points); a Chinese query is also
compared as pinyin, so a homophone typo (事品 for 食品) still finds the item. Results are ordered by match
quality, then by use (completed transactions), most used first.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz
from sqlalchemy.orm import selectinload

from core.extensions import db
from marketplace.catalogue.models import LifeEvent, LifeEventStep, ServiceItem
from marketplace.citizen.models import ServiceItemStatistics

MIN_SCORE = 70
_HAN = re.compile(r"[\u3400-\u9fff]")
_SPACE = re.compile(r"[\s\-_·,，.。/]+")


def normalise(text: str) -> str:
    return _SPACE.sub("", (text or "").lower())


@lru_cache(maxsize=20_000)
def index_terms(name: str, name_en: str = "", code: str = "", synonyms: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The strings an entry is found by: Chinese name, full pinyin, pinyin initials, English name, code, and the
    search words its department added (each also as pinyin)."""
    syllables = lazy_pinyin(name, errors="ignore")
    initials = lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")
    terms = [normalise(name), "".join(syllables), "".join(initials), normalise(name_en), normalise(code)]
    for word in synonyms:
        terms += [normalise(word), "".join(lazy_pinyin(word, errors="ignore"))]
    return tuple(t for t in dict.fromkeys(terms) if t)


@lru_cache(maxsize=2_000)
def _query_forms(query: str) -> tuple[str, ...]:
    q = normalise(query)
    forms = [q]
    if _HAN.search(q):
        forms.append("".join(lazy_pinyin(q, errors="ignore")))
    return tuple(f for f in dict.fromkeys(forms) if f)


def match_score(query: str, terms: tuple[str, ...]) -> float:
    """0–100: how well ``query`` matches an entry's ``terms``."""
    best = 0.0
    for form in _query_forms(query):
        for term in terms:
            if term.startswith(form) or form in term:
                return 100.0
            if len(form) < 2:
                continue
            # partial_ratio finds the best-matching window of the longer string; short terms (initials) need
            # the whole query, so compare both ways and keep the better.
            score = fuzz.partial_ratio(form, term) if len(form) <= len(term) else fuzz.ratio(form, term)
            best = max(best, score)
    return best


def completed_counts() -> Counter:
    """Completed transactions per service item id (the kept statistics: one row per item, not every case)."""
    rows = db.session.execute(sa.select(ServiceItemStatistics.service_item_id, ServiceItemStatistics.completed))
    return Counter({item_id: int(count) for item_id, count in rows})


@dataclass(frozen=True)
class SearchHit:
    kind: str  # item | life_event
    code: str
    name: str
    name_en: str
    score: float
    uses: int
    obj: object


def catalogue_search(query: str, *, limit: int = 20, min_score: float = MIN_SCORE) -> list[SearchHit]:
    """Service items and life events matching ``query`` (public), best and most used first."""
    query = (query or "").strip()[:100]
    if not normalise(query):
        return []
    uses = completed_counts()
    hits: list[SearchHit] = []
    # Each hit shows its department: loaded with the items in one more query, not one per department.
    for item in db.session.scalars(sa.select(ServiceItem).options(selectinload(ServiceItem.department))):
        score = match_score(query, index_terms(item.name, item.name_en, item.code, tuple(item.synonyms or ())))
        if score >= min_score:
            hits.append(SearchHit("item", item.code, item.name, item.name_en, score, uses.get(item.id, 0), item))
    events = list(db.session.scalars(sa.select(LifeEvent)))
    if events:
        event_uses = _life_event_uses(uses)
        for event in events:
            score = match_score(query, index_terms(event.name, event.name_en, event.code))
            if score >= min_score:
                hits.append(SearchHit("life_event", event.code, event.name, event.name_en, score,
                                      event_uses.get(event.id, 0), event))
    hits.sort(key=lambda h: (-round(h.score), -h.uses, h.kind, h.code))
    return hits[:limit]


def _life_event_uses(uses: Counter) -> Counter:
    result: Counter = Counter()
    for event_id, item_id in db.session.execute(sa.select(LifeEventStep.life_event_id, LifeEventStep.service_item_id)):
        result[event_id] += uses.get(item_id, 0)
    return result


def popular_items(limit: int = 8) -> list[tuple[ServiceItem, int]]:
    """Service items by completed transactions, most used first (then by code), with their counts."""
    uses = sa.func.coalesce(ServiceItemStatistics.completed, 0)
    rows = db.session.execute(sa.select(ServiceItem, uses)
                              .outerjoin(ServiceItemStatistics,
                                         ServiceItemStatistics.service_item_id == ServiceItem.id)
                              .order_by(uses.desc(), ServiceItem.code).limit(limit))
    return [(item, int(n)) for item, n in rows]
