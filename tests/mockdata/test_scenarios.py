"""Named scenarios exist in every dataset and mean what their names say."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockdata.records import age_on
from mockdata.rules import decide_food_licence, decide_social_security_card
from mockdata.scenarios import SCENARIO_NAMES
from mockdata.specs import CITIZENS_V1
from mockdata.store import MemoryStore
from mockdata.vocabulary import HOT_FOOD

AS_OF = CITIZENS_V1.as_of


def valid_on(licence: dict, day: date) -> bool:
    iso = day.isoformat()
    return (licence["revoked_on"] is None and licence["valid_from"] <= iso
            and (licence["valid_until"] is None or iso <= licence["valid_until"]))


@pytest.fixture(scope="module", params=[(1, 100), (42, 100), (42, 2000), (7, 12_345)], ids=lambda p: f"seed{p[0]}-size{p[1]}")
def dataset(request) -> MemoryStore:
    seed, size = request.param
    return MemoryStore("citizens-v1", seed, size)


def test_every_named_scenario_is_there(dataset):
    assert set(dataset.scenarios) == set(SCENARIO_NAMES)


def test_scenarios_are_the_same_records_for_every_size():
    assert MemoryStore("citizens-v1", 3, 100).scenarios == MemoryStore("citizens-v1", 3, 10_500).scenarios


def test_scenario_records_are_in_the_dataset_as_described(dataset):
    for name, scenario in dataset.scenarios.items():
        assert dataset.person(scenario["applicant"]["resident_id"]) == scenario["applicant"], name
        if "business" in scenario and name != "food_unknown_business":
            assert dataset.business(scenario["business"]["credit_code"]) == scenario["business"], name


def _business_licence(store: MemoryStore, code: str) -> dict:
    [licence] = [lic for lic in store.licences_of(code) if lic["type"] == "business_licence"]
    return licence


def test_food_scenarios_hold(dataset):
    s = dataset.scenarios
    ok = s["food_ok"]
    assert ok["business"]["legal_representative"] == ok["applicant"]["resident_id"]
    assert ok["business"]["premises_area_m2"] >= 20 and ok["business"]["status"] == "active"
    assert valid_on(_business_licence(dataset, ok["business"]["credit_code"]), AS_OF)
    assert age_on(date.fromisoformat(ok["applicant"]["birth_date"]), AS_OF) >= 18

    other = s["food_not_legal_rep"]
    assert other["business"]["legal_representative"] != other["applicant"]["resident_id"]
    assert dataset.person(other["business"]["legal_representative"]) == other["legal_representative"]

    expired = _business_licence(dataset, s["food_licence_expired"]["business"]["credit_code"])
    assert expired["status"] == "expired" and expired["valid_until"] < AS_OF.isoformat()
    revoked = _business_licence(dataset, s["food_licence_revoked"]["business"]["credit_code"])
    assert revoked["status"] == "revoked" and revoked["revoked_on"] < AS_OF.isoformat()

    small = s["food_small_premises_hot_food"]
    assert small["business"]["premises_area_m2"] < 20 and HOT_FOOD in small["application"]["business_categories"]
    assert valid_on(_business_licence(dataset, small["business"]["credit_code"]), AS_OF)

    assert dataset.business(s["food_unknown_business"]["business"]["credit_code"]) is None


def test_ssc_scenarios_hold(dataset):
    s = dataset.scenarios

    def insured(person):
        return any(r["status"] == "active" for r in dataset.insurance_of(person["resident_id"]))

    def has_card(person):
        return any(lic["type"] == "social_security_card" and valid_on(lic, AS_OF)
                   for lic in dataset.licences_of(person["resident_id"]))

    assert insured(s["ssc_ok"]["applicant"]) and not has_card(s["ssc_ok"]["applicant"])
    assert insured(s["ssc_already_has_card"]["applicant"]) and has_card(s["ssc_already_has_card"]["applicant"])
    assert not insured(s["ssc_not_insured"]["applicant"])
    minor, guardian = s["ssc_minor"]["applicant"], s["ssc_minor"]["guardian"]
    assert "minor" in minor["tags"] and insured(minor) and not has_card(minor)
    assert minor["guardian_resident_id"] == guardian["resident_id"] == s["ssc_minor"]["application"]["guardian_resident_id"]


def test_awkward_scenarios_hold(dataset):
    assert_awkward_scenarios_hold(dataset)


def assert_awkward_scenarios_hold(dataset):
    s = dataset.scenarios
    with pytest.raises(UnicodeEncodeError):
        s["awkward_rare_name"]["applicant"]["name"].encode("gb2312")
    assert "·" in s["awkward_minority_name"]["applicant"]["name"]
    assert age_on(date.fromisoformat(s["awkward_elderly"]["applicant"]["birth_date"]), AS_OF) >= 90


def test_the_department_decides_each_scenario_as_expected(dataset):
    assert_decided_as_expected(dataset)


def assert_decided_as_expected(dataset):
    for name, scenario in dataset.scenarios.items():
        if "application" not in scenario:
            continue
        decide = decide_food_licence if name.startswith("food") else decide_social_security_card
        application = {"guardian_resident_id": None, **scenario["application"]}
        reasons = decide(dataset, application, AS_OF)
        assert [r["code"] for r in reasons] == scenario["expected"]["reasons"], name
        assert ("rejected" if reasons else "accepted") == scenario["expected"]["decision"], name


def test_the_example_records_in_the_docs_are_real():
    # docs/mockdata.md shows food_ok of seed 42 as its person, business and licence examples: keep them true.
    import json
    import re
    from pathlib import Path

    from mockdata.generator import scenarios_for

    text = (Path(__file__).resolve().parents[2] / "docs" / "mockdata.md").read_text(encoding="utf-8")
    blocks = [json.loads(block) for block in re.findall(r"```json\n(.*?)\n```", text, re.S)]
    food_ok = scenarios_for(CITIZENS_V1, 42)["food_ok"]
    assert blocks[0] == food_ok["applicant"]
    assert blocks[1] == food_ok["business"]
    assert blocks[2] == food_ok["licences"][0]


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=2**63))
def test_scenarios_hold_for_any_seed(seed):
    store = MemoryStore("citizens-v1", seed, 100)
    assert set(store.scenarios) == set(SCENARIO_NAMES)
    assert_decided_as_expected(store)
    assert_awkward_scenarios_hold(store)
