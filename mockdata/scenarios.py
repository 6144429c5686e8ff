"""Named scenarios: records built on purpose at the start of every dataset, so suites can name them.

The cast is the first thing drawn from chunk 0's random stream, before any ordinary household, so it is
the same for every size of a dataset (and its roles are the same for every seed; only names and numbers
change). Cast members get exactly the records their scenario needs and no random extras that could
spoil it (a random business, a social-security card).
"""

from __future__ import annotations

from datetime import date

from mockdata.identifiers import make_credit_code
from mockdata.records import RecordFactory, org_body
from mockdata.rules import FOOD_MATERIALS, SSC_MATERIALS, SSC_MINOR_MATERIALS
from mockdata.vocabulary import HOT_FOOD

SCENARIO_NAMES = (
    "food_ok", "food_not_legal_rep", "food_licence_expired", "food_licence_revoked", "food_small_premises_hot_food",
    "food_unknown_business", "ssc_ok", "ssc_already_has_card", "ssc_not_insured", "ssc_minor",
    "awkward_rare_name", "awkward_minority_name", "awkward_elderly",
)


def _food_application(applicant: dict, business: dict, categories: list[str]) -> dict:
    return {
        "applicant_resident_id": applicant["resident_id"],
        "credit_code": business["credit_code"],
        "premises_address": business.get("address", applicant["address"]),
        "premises_area_m2": business.get("premises_area_m2", 60.0),
        "business_categories": categories,
        "materials": list(FOOD_MATERIALS),
        "contact_phone": applicant["phone"],
    }


def _ssc_application(applicant: dict, guardian: dict | None = None) -> dict:
    return {
        "applicant_resident_id": applicant["resident_id"],
        "guardian_resident_id": guardian["resident_id"] if guardian else None,
        "materials": list(SSC_MINOR_MATERIALS if guardian else SSC_MATERIALS),
        "mailing_address": applicant["address"],
        "contact_phone": (guardian or applicant)["phone"],
    }


