"""The check-digit algorithms, as properties and against the platform's own validators in core.ids."""

from __future__ import annotations

import string
from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core import ids as core_ids
from mockdata.generator import iter_records
from mockdata.identifiers import (
    CREDIT_CODE_ALPHABET,
    ResidentIdMaker,
    credit_code_check_char,
    credit_code_is_valid,
    make_credit_code,
    make_resident_id,
    org_code_check_char,
    resident_id_birth_date,
    resident_id_check_char,
    resident_id_gender,
    resident_id_is_valid,
)
from mockdata.specs import CITIZENS_V1
from tests import identifier_check as check

regions = st.from_regex(r"\A[1-6][0-9]{5}\Z")
births = st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 12, 31))
sequences = st.integers(min_value=0, max_value=999)
credit_chars = st.sampled_from(CREDIT_CODE_ALPHABET)
# No per-example deadline: the shared 2-core CI machine can stall any example for a moment.
relaxed = settings(deadline=None)
org_bodies = st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=8, max_size=8)


def test_published_examples():
    # GB 11643-1999's own example and a real registered company (Xiaomi, 小米科技有限责任公司).
    assert resident_id_is_valid("11010519491231002X")
    assert credit_code_is_valid("91110108551385082Q")
    assert org_code_check_char("55138508") == "2"


@relaxed
@given(regions, births, sequences)
def test_made_resident_ids_are_valid_and_carry_birth_date_and_gender(region, birth, sequence):
    rid = make_resident_id(region, birth, sequence)
    assert resident_id_is_valid(rid)
    assert core_ids.resident_id_problem(rid) is None
    assert resident_id_birth_date(rid) == birth
    assert resident_id_gender(rid) == ("male" if sequence % 2 else "female")


@relaxed
@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_resident_id_check_char_agrees_with_core(first17):
    assert resident_id_check_char(first17) == core_ids.resident_id_check_char(first17)


