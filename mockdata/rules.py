"""The departments' decision rules for the demo items, over a dataset store.

Pure functions: they read the store and the request body and return reasons, which the service turns
into a decision. They decide on ``today`` from the records' dates, not from the ``status`` fields (which
describe the dataset's as_of), so a service configured with another day decides consistently.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from mockdata.identifiers import credit_code_is_valid, resident_id_is_valid
from mockdata.vocabulary import FOOD_CATEGORIES, HOT_FOOD

HOT_FOOD_MIN_AREA_M2 = 20

MATERIAL_NAMES = {
    "application_form": "申请书",
    "business_licence": "营业执照",
    "legal_rep_id": "法定代表人身份证明",
    "premises_layout": "经营场所和设备布局图",
    "food_safety_rules": "食品安全管理制度",
    "id_card": "居民身份证",
    "photo": "本人近期免冠照片",
    "guardian_id_card": "监护人居民身份证",
    "household_register": "户口簿",
}
FOOD_MATERIALS = ("application_form", "business_licence", "legal_rep_id", "premises_layout", "food_safety_rules")
SSC_MATERIALS = ("application_form", "id_card", "photo")
SSC_MINOR_MATERIALS = (*SSC_MATERIALS, "guardian_id_card", "household_register")


class DatasetStore(Protocol):
    """Where the rules and the service read the dataset from (in memory or a SQLite file)."""

    info: dict
    scenarios: dict

    def person(self, resident_id: str) -> dict | None: ...
    def business(self, credit_code: str) -> dict | None: ...
    def licences_of(self, holder_id: str) -> list[dict]: ...
    def businesses_of(self, resident_id: str) -> list[dict]: ...
    def insurance_of(self, resident_id: str) -> list[dict]: ...


class InvalidApplication(Exception):
    """The request body cannot be decided on; ``problems`` maps each field to what is wrong with it."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def _reason(code: str, message: str, **extra: Any) -> dict:
    return {"code": code, "message": message, **extra}


def _valid_on(licence: dict, today: date) -> bool:
    iso = today.isoformat()
    if licence["revoked_on"] and licence["revoked_on"] <= iso:
        return False
    return licence["valid_from"] <= iso and (licence["valid_until"] is None or iso <= licence["valid_until"])


def _age_on(person: dict, today: date) -> int:
    birth = date.fromisoformat(person["birth_date"])
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _missing_materials(given: list[str], required: tuple[str, ...]) -> dict | None:
    missing = [{"code": code, "name": MATERIAL_NAMES[code]} for code in required if code not in given]
    if not missing:
        return None
    names = "、".join(m["name"] for m in missing)
    return _reason("materials_missing", f"缺少申请材料：{names}", materials=missing)


def _materials(body: dict, problems: dict[str, str]) -> list[str]:
    materials = body.get("materials", [])
    if not isinstance(materials, list) or not all(isinstance(m, str) for m in materials):
        problems["materials"] = f"a list of material codes ({', '.join(MATERIAL_NAMES)}), got {materials!r}"
        return []
    return materials


def _resident_id(body: dict, field: str, problems: dict[str, str], *, required: bool = True) -> str | None:
    value = body.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not resident_id_is_valid(value):
        problems[field] = f"a resident ID number (17 digits and a check character), got {value!r}"
        return None
    return value


def validate_food_application(body: Any) -> dict:
    if not isinstance(body, dict):
        raise InvalidApplication({"body": "send a JSON object"})
    problems: dict[str, str] = {}
    applicant = _resident_id(body, "applicant_resident_id", problems)
    code = body.get("credit_code")
    if not isinstance(code, str) or not credit_code_is_valid(code):
        problems["credit_code"] = f"a unified social credit code (18 characters, valid check character), got {code!r}"
    area = body.get("premises_area_m2")
    if isinstance(area, bool) or not isinstance(area, int | float) or area <= 0:
        problems["premises_area_m2"] = f"the floor area in m² as a positive number, got {area!r}"
    address = body.get("premises_address")
    if not isinstance(address, str) or not address.strip():
        problems["premises_address"] = "the premises address is required"
    categories = body.get("business_categories")
    if (not isinstance(categories, list) or not categories
            or not all(isinstance(c, str) and c in FOOD_CATEGORIES for c in categories)):
        problems["business_categories"] = f"a non-empty list drawn from {', '.join(FOOD_CATEGORIES)}, got {categories!r}"
    materials = _materials(body, problems)
    phone = body.get("contact_phone")
    if phone is not None and (not isinstance(phone, str) or len(phone) != 11 or not phone.isdigit()):
        problems["contact_phone"] = f"11 digits, got {phone!r}"
    if problems:
        raise InvalidApplication(problems)
    return {"applicant_resident_id": applicant, "credit_code": code, "premises_area_m2": area,
            "premises_address": address, "business_categories": categories, "materials": materials,
            "contact_phone": phone}


