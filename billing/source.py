"""What billing needs from the marketplace, declared as a Protocol (billing never imports marketplace).

Orders, apps, vendors and ratings live in the marketplace. The app factory plugs an implementation of
``SettlementSource`` in with ``set_settlement_source(app, source)``; billing reads it through
``settlement_source()``. Everything billing stores refers to those objects by plain integer ids.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from numbers import Integral
from typing import Protocol

from flask import Flask, current_app

from core.errors import ServiceUnavailable, ValidationError
from core.money import Money

EXTENSION_KEY = "billing_settlement_source"


@dataclass(frozen=True)
class QuarterSpan:
    """A calendar quarter: ``code`` like '2026Q3', [starts_at, ends_at) in aware UTC."""

    code: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class MultiplierPoint:
    """One point of an order's rating-multiplier table: at ``stars`` the fee is multiplied by
    ``multiplier_bp`` / 10,000 (basis points: 10,000 = ×1.0). Between points the multiplier is linear."""

    stars: Fraction
    multiplier_bp: int

    def __post_init__(self):
        object.__setattr__(self, "stars", exact_number(self.stars, "multiplier table stars"))
        if isinstance(self.multiplier_bp, bool) or not isinstance(self.multiplier_bp, Integral):
            raise ValidationError(
                f"a rating multiplier is an integer number of basis points (10000 = ×1.0), got "
                f"{type(self.multiplier_bp).__name__} {self.multiplier_bp!r}"
            )
        if self.multiplier_bp < 0:
            raise ValidationError(f"a rating multiplier cannot be negative, got {self.multiplier_bp} bp")


@dataclass(frozen=True)
class OrderTerms:
    """An order's price schedule in effect for a quarter."""

    order_id: int
    department_id: int
    fee: Money  # per completed transaction
    quarterly_budget: Money
    multiplier_table: tuple[MultiplierPoint, ...]
    award_eligible: bool = True
    title: str = ""
    department_name: str = ""

    def __post_init__(self):
        for name in ("fee", "quarterly_budget"):
            value = getattr(self, name)
            if not isinstance(value, Money):
                raise ValidationError(
                    f"order {self.order_id}: {name} must be Money (integer fen), got {type(value).__name__} {value!r}"
                )
            if value.minor < 0:
                raise ValidationError(f"order {self.order_id}: {name} cannot be negative, got {value}")
        if self.fee.currency != self.quarterly_budget.currency:
            raise ValidationError(
                f"order {self.order_id}: fee is in {self.fee.currency} but the budget in "
                f"{self.quarterly_budget.currency}; an order is settled in one currency"
            )
        points = tuple(self.multiplier_table)
        if not points:
            raise ValidationError(f"order {self.order_id}: the rating multiplier table has no points")
        stars = [p.stars for p in points]
        if stars != sorted(stars) or len(set(stars)) != len(stars):
            raise ValidationError(
                f"order {self.order_id}: multiplier table stars must strictly increase, got {[str(s) for s in stars]}"
            )
        object.__setattr__(self, "multiplier_table", points)

    @property
    def currency(self) -> str:
        return self.fee.currency


@dataclass(frozen=True)
class AppFacts:
    app_id: int
    vendor_id: int
    order_id: int
    certified_at: datetime | None = None
    name: str = ""
    vendor_name: str = ""


@dataclass(frozen=True)
class RatingStats:
    """Ratings of one app given in the quarter that counted when its counted set was frozen (hidden ones
    excluded; flagged, appealed or signalled ones count until a moderator hides them)."""

    app_id: int
    count: int
    stars_sum: int
    distribution: tuple[int, int, int, int, int] = field(default=(0, 0, 0, 0, 0))  # counts of 1..5 stars

    def __post_init__(self):
        for name in ("count", "stars_sum"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
                raise ValidationError(f"app {self.app_id}: rating {name} must be a non-negative integer, got {value!r}")
        if self.count and not (self.count <= self.stars_sum <= 5 * self.count):
            raise ValidationError(
                f"app {self.app_id}: {self.count} ratings cannot sum to {self.stars_sum} stars (1–5 stars each)"
            )


class SettlementSource(Protocol):
    """The marketplace's data billing settles on. Implementations must be deterministic for a quarter."""

    def orders(self, span: QuarterSpan) -> Sequence[OrderTerms]:
        """Every order with a price schedule in effect during ``span``."""

    def apps(self, app_ids: Collection[int]) -> Mapping[int, AppFacts]:
        """Facts about the given apps; unknown ids are absent from the result."""

    def apps_of_orders(self, order_ids: Collection[int]) -> Sequence[AppFacts]:
        """Every app (published at any time) of the given orders."""

    def rating_stats(self, span: QuarterSpan, app_ids: Collection[int], as_of: datetime) -> Mapping[int, RatingStats]:
        """Per app, the ratings given during ``span`` that counted at ``as_of`` (given before it, not hidden by a
        moderator before it), each with the stars it had then; the same ``as_of`` always gives the same answer,
        whatever moderation happened later. Apps without ratings may be absent."""


def set_settlement_source(app: Flask, source: SettlementSource) -> None:
    """Plug the marketplace's implementation in (called by the app factory)."""
    app.extensions[EXTENSION_KEY] = source


def settlement_source() -> SettlementSource:
    source = current_app.extensions.get(EXTENSION_KEY)
    if source is None:
        raise ServiceUnavailable(
            "billing has no settlement source: the app factory must call "
            "billing.source.set_settlement_source(app, ...) with the marketplace's implementation"
        )
    return source


def exact_number(value, what: str) -> Fraction:
    """An exact rational from an int, Fraction or decimal string; floats are refused."""
    if isinstance(value, bool):
        raise ValidationError(f"{what} must be a number, got a boolean")
    if isinstance(value, float):
        raise ValidationError(
            f"{what} got the float {value!r}; billing uses exact arithmetic only: pass an integer, "
            f"a fractions.Fraction or a decimal string such as '4.5'"
        )
    if isinstance(value, (Integral, Fraction)):
        return Fraction(value)
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            raise ValidationError(f"{what}: {value!r} is not a number such as '4.5' or '9/2'") from None
    raise ValidationError(f"{what} must be an integer, a Fraction or a decimal string, got {type(value).__name__}")
