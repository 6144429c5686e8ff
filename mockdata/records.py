"""Builders of single records: a person, a household, a business, an e-licence, a vehicle, an insurance record.

A ``RecordFactory`` belongs to one chunk of one dataset: it draws from that chunk's seeded random stream
and collects what it builds in its lists, in the order built. Every choice goes through its two seeded
streams — one for persons and households, one for what they hold — with no calls into third-party fakers, no global random
state and no clock, which is what makes the bytes reproducible.
"""

from __future__ import annotations

from bisect import bisect
from datetime import date
from functools import cache
from random import Random

from mockdata import vocabulary as v
from mockdata.identifiers import ResidentIdMaker, make_credit_code
from mockdata.specs import DatasetSpec

ENTITIES = ("persons", "businesses", "licences", "vehicles", "social_insurance")

LICENCE_TYPE_NAMES = {"business_licence": "营业执照", "food_business_licence": "食品经营许可证", "id_card": "居民身份证",
                      "driving_licence": "机动车驾驶证", "social_security_card": "社会保障卡"}
LICENCE_PREFIX = {"business_licence": "BL", "food_business_licence": "FL", "id_card": "ID", "driving_licence": "DL",
                  "social_security_card": "SSC"}
INSURANCE_TYPE_NAMES = {"employee_pension": "职工基本养老保险", "employee_medical": "职工基本医疗保险",
                        "resident_pension": "城乡居民基本养老保险", "resident_medical": "城乡居民基本医疗保险",
                        "unemployment": "失业保险"}
ENTITY_TYPE_NAMES = {"limited_company": "有限责任公司", "individual_business": "个体工商户"}

_ORG_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # the credit-code alphabet; org bodies must fit inside it
_ORG_SPACE = 31 ** 6
_ORG_MULTIPLIER = 387_420_489  # 3^18, coprime with 31: n -> (n*k + c) mod 31^6 is a bijection, so org codes are unique
_BUSINESSES_PER_CHUNK = 100_000
_INDUSTRY_CUM = [sum(i[1] for i in v.INDUSTRIES[: k + 1]) for k in range(len(v.INDUSTRIES))]
_HOUSEHOLD_SIZE_CUM = (25, 55, 80, 95, 100)  # 1..5 persons
_SURNAME_TOTAL = v.SURNAME_CUM_WEIGHTS[-1]


def org_body(n: int, prefix: str = "MA") -> str:
    """An 8-character organisation-code body, unique for each ``n`` below 31^6."""
    value = (n * _ORG_MULTIPLIER + 123_456_789) % _ORG_SPACE
    chars = []
    for _ in range(6):
        value, digit = divmod(value, 31)
        chars.append(_ORG_ALPHABET[digit])
    return prefix + "".join(reversed(chars))


# Dates are handled as ordinals and written through this table: a list index instead of
# date.fromordinal(...).isoformat() for the ten or so dates of every person.
_ISO_BASE = date(1880, 1, 1).toordinal()
_ISO = [date.fromordinal(o).isoformat() for o in range(_ISO_BASE, date(2100, 12, 31).toordinal() + 1)]


# Shared by every factory in a process: its caches of per-region and per-birth-date sums fill up after a
# few chunks and are then hit on almost every person.
_RESIDENT_IDS = ResidentIdMaker()


def iso(ordinal: int) -> str:
    return _ISO[ordinal - _ISO_BASE]


@cache
def _authority(province_code: str, suffix: str) -> str:
    _, province, capital, _ = v.PROVINCE_BY_CODE[province_code]
    return f"{capital or province}{suffix}"


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


_VIN_VALUES = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
               **dict(zip("JKLMN", range(1, 6), strict=True)), "P": 7, "R": 9,
               **dict(zip("STUVWXYZ", range(2, 10), strict=True))}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


