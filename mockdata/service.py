"""The simulated department service: a WSGI app answering the department APIs from a dataset.

It is configured with the order's granted scopes, refuses anything else with 403 (recorded as a
violation); given a ``DelegationVerifier`` it answers only inside each call's department access token — the
token's citizen, those in their care, the businesses they represent, the consented fields — and refuses the rest
with 401/403 and the reason (``mockdata.delegation``); records every call for the test harness, decides
applications by the rules in ``mockdata.rules`` and remembers the cases it decided.

Like a real department it then handles each case over time, on its ``clock`` (tests move it): a submitted
case is accepted (已受理) or not accepted (不予受理, with the reason) within ``ACCEPT_WITHIN``, is reviewed
(审查中), and is concluded (办结: 准予 with the result such as the licence number, or 不予许可 with the reason)
within the item's legal time limit. ``advance()`` takes every case as far as the clock allows and tells the
listeners of each step; the answer to the submission itself is unchanged (the decision the rules give).
 Shapes are documented in
docs/mockdata.md; apps, the SDK's test runner and the platform's sandbox all depend on them, so change them only
with a new documented version.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from mockdata import rules
from mockdata.delegation import Delegation, DelegationRefused, DelegationVerifier
from mockdata.identifiers import credit_code_is_valid, resident_id_is_valid
from mockdata.rules import DatasetStore, InvalidApplication
from mockdata.store import MemoryStore, SqliteStore

log = logging.getLogger(__name__)

DEFAULT_SIZE = 2_000
BODY_BYTES = 64 * 1024  # department calls carry small JSON documents (an application is under 2 KiB)
LOGGED_BODY_BYTES = 4 * 1024 * 1024  # request bodies kept in the call log between two resets
LOGGED_FIELD_CHARS = 2048
SCOPES = ("person.read", "licence.read", "business.read", "application.submit", "application.read")


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    case_prefix: str
    validate: Callable[[Any], dict]
    decide: Callable[[DatasetStore, dict, date], list[dict]]
    time_limit_days: int = 20  # the legal time limit (法定办结时限) from acceptance to conclusion
    result_prefix: str = ""  # of the result a granted case gives (the licence or card number)


ITEMS = {
    "food-licence": Item("food-licence", "食品经营许可证核发", "SP", rules.validate_food_application,
                         rules.decide_food_licence, 20, "JY"),
    "social-security-card": Item("social-security-card", "社保卡申领", "SB", rules.validate_ssc_application,
                                 rules.decide_social_security_card, 15, "SSC"),
}
# Reasons a department does not accept an application at all (不予受理): incomplete or not its case. Any other
# reason is a refusal after review (不予许可).
NOT_ACCEPTED = frozenset({"materials_missing", "applicant_unknown", "business_unknown", "guardian_required"})
ACCEPT_WITHIN = timedelta(minutes=30)
STAGES = ("submitted", "accepted", "not_accepted", "under_review", "concluded")

_URLS = Map([
    Rule("/health", endpoint="health", methods=["GET"]),
    Rule("/persons/<resident_id>", endpoint="person", methods=["GET"]),
    Rule("/persons/<resident_id>/licences", endpoint="person_licences", methods=["GET"]),
    Rule("/persons/<resident_id>/businesses", endpoint="person_businesses", methods=["GET"]),
    Rule("/businesses/<credit_code>", endpoint="business", methods=["GET"]),
    Rule("/businesses/<credit_code>/licences", endpoint="business_licences", methods=["GET"]),
    Rule("/applications/<item_code>", endpoint="submit", methods=["POST"]),
    Rule("/applications/<case_number>", endpoint="case", methods=["GET"]),
], strict_slashes=False)

_ENDPOINT_SCOPES = {"person": "person.read", "person_licences": "licence.read", "person_businesses": "business.read",
                   "business": "business.read",
                    "business_licences": "licence.read", "submit": "application.submit", "case": "application.read"}

_CONTROL_URLS = Map([
    Rule("/health", endpoint="health", methods=["GET"]),
    Rule("/calls", endpoint="calls", methods=["GET"]),
    Rule("/scenarios", endpoint="scenarios", methods=["GET"]),
    Rule("/reset", endpoint="reset", methods=["POST"]),
])


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, content_type="application/json; charset=utf-8")


def case_timing(item: Item, number: str) -> dict:
    """When the department accepts (2–30 minutes after submission) and concludes (within the item's legal time
    limit after acceptance), fixed from the case number so the same case always takes the same time (the demo's
    case history takes its steps from here too)."""
    digest = int(hashlib.sha256(number.encode()).hexdigest()[:12], 16)
    accept = 120 + digest % (int(ACCEPT_WITHIN.total_seconds()) - 120)
    review = 3600 + (digest >> 20) % (item.time_limit_days * 86400 - 7200)
    return {"accept_seconds": accept, "review_start_seconds": 60, "review_seconds": review}


def case_result(item: Item, number: str) -> str:
    """The result a granted case gives (the licence or card number), fixed from the case number."""
    return f"{item.result_prefix}{int(hashlib.sha256(('result/' + number).encode()).hexdigest()[:14], 16) % 10**14:014d}"


class _Refusal(Exception):
    def __init__(self, status: int, body: dict) -> None:
        super().__init__(body.get("detail", ""))
        self.status = status
        self.body = body


def _error(status: int, code: str, detail: str, **extra: Any) -> _Refusal:
    return _Refusal(status, {"error": code, "detail": detail, **extra})


class DepartmentService:
    """One simulated department service over one dataset, for one order's granted scopes."""

    def __init__(self, store: DatasetStore, scopes: Iterable[str], *, today: date | None = None,
                 call_budget: int | None = None, body_bytes: int = BODY_BYTES, logged_body_bytes: int = LOGGED_BODY_BYTES,
                 clock: Callable[[], datetime] | None = None,
                 delegation: DelegationVerifier | None = None, pace: int = 1) -> None:
        """``call_budget``: calls answered between two resets (one test case) — beyond it 429, as a department
        throttles a runaway client; None for no budget (serving). The call log keeps the last ``call_budget``
        (or 1,000) calls, and their bodies up to ``logged_body_bytes`` in all, so reading it back stays small.
        ``delegation``: verify each call's department access token and answer only inside it (None: the service
        answers any call within the scopes — for tools and tests of the data alone, never for apps).
        ``pace``: the department handles cases this many times faster than a real one (acceptance, review and decision
        come sooner; every time stays a real time) — for demos and test stacks; 1 is a real department's pace."""
        self.store = store
        self.pace = max(1, int(pace))
        self.delegation = delegation
        self.scopes = frozenset(scopes)
        unknown = self.scopes - set(SCOPES)
        if unknown:
            raise ValueError(f"unknown department API scopes {sorted(unknown)}; known: {', '.join(SCOPES)}")
        self.today = today or date.fromisoformat(store.info["as_of"])
        self._lock = threading.Lock()
        self.call_budget = call_budget
        self.body_bytes = body_bytes
        self.logged_body_bytes = logged_body_bytes
        self._calls: deque[dict] = deque(maxlen=call_budget or 1000)
        self._answered = 0  # since the last reset
        self._logged_bytes = 0
        # What the service refused since the last reset; the app-facing listener adds its own counts here.
        self.refusals: dict[str, int] = {"bodies_too_large": 0, "calls_over_budget": 0, "bodies_not_logged": 0}
        self._cases: dict[str, dict] = {}
        self._accepted: dict[tuple[str, str, str], str] = {}
        self._rejections: dict[tuple[str, str, str], int] = {}
        self._listeners: list[Callable[[dict], None]] = []
        self.clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def from_spec(cls, spec: str, seed: int, size: int = DEFAULT_SIZE, scopes: Iterable[str] = (), *,
                  today: date | None = None, **options: Any) -> DepartmentService:
        """A service over the dataset (spec, seed, size), generated and indexed in memory."""
        return cls(MemoryStore(spec, seed, size), scopes, today=today, **options)

    @classmethod
    def from_sqlite(cls, path: str | Path, scopes: Iterable[str] = (), *, today: date | None = None,
                    **options: Any) -> DepartmentService:
        """A service over a dataset file written by ``python -m mockdata generate --format sqlite`` (read with one
        connection per thread: the file must stay readable to the uid the service runs as)."""
        return cls(SqliteStore(path), scopes, today=today, **options)

    # ---- what the harness inspects -------------------------------------------------------------

    @property
    def scenarios(self) -> dict:
        return self.store.scenarios

    @property
    def calls(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(list(self._calls))

    @property
    def violations(self) -> list[dict]:
        return [call for call in self.calls if call["violation"]]

    @property
    def cases(self) -> dict[str, dict]:
        with self._lock:
            return copy.deepcopy(self._cases)

    def reset(self) -> None:
        """Forget every call, violation, case and refusal (between test cases or runs)."""
        with self._lock:
            self._calls.clear()
            self._answered = self._logged_bytes = 0
            for kind in self.refusals:
                self.refusals[kind] = 0
            self._cases.clear()
            self._accepted.clear()
            self._rejections.clear()

    def on_decision(self, callback: Callable[[dict], None]) -> None:
        """Call ``callback(case)`` after every new decision and every completion (not for duplicates)."""
        self._listeners.append(callback)

    def complete(self, case_number: str) -> dict:
        """Mark an accepted case completed (办结) — the department finished it — and tell the listeners."""
        with self._lock:
            case = self._cases.get(case_number)
            if case is None or case["status"] != "accepted":
                state = "unknown" if case is None else case["status"]
                raise ValueError(f"case {case_number} is {state}; only accepted cases can be completed")
            case["status"] = "completed"
            snapshot = copy.deepcopy(case)
        self._notify(snapshot)
        return snapshot

    def advance(self, now: datetime | None = None) -> list[dict]:
        """Take every case through the steps due by ``now`` (default: the clock) and tell the listeners of each step,
        in order. Returns the snapshots sent. Idempotent: a step happens once."""
        now = now or self.clock()
        sent = []
        with self._lock:
            for case in self._cases.values():
                if not case.get("heard", True):
                    continue  # its submission is still being told to the listeners: its steps come after it
                while (step := self._next_step(case)) is not None and step["at"] <= now:
                    case["steps"].append({"stage": step["stage"], "at": _iso(step["at"])})
                    case["stage"] = step["stage"]
                    if step["stage"] == "concluded":
                        case["outcome"] = "refused" if case["reasons"] else "granted"
                        case["result"] = None if case["reasons"] else case["planned_result"]
                    sent.append(self._public(case))
        for snapshot in sent:
            self._notify(snapshot)
        return sent

    @staticmethod
    def _next_step(case: dict) -> dict | None:
        """The case's next step and when it is due: the timing is fixed at submission (``case['timing']``)."""
        submitted = datetime.fromisoformat(case["steps"][0]["at"].replace("Z", "+00:00"))
        timing = case["timing"]
        accepted_at = submitted + timedelta(seconds=timing["accept_seconds"])
        not_accepted = any(r["code"] in NOT_ACCEPTED for r in case["reasons"])
        stage = case["stage"]
        if stage == "submitted":
            return {"stage": "not_accepted" if not_accepted else "accepted", "at": accepted_at}
        if stage == "accepted":
            return {"stage": "under_review", "at": accepted_at + timedelta(seconds=timing.get("review_start_seconds", 60))}
        if stage == "under_review":
            return {"stage": "concluded", "at": accepted_at + timedelta(seconds=timing["review_seconds"])}
        return None

    @staticmethod
    def _public(case: dict) -> dict:
        return {k: copy.deepcopy(v) for k, v in case.items() if k not in ("application", "timing", "planned_result", "heard")}

    def _notify(self, case: dict) -> None:
        for listener in list(self._listeners):
            try:
                listener(copy.deepcopy(case))
            except Exception:
                log.exception("on_decision listener failed for case %s", case["case_number"])

    # ---- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self.body_bytes
        with self._lock:
            over_budget = self.call_budget is not None and self._answered >= self.call_budget
            if over_budget:
                self.refusals["calls_over_budget"] += 1
            else:
                self._answered += 1
                seq = self._answered
        if over_budget:
            return json_response({"error": "too_many_calls", "detail": f"at most {self.call_budget} department calls "
                                  "per case; this one was not answered"}, 429)(environ, start_response)
        # A path or query of up to 64 KiB (what the HTTP parser lets through) is kept short in the log.
        query = request.args.to_dict() if len(request.query_string) <= LOGGED_FIELD_CHARS else {"(too long)": ""}
        record = {"seq": 0, "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"), "method": request.method,
                  "path": request.path[:LOGGED_FIELD_CHARS], "query": query, "json": None, "status": 0, "scope": None,
                  "violation": False, "duplicate": False, "case_number": None, "refusal": None, "citizen": None}
        try:
            status, body, decided = self._dispatch(request, record)
        except _Refusal as refusal:
            status, body, decided = refusal.status, refusal.body, None
        except DelegationRefused as refusal:
            status, decided = refusal.status, None
            body = {"error": refusal.code, "detail": refusal.detail}
            if refusal.named:  # the citizen asked about someone they may not act for: the app only passed it on
                body["named_by_citizen"] = True
            record["refusal"], record["named"] = refusal.code, refusal.named
        except RequestEntityTooLarge:
            with self._lock:
                self.refusals["bodies_too_large"] += 1
            status, decided = 413, None
            body = {"error": "too_large", "detail": f"a department call carries at most {self.body_bytes} bytes"}
        record["status"] = status
        with self._lock:
            size = len(request.get_data(cache=True)) if request.method == "POST" and status != 413 else 0
            if size and self._logged_bytes + size > self.logged_body_bytes:
                record["json"], record["json_dropped"] = None, True
                self.refusals["bodies_not_logged"] += 1
            else:
                self._logged_bytes += size
            record["seq"] = seq
            self._calls.append(record)
        if decided is not None:
            self._notify(decided)
            with self._lock:  # the submission is heard: its later steps may follow (advance), never before it
                case = self._cases.get(decided.get("case_number") or "")
                if case is not None:
                    case["heard"] = True
        return json_response(body, status)(environ, start_response)

    def _dispatch(self, request: Request, record: dict) -> tuple[int, Any, dict | None]:
        body_is_json = True
        if request.method == "POST":
            data = request.get_data(cache=True)
            if data:
                try:
                    record["json"] = json.loads(data)
                except ValueError:
                    body_is_json = False
        adapter = _URLS.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except NotFound:
            raise _error(404, "not_found", f"no department API at {request.path}; see docs/mockdata.md") from None
        except MethodNotAllowed as exc:
            raise _error(405, "method_not_allowed", f"{request.method} is not allowed on {request.path}; "
                                                     f"use {', '.join(sorted(exc.valid_methods or ()))}") from None
        scope = _ENDPOINT_SCOPES.get(endpoint)
        record["scope"] = scope
        if scope is not None and scope not in self.scopes:
            record["violation"] = True
            raise _error(403, "scope_denied", f"the order does not grant {scope}; granted: "
                                               f"{', '.join(sorted(self.scopes)) or 'none'}", scope=scope)
        delegation = None
        if self.delegation is not None and endpoint != "health":
            delegation = self.delegation.verify(request.headers.get("Authorization"))
            record["citizen"] = delegation.citizen
        try:
            if endpoint == "submit":
                if not body_is_json:
                    raise _error(422, "invalid_request", "the body is not JSON; send a JSON object",
                                 problems={"body": "not JSON"})
                return self._submit(args["item_code"], record, delegation)
            return 200, getattr(self, f"_get_{endpoint}")(request=request, delegation=delegation, **args), None
        except DelegationRefused as refusal:
            refusal.named = delegation is not None and delegation.names(refusal.subject)
            raise

    # ---- reads ---------------------------------------------------------------------------------

    def _get_health(self, request: Request, delegation: Delegation | None) -> dict:
        return {"status": "ok", "dataset": self.store.info, "today": self.today.isoformat(), "scopes": sorted(self.scopes)}

    def _person_or_404(self, resident_id: str) -> dict:
        if not resident_id_is_valid(resident_id):
            raise _error(422, "invalid_identifier", f"{resident_id!r} is not a resident ID number (17 digits and a "
                                                     "check character, GB 11643)", resident_id=resident_id)
        person = self.store.person(resident_id)
        if person is None:
            raise _error(404, "not_found", f"no person with resident ID {resident_id}", resident_id=resident_id)
        return person

    def _business_or_404(self, credit_code: str) -> dict:
        if not credit_code_is_valid(credit_code):
            raise _error(422, "invalid_identifier", f"{credit_code!r} is not a unified social credit code (18 "
                                                     "characters with a GB 32100 check character)", credit_code=credit_code)
        business = self.store.business(credit_code)
        if business is None:
            raise _error(404, "not_found", f"no business with credit code {credit_code}", credit_code=credit_code)
        return business

    @staticmethod
    def _filter(licences: list[dict], request: Request) -> list[dict]:
        kind, status = request.args.get("type"), request.args.get("status")
        return [lic for lic in licences if (not kind or lic["type"] == kind) and (not status or lic["status"] == status)]

    # The delegation rules: who a token's citizen may have read (themself, a person in their care, a business they
    # represent). A record the citizen may not see is refused before it is known to exist.

    def _may_see_person(self, delegation: Delegation | None, resident_id: str) -> None:
        if delegation is None or resident_id == delegation.citizen:
            return
        person = self.store.person(resident_id) if resident_id_is_valid(resident_id) else None
        if person is None or person.get("guardian_resident_id") != delegation.citizen:
            raise DelegationRefused(403, "not_delegated", "the citizen using the app delegated access to their own "
                                    "records and those of persons in their care only; this is another person",
                                    subject=resident_id)

    def _may_see_business(self, delegation: Delegation | None, credit_code: str) -> None:
        if delegation is None:
            return
        business = self.store.business(credit_code) if credit_code_is_valid(credit_code) else None
        # Whether a business exists is public (the business register); its record is for its representatives.
        if business is not None and delegation.citizen not in self._representatives(business):
            raise DelegationRefused(403, "not_represented", "the citizen using the app is neither the legal "
                                    "representative nor an authorised agent of this business", subject=credit_code)

    @staticmethod
    def _representatives(business: dict) -> set[str]:
        return {business.get("legal_representative") or "", *(business.get("authorised_agents") or [])} - {""}

    def _get_person(self, request: Request, resident_id: str, delegation: Delegation | None) -> dict:
        self._may_see_person(delegation, resident_id)
        person = self._person_or_404(resident_id)
        return person if delegation is None else delegation.person_view(person)

    def _get_person_licences(self, request: Request, resident_id: str, delegation: Delegation | None) -> list[dict]:
        self._may_see_person(delegation, resident_id)
        if delegation is not None:
            delegation.require_field("licences")
        self._person_or_404(resident_id)
        return self._filter(self.store.licences_of(resident_id), request)

    def _get_person_businesses(self, request: Request, resident_id: str, delegation: Delegation | None) -> list[dict]:
        self._may_see_person(delegation, resident_id)
        if delegation is not None:
            delegation.require_field("businesses")
        self._person_or_404(resident_id)
        return [{"credit_code": b["credit_code"], "name": b["name"], "status": b["status"],
                 "role": "legal_representative" if b.get("legal_representative") == resident_id else "authorised_agent"}
                for b in self.store.businesses_of(resident_id)]

    def _get_business(self, request: Request, credit_code: str, delegation: Delegation | None) -> dict:
        self._may_see_business(delegation, credit_code)
        return self._business_or_404(credit_code)

    def _get_business_licences(self, request: Request, credit_code: str, delegation: Delegation | None) -> list[dict]:
        self._may_see_business(delegation, credit_code)
        self._business_or_404(credit_code)
        return self._filter(self.store.licences_of(credit_code), request)

    def _get_case(self, request: Request, case_number: str, delegation: Delegation | None) -> dict:
        with self._lock:
            case = self._cases.get(case_number)
            if case is None or (delegation is not None and delegation.citizen not in
                                {case.get("applicant_resident_id"), case.get("guardian_resident_id")}):
                raise _error(404, "not_found", f"no case {case_number} of this citizen; case numbers come from "
                             "POST /applications/...", case_number=case_number)
            return self._public(case)

    # ---- applications --------------------------------------------------------------------------

    def _case_number(self, item: Item, key: tuple[str, str, str], rejection: int = 0) -> str:
        info = self.store.info
        digest = hashlib.sha256(f"{info['spec']}/{info['seed']}/{'/'.join(key)}".encode()).hexdigest()[:8].upper()
        number = f"{item.case_prefix}-{self.today:%Y%m%d}-{digest}"
        return f"{number}-R{rejection}" if rejection else number

    def _submit(self, item_code: str, record: dict, delegation: Delegation | None) -> tuple[int, dict, dict | None]:
        item = ITEMS.get(item_code)
        if item is None:
            raise _error(404, "unknown_item", f"no service item {item_code!r}; items: {', '.join(ITEMS)}",
                         item_code=item_code)
        try:
            application = item.validate(record["json"])
        except InvalidApplication as exc:
            raise _error(422, "invalid_request", f"the application cannot be decided: {exc}", problems=exc.problems) from None
        if delegation is not None:
            applicant, guardian = application["applicant_resident_id"], application.get("guardian_resident_id")
            on_own_behalf = applicant == delegation.citizen
            for_ward = guardian == delegation.citizen and (self.store.person(applicant) or {}).get(
                "guardian_resident_id") == delegation.citizen
            if not (on_own_behalf or for_ward):
                raise DelegationRefused(403, "not_delegated", "an application may be submitted only for the citizen "
                                        "using the app, or by them as guardian for a person in their care",
                                        subject=applicant)
        key = (item.code, application["applicant_resident_id"], application.get("credit_code") or "")
        reasons = item.decide(self.store, application, self.today)
        with self._lock:
            existing = self._accepted.get(key)
            if existing is not None:
                case = self._cases[existing]
                case["submissions"] += 1
                record.update(duplicate=True, case_number=existing)
                return 200, self._decision(case, duplicate=True), None
            if reasons:
                self._rejections[key] = self._rejections.get(key, 0) + 1
                number = self._case_number(item, key, self._rejections[key])
            else:
                number = self._case_number(item, key)
                self._accepted[key] = number
            missing = next((r["materials"] for r in reasons if r["code"] == "materials_missing"), [])
            case = {
                "case_number": number, "item_code": item.code, "item_name": item.name,
                "status": "rejected" if reasons else "accepted", "decision": "rejected" if reasons else "accepted",
                "reasons": reasons, "missing_materials": missing,
                "applicant_resident_id": application["applicant_resident_id"],
                "credit_code": application.get("credit_code"),
                "guardian_resident_id": application.get("guardian_resident_id"),
                "submitted_at": record["time"], "decided_on": self.today.isoformat(), "submissions": 1,
                "application": application,
                # The department's own handling, step by step on its clock (advance()); timing fixed now.
                "stage": "submitted", "steps": [{"stage": "submitted", "at": _iso(self.clock())}],
                "outcome": None, "result": None, "timing": self._paced(case_timing(item, number)),
                "planned_result": None if reasons else case_result(item, number),
            }
            case["heard"] = False  # until the listeners have the submission (the tick must not overtake it)
            self._cases[number] = case
            record["case_number"] = number
            snapshot = self._public(case)
        return (200 if reasons else 201), self._decision(case, duplicate=False), snapshot

    def _paced(self, timing: dict) -> dict:
        return timing if self.pace == 1 else {k: v / self.pace for k, v in timing.items()}

    @staticmethod
    def _decision(case: dict, *, duplicate: bool) -> dict:
        return {"case_number": case["case_number"], "item_code": case["item_code"], "decision": case["decision"],
                "reasons": case["reasons"], "missing_materials": case["missing_materials"], "duplicate": duplicate,
                "decided_on": case["decided_on"]}

    # ---- control (for the harness; never on the socket the app reaches) --------------------------

    def control_app(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """WSGI app for the harness: ``GET /calls``, ``GET /scenarios``, ``POST /reset``, ``GET /health``."""
        request = Request(environ)
        adapter = _CONTROL_URLS.bind_to_environ(environ)
        try:
            endpoint, _ = adapter.match()
        except NotFound:
            response = json_response({"error": "not_found", "detail": "control paths: GET /calls, GET /scenarios, "
                                                                      "POST /reset, GET /health"}, 404)
            return response(environ, start_response)
        except MethodNotAllowed:
            return json_response({"error": "method_not_allowed", "detail": request.method}, 405)(environ, start_response)
        if endpoint == "reset":
            self.reset()
            return Response(status=204)(environ, start_response)
        if endpoint == "calls":
            calls = self.calls
            cases = [self._public(case) for case in self.cases.values()]
            body: Any = {"calls": calls, "violations": [c for c in calls if c["violation"]], "cases": cases,
                         "refusals": dict(self.refusals)}
        elif endpoint == "scenarios":
            body = self.scenarios
        else:
            body = {"status": "ok", "calls": len(self._calls)}
        return json_response(body)(environ, start_response)
