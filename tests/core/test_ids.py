"""The platform's identifier checks (core.ids) against published numbers and worked sums.

Known answers, each computed by hand below rather than by any code of ours:
- 11010519491231002X, GB 11643-1999's own example: digits × weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 sum to
  7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 mod 11 = 2; "10X98765432"[2] = X.
- 91350100M000100Y43, GB 32100-2015's example, with letters: values 9 1 3 5 0 1 0 0 M=21 0 0 0 1 0 0 Y=30 4 ×
  weights 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28 = 9+3+27+135+26+420+8+900+112 = 1640; 1640 mod 31 = 28;
  31 - 28 = 3.
- 9144030071526726XG (Tencent, 腾讯科技(深圳)有限公司, as registered): letters in the body and as the check.
"""

import pytest

from core import ids


@pytest.mark.parametrize(("first17", "check"), [
    ("11010519491231002", "X"), ("44052418800101001", "4"), ("11010119900307447", "7"),
])
def test_resident_id_check_character_known_answers(first17, check):
    assert ids.resident_id_check_char(first17) == check
    assert ids.resident_id_problem(first17 + check) is None


@pytest.mark.parametrize(("first17", "check"), [
    ("91350100M000100Y4", "3"), ("9144030071526726X", "G"), ("91110108551385082", "Q"), ("91330100716105852", "F"),
    ("9111000010169286X", "1"),
])
def test_credit_code_check_character_known_answers_with_letters(first17, check):
    assert ids.uscc_check_char(first17) == check
    assert ids.uscc_problem(first17 + check) is None


def test_a_credit_code_whose_sum_is_a_multiple_of_31_checks_with_0():
    # 1 × weight 1 + ... : "0" * 16 + "V"? V is not allowed; use a body whose sum is 31: "A" (10) × 1 + 7 × 3 = 31.
    assert ids.uscc_check_char("A7" + "0" * 15) == "0"


@pytest.mark.parametrize(("value", "problem"), [
    ("11010519491231002", "a resident ID number has 17 digits followed by a digit or X"),
    ("11010519491231002x", "a resident ID number has 17 digits followed by a digit or X"),
    ("1101051949123100X2", "a resident ID number has 17 digits followed by a digit or X"),
    ("11010519491231002X\n", "a resident ID number has 17 digits followed by a digit or X"),
    (None, "a resident ID number has 17 digits followed by a digit or X"),
    ("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "a resident ID number has 17 digits followed by a digit or X"),
    ("110105194913310023", "digits 7-14 must be a birth date (YYYYMMDD), got 19491331"),
    ("110105194902300023", "digits 7-14 must be a birth date (YYYYMMDD), got 19490230"),
    ("110105194912310021", "check character is 1, the number's digits give X"),
])
def test_resident_id_problems_say_what_is_wrong(value, problem):
    assert ids.resident_id_problem(value) == problem


@pytest.mark.parametrize(("value", "problem"), [
    ("91350100M000100Y4", "a unified social credit code has exactly 18 characters"),
    ("91350100M000100Y433", "a unified social credit code has exactly 18 characters"),
    (None, "a unified social credit code has exactly 18 characters"),
    ("91350100M0001O0Y43", "character 'O' is not allowed (use digits and capitals except I, O, S, V, Z)"),
    ("91350100m000100Y43", "character 'm' is not allowed (use digits and capitals except I, O, S, V, Z)"),
    ("91350100M000100Y44", "check character is 4, the code's first 17 characters give 3"),
])
def test_credit_code_problems_say_what_is_wrong(value, problem):
    assert ids.uscc_problem(value) == problem


def test_check_characters_need_exactly_17_characters():
    for short in ("1" * 16, "1" * 18):
        with pytest.raises(ValueError):
            ids.resident_id_check_char(short)
        with pytest.raises(ValueError):
            ids.uscc_check_char(short)
