"""An independent check of the national identifiers, written from the standards' number theory rather than
their weight tables, for tests to judge the platform's and mockdata's implementations against.

- GB 11643 is ISO 7064 MOD 11-2: the weight of digit i (counting from the right, check = position 1) is
  2^(i-1) mod 11; a valid number's weighted sum, check included (X = 10), is 1 mod 11.
- GB 32100: weights are 3^i mod 31 (i = 0 for the first character); the check makes the sum 0 mod 31.
- GB 11714: weights are 2^(9-i) mod 11 for body position i = 1..8; check = 11 - sum mod 11 (10 = X, 11 = 0),
  letters valued A = 10 ... Z = 35 (all 26 letters, unlike GB 32100's 31-character alphabet).
"""

from __future__ import annotations

import string

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
ORG_VALUES = {c: i for i, c in enumerate(string.digits + string.ascii_uppercase)}


def resident_id_ok(value: str) -> bool:
    if len(value) != 18 or not value[:17].isdigit() or value[17] not in "0123456789X":
        return False
    digits = [int(c) for c in value[:17]] + [10 if value[17] == "X" else int(value[17])]
    return sum(d * pow(2, 17 - i, 11) for i, d in enumerate(digits)) % 11 == 1


def credit_code_ok(value: str) -> bool:
    if len(value) != 18 or any(c not in CREDIT_ALPHABET for c in value):
        return False
    body = sum(CREDIT_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(value[:17]))
    return (body + CREDIT_ALPHABET.index(value[17])) % 31 == 0


def org_code_ok(code9: str) -> bool:
    body, check = code9[:8], code9[8]
    total = sum(ORG_VALUES[c] * pow(2, 8 - i, 11) for i, c in enumerate(body))
    expected = (11 - total % 11) % 11
    return check == ("X" if expected == 10 else str(expected))