def decide_food_licence(store: DatasetStore, application: dict, today: date) -> list[dict]:
    """Reasons to refuse a food business licence application (食品经营许可证核发); empty means accept."""
    reasons: list[dict] = []
    rid, code = application["applicant_resident_id"], application["credit_code"]
    person = store.person(rid)
    if person is None:
        reasons.append(_reason("applicant_unknown", f"申请人身份证号 {rid} 查无此人"))
    business = store.business(code)
    if business is None:
        reasons.append(_reason("business_unknown", f"统一社会信用代码 {code} 查无此市场主体"))
    else:
        if business["status"] == "deregistered":
            reasons.append(_reason("business_deregistered", f"市场主体 {business['name']} 已注销"))
        if person is not None and business["legal_representative"] != rid:
            reasons.append(_reason("not_legal_representative",
                                   f"申请人 {person['name']} 不是 {business['name']} 的法定代表人"))
        licences = [lic for lic in store.licences_of(code) if lic["type"] == "business_licence"]
        if not licences:
            reasons.append(_reason("business_licence_missing", f"{business['name']} 没有营业执照"))
        elif not any(_valid_on(lic, today) for lic in licences):
            revoked = [lic for lic in licences if lic["revoked_on"] and lic["revoked_on"] <= today.isoformat()]
            if revoked:
                lic = revoked[-1]
                reasons.append(_reason("business_licence_revoked",
                                       f"营业执照已于 {lic['revoked_on']} 被吊销（{lic['revocation_reason']}）",
                                       revoked_on=lic["revoked_on"]))
            else:
                lic = max(licences, key=lambda item: item["valid_until"] or "9999")
                reasons.append(_reason("business_licence_expired", f"营业执照已于 {lic['valid_until']} 过期",
                                       valid_until=lic["valid_until"]))
    area = application["premises_area_m2"]
    if area < HOT_FOOD_MIN_AREA_M2 and HOT_FOOD in application["business_categories"]:
        reasons.append(_reason("premises_too_small_for_hot_food",
                               f"经营场所面积 {area} m² 小于 {HOT_FOOD_MIN_AREA_M2} m²，不能经营{HOT_FOOD}"))
    missing = _missing_materials(application["materials"], FOOD_MATERIALS)
    if missing:
        reasons.append(missing)
    return reasons


def validate_ssc_application(body: Any) -> dict:
    if not isinstance(body, dict):
        raise InvalidApplication({"body": "send a JSON object"})
    problems: dict[str, str] = {}
    applicant = _resident_id(body, "applicant_resident_id", problems)
    guardian = _resident_id(body, "guardian_resident_id", problems, required=False)
    materials = _materials(body, problems)
    for field in ("mailing_address", "contact_phone"):
        if body.get(field) is not None and not isinstance(body[field], str):
            problems[field] = f"a string, got {body[field]!r}"
    if problems:
        raise InvalidApplication(problems)
    return {"applicant_resident_id": applicant, "guardian_resident_id": guardian, "materials": materials,
            "mailing_address": body.get("mailing_address"), "contact_phone": body.get("contact_phone")}


def decide_social_security_card(store: DatasetStore, application: dict, today: date) -> list[dict]:
    """Reasons to refuse a social-security card application (社保卡申领); empty means accept."""
    rid = application["applicant_resident_id"]
    person = store.person(rid)
    if person is None:
        return [_reason("applicant_unknown", f"申请人身份证号 {rid} 查无此人")]
    reasons: list[dict] = []
    iso = today.isoformat()
    insured = any(r["status"] == "active" and r["start_date"] <= iso and (r["end_date"] is None or iso <= r["end_date"])
                  for r in store.insurance_of(rid))
    if not insured:
        reasons.append(_reason("not_insured", f"{person['name']} 没有正常参保的社会保险记录，请先办理参保登记"))
    cards = [lic for lic in store.licences_of(rid) if lic["type"] == "social_security_card" and _valid_on(lic, today)]
    if cards:
        card_number = cards[0]["details"]["card_number"]
        reasons.append(_reason("already_has_card", f"{person['name']} 已持有有效的社会保障卡（{card_number}）"))
    minor = _age_on(person, today) < 18
    if minor:
        guardian = application["guardian_resident_id"]
        if guardian is None:
            reasons.append(_reason("guardian_required", "申请人未满 18 周岁，须由监护人代为申领并填写监护人身份证号"))
        elif guardian != person["guardian_resident_id"]:
            reasons.append(_reason("guardian_mismatch", f"{guardian} 不是申请人登记的监护人"))
    missing = _missing_materials(application["materials"], SSC_MINOR_MATERIALS if minor else SSC_MATERIALS)
    if missing:
        reasons.append(missing)
    return reasons
