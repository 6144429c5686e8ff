"""Datasets: same inputs give the same bytes, and every record is well-formed and consistent."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date
from pathlib import Path

import pytest

from core import ids as core_ids
from mockdata.output import write_dataset, write_jsonl
from mockdata.records import ENTITIES, age_on
from mockdata.specs import CITIZENS_V1, get_spec, register_spec

# The real spec with small chunks, so a few hundred persons span several chunks and worker processes.
SMALL_CHUNKS = register_spec(dataclasses.replace(CITIZENS_V1, name="citizens-v1-small-chunks", chunk_size=150))


def digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def read_jsonl(directory: Path, entity: str) -> list[dict]:
    with (directory / f"{entity}.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("citizens-v1-42-1500")
    write_jsonl(CITIZENS_V1, 42, 1500, out)
    return out


def test_same_spec_seed_and_size_give_the_same_bytes(dataset, tmp_path):
    write_jsonl(CITIZENS_V1, 42, 1500, tmp_path)
    assert digest(tmp_path) == digest(dataset)


def test_another_seed_gives_other_data(dataset, tmp_path):
    write_jsonl(CITIZENS_V1, 43, 1500, tmp_path)
    assert digest(tmp_path)["persons.jsonl"] != digest(dataset)["persons.jsonl"]


def test_worker_processes_do_not_change_the_bytes(tmp_path):
    write_jsonl(SMALL_CHUNKS, 5, 700, tmp_path / "one", workers=1)
    write_jsonl(SMALL_CHUNKS, 5, 700, tmp_path / "two", workers=2)
    assert digest(tmp_path / "one") == digest(tmp_path / "two")
    assert len(read_jsonl(tmp_path / "two", "persons")) == 700


def test_sqlite_output_is_byte_identical_too(tmp_path):
    first = write_dataset(SMALL_CHUNKS, 5, 400, tmp_path / "a", "sqlite", workers=2)
    second = write_dataset(SMALL_CHUNKS, 5, 400, tmp_path / "b", "sqlite", workers=1)
    assert first.name == "citizens-v1-small-chunks-5-400.sqlite"
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()


def test_a_bigger_dataset_extends_a_smaller_one(tmp_path):
    write_jsonl(SMALL_CHUNKS, 9, 320, tmp_path / "small")
    write_jsonl(SMALL_CHUNKS, 9, 500, tmp_path / "big")
    small, big = read_jsonl(tmp_path / "small", "persons"), read_jsonl(tmp_path / "big", "persons")
    assert big[: len(small)] == small
    small_licences = read_jsonl(tmp_path / "small", "licences")
    assert read_jsonl(tmp_path / "big", "licences")[: len(small_licences)] == small_licences


def test_manifest_counts_and_hashes_match_the_files(dataset):
    manifest = json.loads((dataset / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["spec"] == "citizens-v1" and manifest["seed"] == 42 and manifest["size"] == 1500
    assert manifest["counts"]["persons"] == 1500
    for name, sha in manifest["sha256"].items():
        assert hashlib.sha256((dataset / name).read_bytes()).hexdigest() == sha
    for entity in ENTITIES:
        assert manifest["counts"][entity] == len(read_jsonl(dataset, entity)) > 0


def test_persons_are_well_formed(dataset):
    persons = read_jsonl(dataset, "persons")
    as_of = CITIZENS_V1.as_of
    assert len({p["resident_id"] for p in persons}) == len(persons)
    by_id = {p["resident_id"]: p for p in persons}
    for person in persons:
        rid = person["resident_id"]
        assert core_ids.resident_id_problem(rid) is None, rid
        assert rid[6:14] == person["birth_date"].replace("-", "")
        assert person["gender"] == ("male" if int(rid[16]) % 2 else "female")
        assert len(person["phone"]) == 11 and person["phone"].isdigit() and person["phone"][0] == "1"
        assert rid.startswith(person["region_code"])
        age = age_on(date.fromisoformat(person["birth_date"]), as_of)
        assert ("minor" in person["tags"]) == (age < 18)
        assert ("elderly" in person["tags"]) == (age >= 80)
        if age < 18:
            guardian = by_id[person["guardian_resident_id"]]
            assert guardian["household_id"] == person["household_id"] and guardian["address"] == person["address"]
        else:
            assert person["guardian_resident_id"] is None


def test_awkward_records_occur_naturally(dataset):
    persons = read_jsonl(dataset, "persons")
    rare = [p for p in persons if "rare_character" in p["tags"]]
    minority = [p for p in persons if "minority_name" in p["tags"]]
    assert rare and minority
    assert any("minor" in p["tags"] for p in persons) and any("elderly" in p["tags"] for p in persons)
    for person in rare:
        with pytest.raises(UnicodeEncodeError):
            person["name"].encode("gb2312")
    for person in minority:
        assert "·" in person["name"] and person["ethnicity"] != "汉族"


def test_businesses_have_valid_codes_and_real_legal_representatives(dataset):
    persons = {p["resident_id"]: p for p in read_jsonl(dataset, "persons")}
    businesses = read_jsonl(dataset, "businesses")
    assert len({b["credit_code"] for b in businesses}) == len(businesses)
    for business in businesses:
        assert core_ids.uscc_problem(business["credit_code"]) is None, business["credit_code"]
        representative = persons[business["legal_representative"]]
        assert representative["name"] == business["legal_representative_name"]
        assert isinstance(business["registered_capital_fen"], int) and business["registered_capital_fen"] > 0
        assert business["premises_area_m2"] > 0
    assert any(b["premises_area_m2"] < 20 for b in businesses) and any(b["premises_area_m2"] >= 20 for b in businesses)


def test_licences_are_consistent_with_their_holders_and_dates(dataset):
    holders = {p["resident_id"] for p in read_jsonl(dataset, "persons")} | {
        b["credit_code"] for b in read_jsonl(dataset, "businesses")}
    licences = read_jsonl(dataset, "licences")
    as_of = CITIZENS_V1.as_of.isoformat()
    assert len({lic["licence_id"] for lic in licences}) == len(licences)
    assert {lic["type"] for lic in licences} == {"business_licence", "food_business_licence", "id_card",
                                                  "driving_licence", "social_security_card"}
    assert {lic["status"] for lic in licences} == {"valid", "expired", "revoked"}
    for lic in licences:
        assert lic["holder_id"] in holders
        assert lic["valid_from"] <= as_of
        if lic["status"] == "expired":
            assert lic["valid_until"] < as_of
        elif lic["status"] == "revoked":
            assert lic["revoked_on"] < as_of and lic["revocation_reason"]
        else:
            assert lic["valid_until"] is None or lic["valid_until"] > as_of
            assert lic["revoked_on"] is None


def test_vehicles_and_insurance_belong_to_persons(dataset):
    persons = {p["resident_id"] for p in read_jsonl(dataset, "persons")}
    assert all(v["owner_resident_id"] in persons and len(v["vin"]) == 17 for v in read_jsonl(dataset, "vehicles"))
    records = read_jsonl(dataset, "social_insurance")
    assert all(r["resident_id"] in persons for r in records)
    assert {r["status"] for r in records} >= {"active"}
    assert all(isinstance(r["monthly_base_fen"], int) for r in records if r["insurance_type"].startswith("employee"))


def test_sizes_outside_the_spec_are_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 100"):
        write_jsonl(CITIZENS_V1, 1, 99, tmp_path)


def test_unknown_specs_name_the_known_ones():
    with pytest.raises(KeyError, match="citizens-v1"):
        get_spec("citizens-v0")


def test_the_fast_encoder_writes_the_same_bytes_as_the_standard_library():
    # Datasets must be byte-identical where orjson is missing (mockdata then falls back to json).
    import orjson

    from mockdata.generator import generate_chunk, stdlib_encoder

    stdlib = stdlib_encoder()
    tricky = {"name": "刘䶮 𠇔 阿依古丽·买买提", "escapes": "\"\\\n\t\x00\u2028", "numbers": [0, -1, 12.5, 275.0], "none": None}
    assert orjson.dumps(tricky) == stdlib(tricky)
    chunk = generate_chunk(CITIZENS_V1, 42, 3000, 0)
    for entity in ENTITIES:
        for record in getattr(chunk, entity):
            assert orjson.dumps(record) == stdlib(record)


def test_the_installed_faker_lists_are_those_citizens_v1_was_published_with():
    from mockdata.vocabulary import faker_lists_sha256

    assert faker_lists_sha256() == CITIZENS_V1.faker_lists_sha256


def test_generation_refuses_other_faker_lists_rather_than_give_other_data(tmp_path):
    altered = dataclasses.replace(CITIZENS_V1, name="citizens-v1-altered-lists", faker_lists_sha256="0" * 64)
    with pytest.raises(RuntimeError, match="Faker"):
        write_jsonl(altered, 1, 100, tmp_path)


def test_persons_are_the_same_bytes_whichever_entities_are_written(dataset, tmp_path):
    manifest = write_jsonl(CITIZENS_V1, 42, 1500, tmp_path, entities=("persons",))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "persons.jsonl", "scenarios.json"]
    assert (tmp_path / "persons.jsonl").read_bytes() == (dataset / "persons.jsonl").read_bytes()
    assert list(manifest["counts"]) == ["persons"]


def test_memory_does_not_grow_with_the_size(tmp_path):
    # Streaming: five times the persons (five times the chunks) must not need five times the memory.
    import tracemalloc

    def peak(size: int) -> int:
        write_jsonl(SMALL_CHUNKS, 11, 300, tmp_path / "warm-up")  # fill process-wide caches first
        tracemalloc.start()
        try:
            write_jsonl(SMALL_CHUNKS, 11, size, tmp_path / str(size))
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, big = peak(300), peak(1500)
    assert big < small * 1.5, (small, big)
