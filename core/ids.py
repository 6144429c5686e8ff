"""Chinese national identifiers: resident ID (GB 11643-1999) and unified social credit code (GB 32100-2015)."""

from __future__ import annotations

import re
from datetime import date

_RID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RID_CHECK = "10X98765432"
_RID_RE = re.compile(r"[0-9]{17}[0-9X]")  # fullmatch: no trailing newline, no non-ASCII digits

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def resident_id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _RID_WEIGHTS, strict=True))
    return _RID_CHECK[total % 11]


def resident_id_problem(value: str) -> str | None:
    """None if ``value`` is a valid resident ID number, else what is wrong with it."""
    if not isinstance(value, str) or not _RID_RE.fullmatch(value):
        return "a resident ID number has 17 digits followed by a digit or X"
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return f"digits 7-14 must be a birth date (YYYYMMDD), got {value[6:14]}"
    expected = resident_id_check_char(value[:17])
    if value[17] != expected:
        return f"check character is {value[17]}, the number's digits give {expected}"
    return None


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(value: str) -> str | None:
    """None if ``value`` is a valid unified social credit code, else what is wrong with it."""
    if not isinstance(value, str) or len(value) != 18:
        return "a unified social credit code has exactly 18 characters"
    bad = [c for c in value if c not in USCC_ALPHABET]
    if bad:
        return f"character {bad[0]!r} is not allowed (use digits and capitals except I, O, S, V, Z)"
    expected = uscc_check_char(value[:17])
    if value[17] != expected:
        return f"check character is {value[17]}, the code's first 17 characters give {expected}"
    return None