def build_cast(f: RecordFactory) -> dict[str, dict]:
    """Build every scenario's records into ``f`` and return the scenarios by name."""
    rng = f.rng

    def citizen(age: int, kind: str = "common") -> dict:
        household_id, region, address = f.new_household()
        person = f.person(age=age, kind=kind, region=region, household_id=household_id, head=True, address=address)
        f.id_card(person, age, "valid")
        return person

    def business_of(rep: dict, *, area_tenths: int, licence_state: str) -> tuple[dict, dict]:
        status = "revoked" if licence_state == "revoked" else "active"
        business = f.business(rep, industry="catering", entity_type="limited_company", area_tenths=area_tenths,
                              status=status)
        licence = f.licence("business_licence", business["credit_code"], "business", business,
                            f._authority(business["region_code"], "市场监督管理局"), licence_state,
                            None if licence_state == "valid" else 20, {},
                            revocation_reasons=("未依法报送年度报告，被吊销营业执照",),
                            valid_from=date.fromisoformat(business["established_on"]))
        return business, licence

    scenarios: dict[str, dict] = {}

    def food(name: str, description: str, *, area_tenths: int, licence_state: str, categories: list[str],
             decision: str, reasons: list[str], legal_rep: bool = True) -> None:
        applicant = citizen(rng.randint(28, 55))
        owner = applicant if legal_rep else citizen(rng.randint(30, 60))
        business, licence = business_of(owner, area_tenths=area_tenths, licence_state=licence_state)
        scenarios[name] = {
            "description": description, "applicant": applicant, "business": business, "licences": [licence],
            "application": _food_application(applicant, business, categories),
            "expected": {"decision": decision, "reasons": reasons},
        }
        if not legal_rep:
            scenarios[name]["legal_representative"] = owner

    food("food_ok", "The legal representative applies for a business with a valid business licence and premises of 20 m² "
         "or more.", area_tenths=rng.randint(300, 1500), licence_state="valid", categories=[HOT_FOOD, "饮品店"],
         decision="accepted", reasons=[])
    food("food_not_legal_rep", "An adult applies for a business whose legal representative is someone else.",
         area_tenths=rng.randint(300, 1500), licence_state="valid", categories=[HOT_FOOD], decision="rejected",
         reasons=["not_legal_representative"], legal_rep=False)
    food("food_licence_expired", "The legal representative applies; the business licence ended before the department's "
         "today.", area_tenths=rng.randint(300, 1500), licence_state="expired", categories=[HOT_FOOD],
         decision="rejected", reasons=["business_licence_expired"])
    food("food_licence_revoked", "The legal representative applies; the business licence was revoked.",
         area_tenths=rng.randint(300, 1500), licence_state="revoked", categories=[HOT_FOOD], decision="rejected",
         reasons=["business_licence_revoked"])
    food("food_small_premises_hot_food", "The legal representative of a business with premises under 20 m² applies "
         "for hot food (冷食类 alone would be accepted).", area_tenths=rng.randint(80, 195), licence_state="valid",
         categories=[HOT_FOOD], decision="rejected", reasons=["premises_too_small_for_hot_food"])

    applicant = citizen(rng.randint(25, 60))
    # A well-formed code in no dataset: generated businesses' organisation codes all start with "MA".
    unknown = {"credit_code": make_credit_code("9", "1", applicant["region_code"], org_body(rng.randrange(10**6), "MB"))}
    scenarios["food_unknown_business"] = {
        "description": "An adult applies with a well-formed credit code that belongs to no business.",
        "applicant": applicant, "business": unknown, "licences": [],
        "application": _food_application(applicant, unknown, ["冷食类食品制售"]),
        "expected": {"decision": "rejected", "reasons": ["business_unknown"]},
    }

    def insured(person: dict) -> list[dict]:
        return [f.insurance(person, "employee_pension", "active", None),
                f.insurance(person, "employee_medical", "active", None)]

    person = citizen(rng.randint(25, 55))
    records = insured(person)
    scenarios["ssc_ok"] = {
        "description": "An insured adult without a social-security card applies for one.",
        "applicant": person, "insurance": records, "licences": [],
        "application": _ssc_application(person), "expected": {"decision": "accepted", "reasons": []},
    }
    person = citizen(rng.randint(25, 55))
    records = insured(person)
    card = f.ssc_card(person, "valid")
    scenarios["ssc_already_has_card"] = {
        "description": "An insured adult who already holds a valid social-security card applies again.",
        "applicant": person, "insurance": records, "licences": [card],
        "application": _ssc_application(person), "expected": {"decision": "rejected", "reasons": ["already_has_card"]},
    }
    person = citizen(rng.randint(25, 55))
    records = [f.insurance(person, "resident_medical", "terminated", None)]
    scenarios["ssc_not_insured"] = {
        "description": "An adult whose only insurance record was terminated applies for a card.",
        "applicant": person, "insurance": records, "licences": [],
        "application": _ssc_application(person), "expected": {"decision": "rejected", "reasons": ["not_insured"]},
    }
    guardian = citizen(rng.randint(32, 45))
    child = f.person(age=rng.randint(6, 12), kind="common", region=guardian["region_code"],
                     household_id=guardian["household_id"], head=False, address=guardian["address"],
                     guardian=guardian["resident_id"])
    records = [f.insurance(child, "resident_medical", "active", None)]
    scenarios["ssc_minor"] = {
        "description": "An insured child without a card; the guardian (household head) applies on the child's behalf.",
        "applicant": child, "guardian": guardian, "insurance": records, "licences": [],
        "application": _ssc_application(child, guardian), "expected": {"decision": "accepted", "reasons": []},
    }

    for name, description, age, kind in (
        ("awkward_rare_name", "A person whose name has a character outside GB 2312.", rng.randint(20, 60), "rare"),
        ("awkward_minority_name", "A person with a minority name written with the middle dot.", rng.randint(20, 60),
         "minority"),
        ("awkward_elderly", "A person aged 90 or more.", rng.randint(90, 99), "common"),
    ):
        person = citizen(age, kind)
        scenarios[name] = {"description": description, "applicant": person,
                           "licences": [lic for lic in f.licences if lic["holder_id"] == person["resident_id"]]}
    return scenarios