@relaxed
@given(regions, births, sequences, st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_any_single_changed_character_of_a_resident_id_is_detected(region, birth, sequence, position, char):
    rid = make_resident_id(region, birth, sequence)
    assume(rid[position] != char)
    changed = rid[:position] + char + rid[position + 1:]
    assert not resident_id_is_valid(changed)
    assert core_ids.resident_id_problem(changed) is not None


@relaxed
@given(st.text(alphabet=credit_chars, min_size=17, max_size=17))
def test_credit_code_check_char_agrees_with_core(first17):
    assert credit_code_check_char(first17) == core_ids.uscc_check_char(first17)
    assert core_ids.uscc_problem(first17 + credit_code_check_char(first17)) is None


@relaxed
@given(st.sampled_from("9"), st.sampled_from("12"), regions, org_bodies)
def test_made_credit_codes_are_valid_with_a_valid_organisation_code_inside(authority, kind, region, body):
    code = make_credit_code(authority, kind, region, body)
    assert credit_code_is_valid(code)
    assert core_ids.uscc_problem(code) is None
    assert code[8:16] == body and code[16] == org_code_check_char(body)


@relaxed
@given(regions, org_bodies, st.integers(min_value=0, max_value=17), credit_chars)
def test_any_single_changed_character_of_a_credit_code_is_detected(region, body, position, char):
    code = make_credit_code("9", "1", region, body)
    assume(code[position] != char)
    changed = code[:position] + char + code[position + 1:]
    assert not credit_code_is_valid(changed)
    assert core_ids.uscc_problem(changed) is not None


@pytest.mark.parametrize("value", ["", "11010519491231002", "1101051949123100Z2", "11010519491331002X", None,
                                   "11010519491231002X\n", "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "110105194912310021"])
def test_malformed_resident_ids_are_invalid(value):
    assert not resident_id_is_valid(value)


@pytest.mark.parametrize("value", ["", "91110108551385082", "9111010855138508IQ", "91110108551385082q", None,
                                   "91350100M000100Y44", "91350100M000100Y433"])
def test_malformed_credit_codes_are_invalid(value):
    assert not credit_code_is_valid(value)


def test_builders_refuse_what_cannot_be_an_identifier():
    with pytest.raises(ValueError, match="region code"):
        make_resident_id("1101", date(2000, 1, 1), 1)
    with pytest.raises(ValueError, match="sequence"):
        make_resident_id("110105", date(2000, 1, 1), 1000)
    with pytest.raises(ValueError, match="not allowed"):
        credit_code_check_char("9111010855138508I")


# --- known answers and an independent check (tests/identifier_check.py) ------------------------------------

def test_known_answers_with_letters():
    # GB 32100-2015's example and Tencent's registered code (worked sums in tests/core/test_ids.py); the organisation
    # code inside values letters A=10 … Z=35: M000100Y → 22×3 + 1×5 + 34×2 = 139, 11 - 139 mod 11 = 4.
    assert org_code_check_char("M000100Y") == "4"
    assert org_code_check_char("71526726") == "X"
    assert org_code_check_char("10169286") == "X"
    assert org_code_check_char("19220382") == "1"
    assert org_code_check_char("Z0000000") == "5"  # Z = 35: 35 × 3 = 105, 105 mod 11 = 6, 11 - 6 = 5
    assert check.org_code_ok("Z00000005")
    assert credit_code_check_char("91350100M000100Y4") == "3"
    assert credit_code_check_char("9144030071526726X") == "G"
    assert make_credit_code("9", "1", "350100", "M000100Y") == "91350100M000100Y43"
    assert make_credit_code("9", "1", "440300", "71526726") == "9144030071526726XG"
    assert resident_id_check_char("11010519491231002") == "X"
    assert make_resident_id("440524", date(1880, 1, 1), 1) == "440524188001010014"


def test_an_organisation_code_whose_sum_is_a_multiple_of_11_checks_with_0():
    # 3 × 10 (A) + 7 × 0 … + 2 × 7: 30 + 14 = 44 = 4 × 11, so the check is 11 - 0 → 0.
    assert org_code_check_char("A0000007") == "0"
    assert check.org_code_ok("A00000070")


@pytest.mark.parametrize(("body", "problem"), [
    ("M000100", "an organisation code body has 8 characters, got 'M000100'"),
    ("M000100y", "organisation codes use digits and capitals, got 'y' in 'M000100y'"),
    ("M000100-", "organisation codes use digits and capitals, got '-' in 'M000100-'"),
])
def test_organisation_code_refuses_what_it_cannot_check(body, problem):
    with pytest.raises(ValueError) as raised:
        org_code_check_char(body)
    assert str(raised.value) == problem


def test_check_character_builders_say_what_they_need():
    with pytest.raises(ValueError) as raised:
        resident_id_check_char("1101051949123100")
    assert str(raised.value) == "need the first 17 digits of a resident ID number, got '1101051949123100'"
    with pytest.raises(ValueError, match="need the first 17 digits"):
        resident_id_check_char("1101051949123100A")
    with pytest.raises(ValueError) as raised:
        credit_code_check_char("91350100M000100Y")
    assert str(raised.value) == "need the first 17 characters of a credit code, got '91350100M000100Y'"
    with pytest.raises(ValueError) as raised:
        credit_code_check_char("9135010OM000100Y4")
    assert str(raised.value) == ("character 'O' is not allowed in a credit code (digits and capitals except I O S V Z)")
    with pytest.raises(ValueError) as raised:
        make_resident_id("11010a", date(2000, 1, 1), 1)
    assert str(raised.value) == "a region code has 6 digits, got '11010a'"
    with pytest.raises(ValueError) as raised:
        make_resident_id("110105", date(2000, 1, 1), -1)
    assert str(raised.value) == "the sequence is 0-999, got -1"


def test_sequence_bounds_are_inclusive():
    assert make_resident_id("110105", date(2000, 1, 1), 0)[14:17] == "000"
    assert make_resident_id("110105", date(2000, 1, 1), 999)[14:17] == "999"


def test_the_resident_id_maker_refuses_a_bad_region_and_reuses_its_parts():
    maker = ResidentIdMaker()
    with pytest.raises(ValueError) as raised:
        maker.make("1101", "20000101", 1)
    assert str(raised.value) == "a region code has 6 digits, got '1101'"
    with pytest.raises(ValueError):
        maker.make("11010x", "20000101", 1)
    assert maker.make("440524", "18800101", 1) == "440524188001010014"
    assert maker.make("440524", "18800101", 1) == "440524188001010014"  # from the cached parts


@pytest.mark.parametrize(("birth", "sequence", "message"), [
    ("2000011", 1, "a birth date is 8 digits (YYYYMMDD), got '2000011'"),
    ("2000-1-1", 1, "a birth date is 8 digits (YYYYMMDD), got '2000-1-1'"),
    ("20000101", -1, "the sequence is 0-999, got -1"),
    ("20000101", 1000, "the sequence is 0-999, got 1000"),
])
def test_the_resident_id_maker_refuses_what_the_plain_builder_refuses(birth, sequence, message):
    maker = ResidentIdMaker()
    with pytest.raises(ValueError) as raised:
        maker.make("110105", birth, sequence)
    assert str(raised.value) == message
    assert maker.make("110105", "20000101", 0)[14:17] == "000"
    assert maker.make("110105", "20000101", 999)[14:17] == "999"


@relaxed
@given(regions, births, sequences)
def test_the_resident_id_maker_agrees_with_the_plain_builder(region, birth, sequence):
    maker = ResidentIdMaker()
    yyyymmdd = birth.strftime("%Y%m%d")
    made = maker.make(region, yyyymmdd, sequence)
    assert made == make_resident_id(region, birth, sequence)
    assert maker.make(region, yyyymmdd, sequence) == made
    assert check.resident_id_ok(made)


@relaxed
@given(regions, births, sequences)
def test_every_built_resident_id_passes_the_independent_check(region, birth, sequence):
    rid = make_resident_id(region, birth, sequence)
    assert check.resident_id_ok(rid)
    assert resident_id_gender(rid) == ("male" if sequence % 2 else "female")


@relaxed
@given(st.sampled_from("9"), st.sampled_from("12"), regions, st.text(alphabet=string.digits + string.ascii_uppercase,
                                                                    min_size=8, max_size=8))
def test_every_built_credit_code_passes_the_independent_checks(authority, kind, region, body):
    # Organisation code bodies may use all 26 letters (GB 11714), the credit code only 31 characters.
    assume(all(c in CREDIT_CODE_ALPHABET for c in body))
    code = make_credit_code(authority, kind, region, body)
    assert check.credit_code_ok(code)
    assert check.org_code_ok(code[8:17])


@settings(deadline=None, max_examples=10)
@given(st.integers(min_value=0, max_value=2**32))
def test_every_generated_identifier_passes_the_independent_check(seed):
    for chunk in iter_records(CITIZENS_V1, seed, CITIZENS_V1.min_size):
        for person in chunk.persons:
            assert check.resident_id_ok(person["resident_id"]), person
            if person["guardian_resident_id"]:
                assert check.resident_id_ok(person["guardian_resident_id"])
        for business in chunk.businesses:
            assert check.credit_code_ok(business["credit_code"]), business
            assert check.org_code_ok(business["credit_code"][8:17]), business
            assert check.resident_id_ok(business["legal_representative"])
