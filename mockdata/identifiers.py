"""Chinese national identifiers, built and checked without the platform's code.

- Resident ID number, GB 11643-1999: 6-digit region code, 8-digit birth date, 3-digit sequence (odd for
  men, even for women), one check character.
- Organisation code, GB 11714-1997: 8 characters and one check character (the ninth to seventeenth
  characters of a credit code).
- Unified social credit code, GB 32100-2015: registration authority, organisation type, region code,
  organisation code, one check character.

mockdata must run standalone (the vendor SDK starts it as a subprocess), so these are implemented here
rather than imported from core.ids; the tests cross-check both.
"""

from __future__ import annotations

import re
from datetime import date
from operator import mul

RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_ID_CHECK = "10X98765432"
_RESIDENT_ID_RE = re.compile(r"[0-9]{17}[0-9X]")  # fullmatch: no trailing newline, no non-ASCII digits

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_CODE_ALPHABET)}

# GB 11714 values digits as themselves and letters A=10 … Z=35; weights for the 8 body characters.
ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def resident_id_check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of a resident ID number."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError(f"need the first 17 digits of a resident ID number, got {first17!r}")
    # map() keeps the loop in C: this runs once per generated person.
    return RESIDENT_ID_CHECK[sum(map(mul, map(int, first17), RESIDENT_ID_WEIGHTS)) % 11]


def make_resident_id(region_code: str, birth: date, sequence: int) -> str:
    """A resident ID number for a person born on ``birth`` in ``region_code``; odd ``sequence`` = male."""
    if len(region_code) != 6 or not region_code.isdigit():
        raise ValueError(f"a region code has 6 digits, got {region_code!r}")
    if not 0 <= sequence <= 999:
        raise ValueError(f"the sequence is 0-999, got {sequence}")
    first17 = f"{region_code}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence:03d}"
    return first17 + resident_id_check_char(first17)


def _weighted_sum(digits: str, weights: tuple[int, ...]) -> int:
    return sum(map(mul, map(int, digits), weights))


class ResidentIdMaker:
    """Builds many resident ID numbers quickly: the weighted sum of each part is computed once and reused.

    The check character is the same GB 11643 sum as ``resident_id_check_char``, split into its region
    (digits 1-6), birth date (7-14) and sequence (15-17) parts; a generator making millions of IDs from a
    few thousand regions and dates pays for each part once.
    """

    def __init__(self) -> None:
        self._regions: dict[str, int] = {}
        self._births: dict[str, int] = {}
        self._sequences = [_weighted_sum(f"{s:03d}", RESIDENT_ID_WEIGHTS[14:]) for s in range(1000)]

    def make(self, region_code: str, birth_yyyymmdd: str, sequence: int) -> str:
        region = self._regions.get(region_code)
        if region is None:
            if len(region_code) != 6 or not region_code.isdigit():
                raise ValueError(f"a region code has 6 digits, got {region_code!r}")
            region = self._regions[region_code] = _weighted_sum(region_code, RESIDENT_ID_WEIGHTS[:6])
        birth = self._births.get(birth_yyyymmdd)
        if birth is None:
            if len(birth_yyyymmdd) != 8 or not birth_yyyymmdd.isdigit():
                raise ValueError(f"a birth date is 8 digits (YYYYMMDD), got {birth_yyyymmdd!r}")
            birth = self._births[birth_yyyymmdd] = _weighted_sum(birth_yyyymmdd, RESIDENT_ID_WEIGHTS[6:14])
        if not 0 <= sequence <= 999:  # a list index would take -1 and give a malformed ID
            raise ValueError(f"the sequence is 0-999, got {sequence}")
        total = region + birth + self._sequences[sequence]
        return f"{region_code}{birth_yyyymmdd}{sequence:03d}{RESIDENT_ID_CHECK[total % 11]}"


def resident_id_is_valid(value: str) -> bool:
    """True for a well-formed resident ID number: digits, a real birth date and the right check character."""
    if not isinstance(value, str) or not _RESIDENT_ID_RE.fullmatch(value):
        return False
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return value[17] == resident_id_check_char(value[:17])


def resident_id_birth_date(value: str) -> date:
    return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def resident_id_gender(value: str) -> str:
    """``male`` when the 17th digit (the last of the sequence) is odd, else ``female``."""
    return "male" if int(value[16]) % 2 else "female"


def org_code_check_char(body8: str) -> str:
    """The GB 11714 check character for an 8-character organisation code body."""
    if len(body8) != 8:
        raise ValueError(f"an organisation code body has 8 characters, got {body8!r}")
    total = 0
    for char, weight in zip(body8, ORG_CODE_WEIGHTS, strict=True):
        if char.isdigit():
            value = ord(char) - 48
        elif "A" <= char <= "Z":
            value = ord(char) - 55
        else:
            raise ValueError(f"organisation codes use digits and capitals, got {char!r} in {body8!r}")
        total += value * weight
    check = 11 - total % 11
    return "X" if check == 10 else ("0" if check == 11 else str(check))


def credit_code_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a unified social credit code."""
    if len(first17) != 17:
        raise ValueError(f"need the first 17 characters of a credit code, got {first17!r}")
    total = 0
    for char, weight in zip(first17, CREDIT_CODE_WEIGHTS, strict=True):
        value = _CREDIT_VALUE.get(char)
        if value is None:
            raise ValueError(f"character {char!r} is not allowed in a credit code (digits and capitals except I O S V Z)")
        total += value * weight
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def make_credit_code(authority: str, org_type: str, region_code: str, org_body8: str) -> str:
    """A unified social credit code; ``org_body8`` becomes a GB 11714 organisation code with its check character.

    ``authority`` is the registration authority (``9`` = market regulation), ``org_type`` the kind of
    organisation within it (``1`` enterprise, ``2`` individual business).
    """
    first17 = f"{authority}{org_type}{region_code}{org_body8}{org_code_check_char(org_body8)}"
    return first17 + credit_code_check_char(first17)


def credit_code_is_valid(value: str) -> bool:
    """True for a well-formed unified social credit code: 18 allowed characters and the right check character."""
    if not isinstance(value, str) or len(value) != 18 or any(c not in _CREDIT_VALUE for c in value):
        return False
    return value[17] == credit_code_check_char(value[:17])
