"""Money is an integer number of minor units (fen) with a currency code. No floats, ever."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

CURRENCY = "CNY"


@dataclass(frozen=True, order=True)
class Money:
    minor: int
    currency: str = CURRENCY

    def __post_init__(self):
        if isinstance(self.minor, bool) or not isinstance(self.minor, Integral):
            raise TypeError(
                f"Money takes an integer number of fen, got {type(self.minor).__name__} {self.minor!r}; "
                "convert with Money.parse('12.34') instead of passing floats"
            )
        object.__setattr__(self, "minor", int(self.minor))
        if not (isinstance(self.currency, str) and len(self.currency) == 3 and self.currency.isupper()):
            raise ValueError(f"currency must be an ISO 4217 code like 'CNY', got {self.currency!r}")

    @classmethod
    def parse(cls, text: str, currency: str = CURRENCY) -> Money:
        """Parse a decimal amount in yuan such as '12.34' exactly (two decimals at most)."""
        if not isinstance(text, str):
            raise TypeError(f"Money.parse takes a string like '12.34', got {type(text).__name__}")
        s = text.strip()
        sign = -1 if s.startswith("-") else 1
        if s.startswith(("+", "-")):  # one sign at most: "--1" and "+-1" are typos, not amounts
            s = s[1:]
        whole, _, frac = s.partition(".")
        if not whole.isdigit() or (frac and (not frac.isdigit() or len(frac) > 2)):
            raise ValueError(f"{text!r} is not an amount in yuan with at most two decimals, e.g. '12.34'")
        return cls(sign * (int(whole) * 100 + int(frac.ljust(2, "0"))), currency)

    def format(self) -> str:
        sign = "-" if self.minor < 0 else ""
        yuan, fen = divmod(abs(self.minor), 100)
        return f"{sign}{yuan:,}.{fen:02d}"

    def __str__(self) -> str:
        return f"{self.currency} {self.format()}"
