"""餐证快办 CanZheng: food business licence applications (食品经营许可证核发), by 云岭软件 (sample vendor).

Careful rather than quick: every department call is paced so as never to burst the department's
service, the applicant's own record and licences are re-read on every request, and every accepted
application is read back from the department before the citizen is answered.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from datetime import UTC, date, datetime

from flask import Flask, jsonify, request
from govapp.department import DepartmentClient, DepartmentError
from govapp.identity import IdentityError, identity_from_environ

app = Flask(__name__)
app.json.ensure_ascii = False  # Chinese as text, not \u escapes

ITEM = "food-licence"
HOT_FOOD = "热食类食品制售"
MIN_HOT_FOOD_AREA_M2 = 20
CATEGORIES = ["热食类食品制售", "冷食类食品制售", "生食类食品制售", "饮品店", "预包装食品销售", "散装食品销售"]
MATERIALS = {
    "application_form": "申请书",
    "business_licence": "营业执照",
    "legal_rep_id": "法定代表人身份证明",
    "premises_layout": "经营场所和设备布局图",
    "food_safety_rules": "食品安全管理制度",
}
CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
PHONE = re.compile(r"^1\d{10}$")

_applications: dict[str, dict] = {}   # id -> application
_by_request: dict[str, str] = {}      # fingerprint of (citizen, request) -> id
_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


class Refusal(Exception):
    def __init__(self, status: int, error: str, detail: str, **extra):
        super().__init__(detail)
        self.status, self.error, self.detail, self.extra = status, error, detail, extra


@app.errorhandler(Refusal)
def refused(exc: Refusal):
    return jsonify({"error": exc.error, "detail": exc.detail, **exc.extra}), exc.status


@app.errorhandler(IdentityError)
def unauthenticated(exc: IdentityError):
    detail = f"请通过平台打开本应用 (open the app through the platform): {exc}"
    return jsonify({"error": "unauthenticated", "detail": detail}), 401


@app.errorhandler(DepartmentError)
def department_failed(exc: DepartmentError):
    return jsonify({"error": "department_unavailable", "detail": f"部门服务暂时不可用，请稍后再试 ({exc.detail})"}), 502


PACING_S = 0.06  # pause before every department call


class PacedDepartment(DepartmentClient):
    def request(self, method, path, **kwargs):
        time.sleep(PACING_S)
        return super().request(method, path, **kwargs)


def dept() -> DepartmentClient:
    return PacedDepartment.from_env()


def applicant():
    citizen = identity_from_environ(request.environ)
    if not citizen.resident_id:
        raise Refusal(403, "consent_required", "办理此事项需要授权使用身份证号 (share your resident ID with this app to apply)")
    return citizen


def reason(code: str, message: str) -> dict:
    return {"code": code, "message": message}


def parse(body) -> dict:
    if not isinstance(body, dict):
        raise Refusal(400, "invalid_request", "请求体必须是 JSON 对象 (send a JSON object)")
    problems = []
    code = body.get("credit_code")
    if not isinstance(code, str) or not CREDIT_CODE.match(code.strip().upper()):
        problems.append("credit_code: 统一社会信用代码应为18位 (18 characters)")
    address = body.get("premises_address")
    if not isinstance(address, str) or not address.strip() or len(address) > 200:
        problems.append("premises_address: 请填写经营场所地址 (1–200 characters)")
    area = body.get("premises_area_m2")
    if isinstance(area, bool) or not isinstance(area, int | float) or area <= 0:
        problems.append("premises_area_m2: 经营面积应为正数 (a positive number of m²)")
    categories = body.get("business_categories")
    if not isinstance(categories, list) or not categories or not all(c in CATEGORIES for c in categories):
        problems.append(f"business_categories: 请从 {', '.join(CATEGORIES)} 中选择至少一项")
    materials = body.get("materials")
    if materials is not None and (not isinstance(materials, list) or not all(m in MATERIALS for m in materials)):
        problems.append(f"materials: 只能包含 {', '.join(MATERIALS)}")
    phone = body.get("contact_phone")
    if phone is not None and (not isinstance(phone, str) or not PHONE.match(phone)):
        problems.append("contact_phone: 手机号应为以1开头的11位数字 (11 digits starting with 1)")
    if problems:
        raise Refusal(400, "invalid_request", "; ".join(problems))
    return {
        "credit_code": code.strip().upper(),
        "premises_address": address.strip(),
        "premises_area_m2": area,
        "business_categories": sorted(set(categories), key=CATEGORIES.index),
        "materials": list(MATERIALS) if materials is None else sorted(set(materials), key=list(MATERIALS).index),
        "contact_phone": phone,
    }


def check_rules(client: DepartmentClient, resident_id: str, form: dict) -> tuple[dict, list, list]:
    """The business, the reasons to refuse and the missing materials — every rule, before submitting."""
    client.person(resident_id)  # re-read the applicant on every request
    client.person_licences(resident_id)
    try:
        business = client.business(form["credit_code"])
    except DepartmentError as exc:
        if exc.code == "invalid_identifier":
            raise Refusal(400, "invalid_request", f"credit_code: 统一社会信用代码校验位不正确 ({exc.detail})") from exc
        if exc.code == "not_represented":  # the department shows a business's record to its representatives only
            return {}, [reason("not_legal_representative", f"申请人不是 {form['credit_code']} 的法定代表人")], []
        raise
    if business is None:
        return {}, [reason("business_unknown", f"未查询到统一社会信用代码为 {form['credit_code']} 的市场主体")], []
    reasons = []
    if business.get("status") != "active":
        reasons.append(reason("business_deregistered", f"{business['name']} 已注销或吊销，不能申请"))
    if business.get("legal_representative") != resident_id:
        reasons.append(reason("not_legal_representative", f"申请人不是 {business['name']} 的法定代表人"))
    licences = [lic for lic in client.business_licences(form["credit_code"]) if lic["type"] == "business_licence"]
    if not licences:
        reasons.append(reason("business_licence_missing", "该市场主体没有营业执照"))
    else:
        licence = licences[0]
        if licence.get("status") == "revoked":
            reasons.append(reason("business_licence_revoked", f"营业执照已于 {licence.get('revoked_on')} 被吊销"))
        elif licence.get("status") == "expired" or (
                licence.get("valid_until") and date.fromisoformat(licence["valid_until"]) < date.today()):
            reasons.append(reason("business_licence_expired", f"营业执照已于 {licence.get('valid_until')} 到期"))
    if HOT_FOOD in form["business_categories"] and form["premises_area_m2"] < MIN_HOT_FOOD_AREA_M2:
        area = form["premises_area_m2"]
        reasons.append(reason("premises_too_small_for_hot_food",
                              f"经营场所面积 {area} m² 小于 {MIN_HOT_FOOD_AREA_M2} m²，不能经营热食类食品制售"))
    missing = [{"code": m, "name": MATERIALS[m]} for m in MATERIALS if m not in form["materials"]]
    if missing:
        reasons.append(reason("materials_missing", "缺少材料：" + "、".join(m["name"] for m in missing)))
    return business, reasons, missing


def _lock_for(fingerprint: str) -> threading.Lock:
    with _guard:
        return _locks.setdefault(fingerprint, threading.Lock())


@app.post("/applications")
def create_application():
    citizen = applicant()
    form = parse(request.get_json(silent=True))
    canonical = json.dumps([citizen.resident_id, form], sort_keys=True, ensure_ascii=False)
    fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
    with _lock_for(fingerprint):
        existing = _by_request.get(fingerprint)
        if existing:  # the citizen pressed submit again: answer with the case we already have
            return jsonify(_applications[existing]), 200
        client = dept()
        business, reasons, missing = check_rules(client, citizen.resident_id, form)
        if reasons:
            detail = "；".join(r["message"] for r in reasons)
            raise Refusal(422, "refused", detail, reasons=reasons, missing_materials=missing)
        submission = {"applicant_resident_id": citizen.resident_id, **{k: v for k, v in form.items() if k != "contact_phone"}}
        phone = form["contact_phone"] or citizen.phone
        if phone:
            submission["contact_phone"] = phone
        decision = client.submit_application(ITEM, submission)
        client.application(decision["case_number"])  # read the case back before answering
        application = {
            "id": uuid.uuid4().hex,
            "owner": citizen.sub,
            "status": "accepted" if decision["decision"] == "accepted" else "rejected",
            "case_number": decision["case_number"],
            "reasons": decision.get("reasons", []),
            "missing_materials": decision.get("missing_materials", []),
            "credit_code": form["credit_code"],
            "business_name": business.get("name", ""),
            "business_categories": form["business_categories"],
            "submitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        _applications[application["id"]] = application
        _by_request[fingerprint] = application["id"]
    public = {k: v for k, v in application.items() if k != "owner"}
    return jsonify(public), 201 if application["status"] == "accepted" else 200


@app.get("/applications/<application_id>")
def get_application(application_id: str):
    citizen = identity_from_environ(request.environ)
    application = _applications.get(application_id)
    if application is None or application["owner"] != citizen.sub:
        raise Refusal(404, "not_found", f"没有编号为 {application_id} 的申请 (no such application)")
    case = dept().application(application["case_number"])
    if case and case.get("status") in ("accepted", "rejected", "completed"):
        application["status"] = case["status"]
    return jsonify({k: v for k, v in application.items() if k != "owner"})


@app.get("/prefill")
def prefill():
    """Premises details from the business registry, so the citizen types less."""
    citizen = applicant()
    code = (request.args.get("credit_code") or "").strip().upper()
    if not CREDIT_CODE.match(code):
        raise Refusal(400, "invalid_request", "credit_code: 统一社会信用代码应为18位")
    try:
        business = dept().business(code)
    except DepartmentError as exc:
        raise Refusal(400, "invalid_request", exc.detail) from exc
    if business is None:
        raise Refusal(404, "not_found", "未查询到该市场主体")
    return jsonify({"business_name": business["name"], "premises_address": business.get("address", ""),
                    "premises_area_m2": business.get("premises_area_m2"),
                    "is_legal_representative": business.get("legal_representative") == citizen.resident_id})


@app.get("/")
def index():
    return app.send_static_file("index.html")
