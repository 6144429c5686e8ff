"""Datasets: same inputs give the same bytes, and every record is well-formed and consistent."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
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


# The bytes of citizens-v1, seed 42, 2,000 persons, written once (2026-12-03, from the word lists copied out of
# Faker 40.60.0, the release citizens-v1 was published with). Vendors' suites are certified against these bytes:
# no dependency upgrade, platform release or machine may change them.
CITIZENS_V1_42_2000_SHA256 = {
    "persons.jsonl": "5bbf0b0c68e25cbaedb7c6063507fa36965a0d79c26736b9ff65936d23c17b33",
    "businesses.jsonl": "406c2f50491851d71a4093dfadb70df868c724033e10266dcf4c92a294bc8ed2",
    "licences.jsonl": "64c7b5056cd0e69d89dba4dc28e26e17dd470ca37e7c64360e69c1d710a0c34f",
    "vehicles.jsonl": "b11311b6210b852fa523ad28f328ca41e0a0ac53a785062bcb0b1ad5ef729be0",
    "social_insurance.jsonl": "1a1928376b8c0e21d0473801079e53668445aac660dd126220403940acc9b322",
    "scenarios.json": "ea9a5f7f2c8a9bd14768d9b81976496119980c897b68f30f92b87c4106db0f3d",
}

# Run in a fresh interpreter where `import faker` fails: generation must not need any Faker, installed or not.
_WITHOUT_FAKER = """
import builtins, json, pathlib, sys
real_import = builtins.__import__
def refuse_faker(name, *args, **kwargs):
    if name == "faker" or name.startswith("faker."):
        raise ModuleNotFoundError("No module named 'faker' (hidden by the test)")
    return real_import(name, *args, **kwargs)
builtins.__import__ = refuse_faker
from mockdata.output import write_jsonl
from mockdata.specs import CITIZENS_V1
print(json.dumps(write_jsonl(CITIZENS_V1, 42, 2000, pathlib.Path(sys.argv[1]))["sha256"]))
"""


def test_a_published_dataset_is_the_same_bytes_with_or_without_any_faker_installed(tmp_path):
    out = subprocess.run([sys.executable, "-c", _WITHOUT_FAKER, str(tmp_path)], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert json.loads(out.stdout) == CITIZENS_V1_42_2000_SHA256


def test_mockdata_reads_no_third_party_word_lists():
    import ast

    package = Path(__file__).resolve().parents[2] / "mockdata"
    imported = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert "faker" not in imported


def test_the_word_lists_are_those_citizens_v1_was_published_with():
    from mockdata.vocabulary import WORDLISTS_FILE, wordlists_sha256

    assert (CITIZENS_V1.wordlists, CITIZENS_V1.wordlists_sha256) == (WORDLISTS_FILE, wordlists_sha256())
    assert CITIZENS_V1.wordlists_sha256 == "bf7515cb6b6a5d1e5ca77796ef2ef33d1338ef6344d8121f340d8d281de719da"


def test_generation_refuses_other_word_lists_rather_than_give_other_data(tmp_path):
    altered = dataclasses.replace(CITIZENS_V1, name="citizens-v1-altered-lists", wordlists_sha256="0" * 64)
    with pytest.raises(RuntimeError, match="differ from those spec citizens-v1-altered-lists was published with"):
        write_jsonl(altered, 1, 100, tmp_path)
    missing = dataclasses.replace(CITIZENS_V1, name="citizens-v1-other-file", wordlists="zh_CN-v9.json")
    with pytest.raises(RuntimeError, match="does not carry"):
        write_jsonl(missing, 1, 100, tmp_path)


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