def vin_with_check(vin: str) -> str:
    """Put the ISO 3779 check character in position 9 of a 17-character VIN."""
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    check = total % 11
    return vin[:8] + ("X" if check == 10 else str(check)) + vin[9:]


class RecordFactory:
    def __init__(self, spec: DatasetSpec, seed: int, chunk_index: int, *, with_extras: bool = True) -> None:
        self.spec = spec
        # Synthetic data, not secrets: a seeded, reproducible generator is the point. Persons and what
        # they hold draw from separate streams, so persons come out the same whether or not the rest is
        # generated (``with_extras=False`` builds persons only, three times faster).
        self.rng = Random(f"{spec.name}/{seed}/{chunk_index}")  # noqa: S311
        self._random = self.rng.random
        self._extras_random = Random(f"{spec.name}/{seed}/{chunk_index}/extras").random  # noqa: S311
        self.with_extras = with_extras
        self.chunk_index = chunk_index
        first = chunk_index * spec.regions_per_chunk
        self.regions = spec.region_codes[first: first + spec.regions_per_chunk]
        self.as_of = spec.as_of
        self._as_of_ord = spec.as_of.toordinal()
        self._as_of_year = spec.as_of.year
        self._as_of_md = spec.as_of.isoformat()[5:]
        self._sequences: dict[tuple[str, int, bool], int] = {}
        self._ids = _RESIDENT_IDS
        self._issuers: dict[str, tuple[str, str, str]] = {}
        self._person_base = chunk_index * spec.chunk_size
        self.persons: list[dict] = []
        self.businesses: list[dict] = []
        self.licences: list[dict] = []
        self.vehicles: list[dict] = []
        self.social_insurance: list[dict] = []

    def _ri(self, low: int, high: int) -> int:
        """A random integer in [low, high]; Random.randint costs three times as much per call."""
        return low + int(self._random() * (high - low + 1))

    def _pick(self, items):
        return items[int(self._random() * len(items))]

    # ---- persons -------------------------------------------------------------------------------

    def name(self, male: bool, kind: str) -> tuple[str, str, list[str]]:
        """(name, ethnicity, tags) for ``kind`` ``common``, ``rare`` or ``minority``."""
        random = self._random
        if kind == "minority":
            kazakh = random() < 0.3
            if kazakh:
                given = self._pick(v.KAZAKH_GIVEN_MALE if male else v.KAZAKH_GIVEN_FEMALE)
            else:
                given = self._pick(v.UYGHUR_GIVEN_MALE if male else v.UYGHUR_GIVEN_FEMALE)
            return f"{given}·{self._pick(v.FATHER_NAMES)}", "哈萨克族" if kazakh else "维吾尔族", ["minority_name"]
        if random() < self.spec.compound_surname_rate:
            surname = self._pick(v.COMPOUND_SURNAMES)
        else:
            surname = v.SURNAMES[bisect(v.SURNAME_CUM_WEIGHTS, random() * _SURNAME_TOTAL)]
        pool = v.GIVEN_MALE if male else v.GIVEN_FEMALE
        if kind == "rare":
            rare = self._pick(v.RARE_CHARACTERS)
            given = rare if random() < 0.5 else pool[int(random() * len(pool))][:1] + rare
            tags = ["rare_character"]
        else:
            given = pool[int(random() * len(pool))]
            if len(given) == 1 and random() < 0.55:
                given += pool[int(random() * len(pool))][:1]
            tags = []
        ethnicity = "汉族" if random() < 0.92 else self._pick(v.OTHER_ETHNICITIES)
        return surname + given, ethnicity, tags

    def address(self, region: str) -> str:
        _, province, capital, _ = v.PROVINCE_BY_CODE[region[:2]]
        district = v.DISTRICTS[int(region[2:]) % len(v.DISTRICTS)]
        street = v.STREET_WORDS[int(self._random() * len(v.STREET_WORDS))] + v.STREET_SUFFIXES[int(self._random() * 4)]
        return (f"{province}{capital}{district}区{street}{self._ri(1, 999)}号"
                f"{self._ri(1, 30)}栋{self._ri(1, 6)}单元{self._ri(1, 33)}{self._ri(1, 8):02d}室")

    def phone(self) -> str:
        random = self._random
        return f"{v.PHONE_PREFIXES[int(random() * len(v.PHONE_PREFIXES))]}{int(random() * 100_000_000):08d}"

    def resident_id(self, region: str, birth_ord: int, birth_iso: str, male: bool) -> str:
        key = (region, birth_ord, male)
        used = self._sequences.get(key)
        if used is None:
            used = int(self._random() * 400)
        self._sequences[key] = used + 1
        # Odd sequence for men, even for women; <500 people per (region, day, sex) keeps it unique.
        return self._ids.make(region, birth_iso[:4] + birth_iso[5:7] + birth_iso[8:], (2 * used + male) % 1000)

    def person(self, *, age: int, male: bool | None = None, kind: str | None = None, region: str,
               household_id: str, head: bool, address: str, guardian: str | None = None) -> dict:
        random, spec = self._random, self.spec
        if male is None:
            male = random() < 0.5
        if kind is None:
            r = random()
            kind = "common" if r >= spec.rare_name_rate + spec.minority_name_rate else (
                "rare" if r < spec.rare_name_rate else "minority")
        birth_ord = self._as_of_ord - age * 365 - (age // 4) - 1 - int(random() * 364)
        birth_iso = _ISO[birth_ord - _ISO_BASE]
        name, ethnicity, tags = self.name(male, kind)
        real_age = self._as_of_year - int(birth_iso[:4]) - (birth_iso[5:] > self._as_of_md)
        if real_age < 18:
            tags.append("minor")
        elif real_age >= 80:
            tags.append("elderly")
        person = {
            "resident_id": self.resident_id(region, birth_ord, birth_iso, male),
            "name": name,
            "gender": "male" if male else "female",
            "birth_date": birth_iso,
            "ethnicity": ethnicity,
            "phone": self.phone(),
            "address": address,
            "region_code": region,
            "household_id": household_id,
            "household_role": "head" if head else "member",
            "guardian_resident_id": guardian if real_age < 18 else None,
            "tags": tags,
        }
        self.persons.append(person)
        return person

    def new_household(self) -> tuple[str, str, str]:
        """(household id, region, address) for a household headed by the next person to be built."""
        region = self.regions[int(self._random() * len(self.regions))]
        return f"H{self._person_base + len(self.persons):010d}", region, self.address(region)

    def household(self, limit: int) -> None:
        """A household of up to ``limit`` persons with their licences, businesses, insurance and vehicles."""
        size = bisect(_HOUSEHOLD_SIZE_CUM, self._random() * 100) + 1
        household_id, region, address = self.new_household()
        head_age = 22 + int(self._random() * self._random() * 70)  # skewed towards younger heads, up to 91
        head_male = self._random() < 0.55
        head = self.person(age=head_age, male=head_male, region=region, household_id=household_id, head=True,
                           address=address)
        if self.with_extras:
            self.extras(head, head_age)
        ages = []
        if size >= 2:
            ages.append((max(18, head_age + self._ri(-6, 6)), not head_male))
        for _ in range(size - 2):
            if head_age < 48 or self._random() < 0.6:
                child = head_age - self._ri(22, 38)
                ages.append((child if child >= 0 else self._ri(0, 6), None))
            else:
                ages.append((min(104, head_age + self._ri(22, 34)), None))
        for age, male in ages[: limit - 1]:
            member = self.person(age=age, male=male, region=region, household_id=household_id, head=False,
                                 address=address, guardian=head["resident_id"])
            if self.with_extras:
                self.extras(member, age)

    # ---- what a person holds -------------------------------------------------------------------

    def extras(self, person: dict, age: int) -> None:
        """Licences, insurance, businesses and vehicles of a generated person, drawn by age (from the extras stream)."""
        persons_random = self._random
        self._random = self._extras_random
        try:
            self._extras(person, age)
        finally:
            self._random = persons_random

    def _extras(self, person: dict, age: int) -> None:
        random, spec = self._random, self.spec
        if age >= 16 or random() < 0.5:
            self.id_card(person, age, self._state())
        insured = random() >= spec.not_insured_rate
        if 18 <= age < 60 and random() < spec.employed_rate:
            employer = self.businesses[int(random() * len(self.businesses))]["credit_code"] if self.businesses else None
            status = "active" if insured else "terminated"
            self.insurance(person, "employee_pension", status, employer)
            self.insurance(person, "employee_medical", status, employer)
            if random() < 0.5:
                self.insurance(person, "unemployment", status, employer)
        else:
            self.insurance(person, "resident_pension" if age >= 60 else "resident_medical",
                           "active" if insured else "suspended", None)
        if insured and random() < spec.ssc_card_rate:
            self.ssc_card(person, self._state(revocable=False))
        if 18 <= age <= 75 and random() < spec.driving_licence_rate:
            self.driving_licence(person, age, self._state())
            if random() < spec.vehicle_rate:
                self.vehicle(person)
        if 22 <= age <= 70 and random() < spec.legal_rep_rate:
            business = self.business(person)
            state = self._state()
            if business["status"] != "active":
                state = "revoked"
            elif state == "revoked":
                business["status"] = "revoked"  # 吊销: the business stays registered but may not trade
            self.business_licence(business, state)
            industry = next(i for i in v.INDUSTRIES if i[0] == business["industry"])
            if random() < industry[4]:
                self.food_licence(business, self._state())

    def _state(self, revocable: bool = True) -> str:
        r = self._random()
        if r < self.spec.expired_rate:
            return "expired"
        if revocable and r < self.spec.expired_rate + self.spec.revoked_rate:
            return "revoked"
        return "valid"

    def licence(self, kind: str, number: str, holder_type: str, holder: dict, issuer: str, state: str,
                years: int | None, details: dict, *, revocation_reasons: tuple[str, ...] = ("依法撤销",),
                valid_from: date | None = None) -> dict:
        """An e-licence of ``years`` (None = long-term) in ``state`` on as_of.

        Never borderline: valid licences run at least 60 days past as_of, expired ones ended at least
        60 days before it. ``valid_from`` fixes the start of a valid long-term licence.
        """
        random, as_of = self._random, self._as_of_ord
        if state == "expired":
            until: int | None = as_of - 60 - int(random() * 1441)
            start = until - (years or 10) * 365
        elif years is None:
            until = None
            start = as_of - 30 - int(random() * 4351)
            if valid_from is not None and state == "valid":
                start = valid_from.toordinal()
        else:
            span = years * 365
            start = as_of - 30 - int(random() * (span - 89))
            until = start + span
        revoked_on = reason = None
        if state == "revoked":
            revoked = as_of - 30 - int(random() * 871)
            if start >= revoked:
                start = revoked - 200 - int(random() * 1801)
            revoked_on = _ISO[revoked - _ISO_BASE]
            reason = revocation_reasons[int(random() * len(revocation_reasons))]
        start_iso = _ISO[start - _ISO_BASE]
        record = {
            "licence_id": f"{LICENCE_PREFIX[kind]}-{number}",
            "type": kind,
            "type_name": LICENCE_TYPE_NAMES[kind],
            "number": number,
            "holder_type": holder_type,
            "holder_id": holder["resident_id"] if holder_type == "person" else holder["credit_code"],
            "holder_name": holder["name"],
            "issuer": issuer,
            "issued_on": start_iso,
            "valid_from": start_iso,
            "valid_until": None if until is None else _ISO[until - _ISO_BASE],
            "status": state,
            "revoked_on": revoked_on,
            "revocation_reason": reason,
            "details": details,
        }
        self.licences.append(record)
        return record

    def _authority(self, region: str, suffix: str) -> str:
        return _authority(region[:2], suffix)

    def issuers(self, region: str) -> tuple[str, str, str]:
        """(ID card, driving licence, social-security card) issuing offices for a region."""
        found = self._issuers.get(region)
        if found is None:
            district = v.DISTRICTS[int(region[2:]) % len(v.DISTRICTS)]
            found = self._issuers[region] = (self._authority(region, f"公安局{district}分局"),
                                             self._authority(region, "公安局交通警察支队"),
                                             self._authority(region, "人力资源和社会保障局"))
        return found

    def id_card(self, person: dict, age: int, state: str) -> dict:
        years = 5 if age < 16 else 10 if age <= 25 else 20 if age <= 45 else None
        if state == "revoked":
            state = "expired"
        return self.licence("id_card", person["resident_id"], "person", person, self.issuers(person["region_code"])[0],
                            state, years, {})

    def driving_licence(self, person: dict, age: int, state: str) -> dict:
        years = 6 if age < 25 else 10 if age < 60 else None
        kind = "C1" if self._random() < 0.85 else self._pick(("C2", "B2", "A2"))
        return self.licence("driving_licence", person["resident_id"], "person", person,
                            self.issuers(person["region_code"])[1], state, years, {"class": kind},
                            revocation_reasons=v.REVOCATION_REASONS_DRIVING)

    def ssc_card(self, person: dict, state: str) -> dict:
        card = f"{person['region_code'][:2]}{int(self._random() * 10**7):07d}{self._pick('ABCDEFGHJKLMNPQRTUWXY')}"
        return self.licence("social_security_card", person["resident_id"], "person", person,
                            self.issuers(person["region_code"])[2], state, 10,
                            {"card_number": card, "bank": self._pick(v.BANKS)})

    def insurance(self, person: dict, kind: str, status: str, employer: str | None) -> dict:
        random, as_of = self._random, self._as_of_ord
        employee = kind != "resident_pension" and kind != "resident_medical"
        rid = person["resident_id"]
        record = {
            "record_id": f"SI-{rid}-{kind}",
            "resident_id": rid,
            "insurance_type": kind,
            "insurance_type_name": INSURANCE_TYPE_NAMES[kind],
            "status": status,
            "employer_credit_code": employer if employee else None,
            "start_date": _ISO[as_of - 60 - int(random() * 7241) - _ISO_BASE],
            "end_date": None if status == "active" else _ISO[as_of - 1 - int(random() * 59) - _ISO_BASE],
            "monthly_base_fen": (45 + int(random() * 256)) * 10_000 if employee else None,
            "region_code": person["region_code"],
        }
        self.social_insurance.append(record)
        return record

    def vehicle(self, person: dict) -> dict:
        wmi, make = self._pick(v.VEHICLE_MAKES)
        body = wmi + "".join(self._pick(_VIN_CHARS) for _ in range(5)) + "0" + self._pick("NPRSTV") + \
            self._pick(_VIN_CHARS) + f"{self._ri(0, 999_999):06d}"
        abbreviation = v.PROVINCE_BY_CODE[person["region_code"][:2]][3]
        plate = abbreviation + self._pick("ABCDEFGHJK") + "".join(self._pick("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")
                                                                   for _ in range(5))
        record = {
            "vin": vin_with_check(body),
            "plate": plate,
            "owner_resident_id": person["resident_id"],
            "brand": make,
            "vehicle_type": self._pick(v.VEHICLE_TYPES),
            "registered_on": iso(self._as_of_ord - self._ri(30, 15 * 365)),
        }
        self.vehicles.append(record)
        return record

    # ---- businesses ----------------------------------------------------------------------------

    def business(self, legal_rep: dict, *, industry: str | None = None, entity_type: str | None = None,
                 area_tenths: int | None = None, status: str | None = None) -> dict:
        if industry is None:
            industry = v.INDUSTRIES[bisect(_INDUSTRY_CUM, self._random() * _INDUSTRY_CUM[-1])][0]
        spec = next(i for i in v.INDUSTRIES if i[0] == industry)
        if entity_type is None:
            entity_type = "limited_company" if self._random() < 0.6 else "individual_business"
        if area_tenths is None:
            # Mostly 20-300 m²; about one in eight below 20 m² (kiosks, small shops).
            area_tenths = self._ri(60, 199) if self._random() < 0.12 else self._ri(200, 3000)
        if status is None:
            status = "active" if self._random() < 0.96 else self._pick(("revoked", "deregistered"))
        region = legal_rep["region_code"]
        _, province, capital, _ = v.PROVINCE_BY_CODE[region[:2]]
        city = (capital or province)[:-1]
        n = self.chunk_index * _BUSINESSES_PER_CHUNK + len(self.businesses)
        if entity_type == "limited_company":
            name = f"{city}{self._pick(v.COMPANY_WORDS)}{self._pick(spec[2])}有限公司"
            capital_fen = self._pick((3, 5, 10, 30, 50, 100, 200, 500, 1000)) * 10_000 * 100
            code = make_credit_code("9", "1", region, org_body(n))
        else:
            district = v.DISTRICTS[int(region[2:]) % len(v.DISTRICTS)]
            name = f"{district}区{legal_rep['name'][0]}记{self._pick(v.INDIVIDUAL_SHOP_WORDS[industry])}"
            capital_fen = self._ri(1, 20) * 10_000 * 100
            code = make_credit_code("9", "2", region, org_body(n))
        established = date.fromordinal(self._as_of_ord - self._ri(90, 20 * 365))
        record = {
            "credit_code": code,
            "name": name,
            "entity_type": entity_type,
            "entity_type_name": ENTITY_TYPE_NAMES[entity_type],
            "legal_representative": legal_rep["resident_id"],
            "legal_representative_name": legal_rep["name"],
            "registered_capital_fen": capital_fen,
            "industry": industry,
            "business_scope": spec[3],
            "address": self.address(region),
            "premises_area_m2": area_tenths / 10,
            "established_on": established.isoformat(),
            "status": status,
            "region_code": region,
        }
        self.businesses.append(record)
        return record

    def business_licence(self, business: dict, state: str) -> dict:
        # Companies mostly hold long-term licences; fixed terms are 20 or 30 years.
        years = None if self._random() < 0.8 else self._pick((20, 30))
        return self.licence("business_licence", business["credit_code"], "business", business,
                            self._authority(business["region_code"], "市场监督管理局"), state, years, {},
                            revocation_reasons=v.REVOCATION_REASONS_BUSINESS,
                            valid_from=date.fromisoformat(business["established_on"]))

    def food_licence(self, business: dict, state: str, categories: list[str] | None = None) -> dict:
        if categories is None:
            if business["industry"] == "catering":
                categories = [v.HOT_FOOD] if business["premises_area_m2"] >= 20 else ["冷食类食品制售"]
                if self._random() < 0.4:
                    categories.append("饮品店")
            else:
                categories = ["预包装食品销售"] + (["散装食品销售"] if self._random() < 0.3 else [])
        subject = "2" if business["industry"] == "catering" else "1"
        # Region codes belong to one chunk and the index is unique within it, so the number is unique.
        first13 = f"{subject}{business['region_code']}{self.businesses.index(business):06d}"
        number = "JY" + first13 + _luhn_digit(first13)
        return self.licence("food_business_licence", number, "business", business,
                            self._authority(business["region_code"], "市场监督管理局"), state, 5,
                            {"business_categories": categories, "premises_area_m2": business["premises_area_m2"]})
