"""What a citizen's request names: the gateway finds resident ID numbers and credit codes in the path, query and a
form-sized body, so that a department refusal about them is not counted against the app."""

from __future__ import annotations

from datetime import date

from marketplace.gateway.services import subjects_named
from mockdata.delegation import MAX_NAMED
from mockdata.identifiers import credit_code_is_valid, make_resident_id, resident_id_is_valid

PERSON = "410320199607073214"
CHILD_X = "11010520180307152X"
BUSINESS = "91410320MA49M30274"


def test_valid_ids_and_credit_codes_are_found_in_any_text_once_and_in_order():
    assert resident_id_is_valid(PERSON) and credit_code_is_valid(BUSINESS)
    texts = [f"/persons/{PERSON}", f"credit_code={BUSINESS}&x=1",
             f'{{"child": "{CHILD_X.lower()}", "again": "{PERSON}"}}']
    found = subjects_named(*texts)
    assert found[:2] == [PERSON, BUSINESS] and len(found) == len(set(found))
    assert (CHILD_X in found) == resident_id_is_valid(CHILD_X)


def test_what_only_looks_like_an_id_is_not_named():
    wrong_check = PERSON[:-1] + ("5" if PERSON[-1] != "5" else "6")
    assert subjects_named(wrong_check, f"phone=1{PERSON}", f"{PERSON}9", "91410320MA49M3027X") == []


def test_at_most_max_named_are_carried():
    many = [make_resident_id("110105", date(1990, 1, 1), n) for n in range(1, MAX_NAMED + 10)]
    assert subjects_named(" ".join(many)) == many[:MAX_NAMED]
