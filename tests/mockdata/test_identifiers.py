"""The check-digit algorithms, as properties and against the platform's own validators in core.ids."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core import ids as core_ids
from mockdata.identifiers import (
    CREDIT_CODE_ALPHABET,
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


@pytest.mark.parametrize("value", ["", "11010519491231002", "1101051949123100Z2", "11010519491331002X", None])
def test_malformed_resident_ids_are_invalid(value):
    assert not resident_id_is_valid(value)


@pytest.mark.parametrize("value", ["", "91110108551385082", "9111010855138508IQ", "91110108551385082q"])
def test_malformed_credit_codes_are_invalid(value):
    assert not credit_code_is_valid(value)


def test_builders_refuse_what_cannot_be_an_identifier():
    with pytest.raises(ValueError, match="region code"):
        make_resident_id("1101", date(2000, 1, 1), 1)
    with pytest.raises(ValueError, match="sequence"):
        make_resident_id("110105", date(2000, 1, 1), 1000)
    with pytest.raises(ValueError, match="not allowed"):
        credit_code_check_char("9111010855138508I")
