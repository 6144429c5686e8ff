"""卡宝 KaBao: apply for a social-security card (社保卡申领) for yourself or a child in your care.

A plain Werkzeug WSGI app. It checks what it can before submitting (a valid card already held, the
guardian of a minor, the materials a minor needs), leaves insurance to the department and reports its
decision, and submits each application exactly once however often the citizen presses the button.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from govapp.department import DepartmentClient, DepartmentError
from govapp.identity import Identity, IdentityError, identity_from_environ
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

ITEM = "social-security-card"
MATERIALS = {"application_form": "申请书", "id_card": "居民身份证", "photo": "证件照片",
             "guardian_id_card": "监护人身份证", "household_register": "户口簿"}
ADULT_MATERIALS = ["application_form", "id_card", "photo"]
MINOR_MATERIALS = [*ADULT_MATERIALS, "guardian_id_card", "household_register"]
RESIDENT_ID = re.compile(r"^\d{17}[\dX]$")
PHONE = re.compile(r"^1\d{10}$")
INDEX_HTML = (Path(__file__).parent / "static" / "index.html").read_bytes()

_applications: dict[str, dict] = {}
_by_request: dict[str, str] = {}
_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


class Problem(Exception):
    def __init__(self, status: int, error: str, detail: str, **extra):
        super().__init__(detail)
        self.status, self.error, self.detail, self.extra = status, error, detail, extra


def json_response(data, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status, content_type="application/json; charset=utf-8")


def reason(code: str, message: str) -> dict:
    return {"code": code, "message": message}


def citizen_of(request: Request) -> Identity:
    citizen = identity_from_environ(request.environ)
    if not citizen.resident_id:
        raise Problem(403, "consent_required", "申领社保卡需要授权使用身份证号 (share your resident ID with this app)")
    return citizen


def parse(request: Request) -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem(400, "invalid_request", "请求体必须是 JSON 对象 (send a JSON object)")
    problems = []
    applicant = body.get("applicant_resident_id")
    if applicant is not None and (not isinstance(applicant, str) or not RESIDENT_ID.match(applicant)):
        problems.append("applicant_resident_id: 身份证号应为18位")
    address = body.get("mailing_address")
    if not isinstance(address, str) or not address.strip() or len(address) > 200:
        problems.append("mailing_address: 请填写邮寄地址 (1–200 characters)")
    phone = body.get("contact_phone")
    if phone is not None and (not isinstance(phone, str) or not PHONE.match(phone)):
        problems.append("contact_phone: 手机号应为以1开头的11位数字")
    materials = body.get("materials")
    if materials is not None and (not isinstance(materials, list) or not all(m in MATERIALS for m in materials)):
        problems.append(f"materials: 只能包含 {', '.join(MATERIALS)}")
    if problems:
        raise Problem(400, "invalid_request", "; ".join(problems))
    return {"applicant_resident_id": applicant, "mailing_address": address.strip(), "contact_phone": phone,
            "materials": None if materials is None else sorted(set(materials), key=list(MATERIALS).index)}


def check(dept: DepartmentClient, citizen: Identity, form: dict) -> tuple[dict, str | None, list, list]:
    """(applicant record, guardian id, reasons to refuse, missing materials)."""
    applicant_id = form["applicant_resident_id"] or citizen.resident_id
    try:
        person = dept.person(applicant_id)
    except DepartmentError as exc:
        if exc.code != "not_delegated":
            raise
        # The department shows the citizen their own record and those of persons in their care only.
        detail = "只能为本人或您监护的未成年人申领 (you may apply only for yourself or a child in your care)"
        raise Problem(403, "refused", detail, reasons=[reason("guardian_mismatch", "您不是申请人登记的监护人")]) from exc
    if person is None:
        return {}, None, [reason("applicant_unknown", f"查无身份证号为 {applicant_id} 的人员")], []
    guardian = None
    reasons = []
    minor = bool(person.get("guardian_resident_id")) or "minor" in (person.get("tags") or [])
    if applicant_id != citizen.resident_id:
        if person.get("guardian_resident_id") != citizen.resident_id:
            detail = "只能为本人或您监护的未成年人申领 (you may apply only for yourself or a child in your care)"
            raise Problem(403, "refused", detail, reasons=[reason("guardian_mismatch", "您不是申请人登记的监护人")])
        guardian = citizen.resident_id
    elif minor:
        reasons.append(reason("guardian_required", "未满18周岁须由监护人代为申领 (a guardian must apply for a minor)"))
    cards = dept.person_licences(applicant_id, type="social_security_card", status="valid")
    if cards:
        reasons.append(reason("already_has_card", f"{person['name']} 已持有有效的社会保障卡，无需重复申领"))
    required = MINOR_MATERIALS if minor else ADULT_MATERIALS
    given = required if form["materials"] is None else form["materials"]
    missing = [{"code": m, "name": MATERIALS[m]} for m in required if m not in given]
    if missing:
        reasons.append(reason("materials_missing", "缺少材料：" + "、".join(m["name"] for m in missing)))
    return person, guardian, reasons, missing


def _lock_for(key: str) -> threading.Lock:
    with _guard:
        return _locks.setdefault(key, threading.Lock())


def public(application: dict) -> dict:
    return {k: v for k, v in application.items() if k != "owner"}


def create_application(request: Request) -> Response:
    citizen = citizen_of(request)
    form = parse(request)
    key = hashlib.sha256(json.dumps([citizen.resident_id, form], sort_keys=True).encode()).hexdigest()
    with _lock_for(key):
        if key in _by_request:  # a retry: the same application, never submitted twice
            return json_response(public(_applications[_by_request[key]]), 200)
        dept = DepartmentClient.from_env()
        person, guardian, reasons, missing = check(dept, citizen, form)
        if reasons:
            raise Problem(422, "refused", "；".join(r["message"] for r in reasons), reasons=reasons, missing_materials=missing)
        minor = guardian is not None
        submission = {
            "applicant_resident_id": person["resident_id"],
            "guardian_resident_id": guardian,
            "materials": form["materials"] or (MINOR_MATERIALS if minor else ADULT_MATERIALS),
            "mailing_address": form["mailing_address"],
            "contact_phone": form["contact_phone"] or citizen.phone or person.get("phone"),
        }
        decision = dept.submit_application(ITEM, submission)
        application = {
            "id": uuid.uuid4().hex,
            "owner": citizen.sub,
            "status": "accepted" if decision["decision"] == "accepted" else "rejected",
            "case_number": decision["case_number"],
            "reasons": decision.get("reasons", []),
            "applicant_name": person["name"],
            "applicant_resident_id": person["resident_id"],
            "guardian_resident_id": guardian,
            "submitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        _applications[application["id"]] = application
        _by_request[key] = application["id"]
    return json_response(public(application), 201 if application["status"] == "accepted" else 200)


def get_application(request: Request, application_id: str) -> Response:
    citizen = identity_from_environ(request.environ)
    application = _applications.get(application_id)
    if application is None or application["owner"] != citizen.sub:
        raise Problem(404, "not_found", f"没有编号为 {application_id} 的申请 (no such application)")
    case = DepartmentClient.from_env().application(application["case_number"])
    if case and case.get("status") in ("accepted", "rejected", "completed"):
        application["status"] = case["status"]
    return json_response(public(application))


def index(request: Request) -> Response:
    return Response(INDEX_HTML, content_type="text/html; charset=utf-8")


URLS = Map([
    Rule("/", endpoint=index, methods=["GET"]),
    Rule("/applications", endpoint=create_application, methods=["POST"]),
    Rule("/applications/<application_id>", endpoint=get_application, methods=["GET"]),
])


@Request.application
def app(request: Request) -> Response:
    try:
        endpoint, args = URLS.bind_to_environ(request.environ).match()
        return endpoint(request, **args)
    except Problem as exc:
        return json_response({"error": exc.error, "detail": exc.detail, **exc.extra}, exc.status)
    except IdentityError as exc:
        return json_response({"error": "unauthenticated", "detail": f"请通过平台打开本应用: {exc}"}, 401)
    except DepartmentError as exc:
        return json_response({"error": "department_unavailable", "detail": f"部门服务暂时不可用，请稍后再试 ({exc.detail})"}, 502)
    except (NotFound, MethodNotAllowed) as exc:
        return json_response({"error": "not_found", "detail": exc.description}, exc.code)
    except HTTPException as exc:
        return json_response({"error": "invalid_request", "detail": exc.description}, exc.code or 400)
