# ruff: noqa: E501  (the matrix is a table: one row per line reads best)
"""The authorization matrix: every route of the app (every API operation and every web page) × every role.

Generated from the route map: ``test_every_route_has_a_row`` fails when a route of ``app.url_map`` has no row
here (or a row names a route that no longer exists), so a new route cannot ship without its expected outcome
for each role. Roles: anonymous, citizen, the vendor that owns the probed object (vendor_a) and another vendor
(vendor_b), staff of the owning department (staff_a) and of another (staff_b), finance, auditor and admin.

A row is ``(method, rule, path, expected, body)``: ``expected`` is a string such as ``"403 admin=200
staff_a=200"`` — the status for every role not named, then the exceptions. API rows call with the role's
bearer token (citizens hold no API scopes, so they call without one like the anonymous); page rows call with
the role's logged-in session and a valid CSRF token. The world is seeded once per module
(tests/marketplace/authorization_world.py) and every probe is rolled back to it."""

from __future__ import annotations

import re
from typing import NamedTuple

import pytest

from core.ids import uscc_check_char
from tests.marketplace.authorization_world import Probe, seed
from tests.marketplace.conftest import contract_doc, suite_doc
from tests.marketplace.webpages import PASSWORD

ROLES = ("anonymous", "citizen", "vendor_a", "vendor_b", "staff_a", "staff_b", "finance", "auditor", "admin")
NEW_USCC = "91310000MA1FL0003" + uscc_check_char("91310000MA1FL0003")

API, WEB = True, False  # API rows call with the role's bearer token, WEB rows with its session


class Row(NamedTuple):
    method: str
    rule: str  # as in app.url_map
    expected: str
    api: bool
    body: object = None  # JSON (API) or form fields (WEB); a callable gets the world's ids
    path: str | None = None  # the probed path when it is not the rule with the world's ids filled in

    def url(self, ids: dict) -> str:
        if self.path is not None:
            return self.path.format(**ids)
        return re.sub(r"<(?:([^:>]+):)?([^>]+)>", lambda m: self._argument(m.group(1) or "", m.group(2), ids), self.rule)

    def _argument(self, converter: str, name: str, ids: dict) -> str:
        if converter.startswith("any("):  # the first of the allowed values
            return converter[4:].split(",")[0]
        if name == "code":  # departments, service items and life events have codes; quarters too
            return ids[next((key for part, key in CODES.items() if part in self.rule), "quarter")]
        return str(ids[PARAMETERS[name]])


# Which of the world's objects a rule's parameter names: always the one owned by vendor_a / department A.
PARAMETERS = {"order_id": "order_a", "app_id": "app_a", "version_id": "version_a", "question_id": "question",
              "complaint_id": "complaint", "rating_id": "rating", "transaction_id": "txn", "department_id": "dept_a",
              "vendor_id": "org_a", "account_id": "account", "entry_id": "entry", "run_id": "run", "slug": "app_slug",
              "case_number": "case", "client_id": "client_id", "filename": "static_file", "action": "action",
              "request_id": "deletion_request", "token": "invitation_token"}

CODES = {"departments": "department", "service-items": "item", "services/items": "item", "life-events": "life_event"}

ROWS = [
    Row("GET", "/", "200", WEB),
    Row("GET", "/.well-known/jwks.json", "200", API),
    Row("GET", "/.well-known/openid-configuration", "404", API),
    Row("GET", "/.well-known/oauth-authorization-server", "200", API),
    Row("GET", "/account/clients", "200 anonymous=401 citizen=403", WEB),
    Row("POST", "/account/clients", "201 anonymous=401 citizen=403", WEB, {"name": "ci", "scopes": "apps:read"}),
    Row("POST", "/account/clients/<client_id>/revoke", "404 anonymous=401 citizen=403 vendor_a,admin=302", WEB),
    Row("GET", "/analytics", "403 anonymous=401 staff_a,staff_b,auditor,admin=200", WEB),
    Row("GET", "/api/apps", "200 anonymous,citizen=401", API),
    Row("POST", "/api/apps", "403 anonymous,citizen=401 vendor_a,vendor_b=201", API, lambda i: {"order_id": i["order_a"], "name": "New App", "slug": "new-app"}),
    Row("GET", "/api/apps/<int:app_id>", "200 anonymous,citizen=401 vendor_b,staff_b=404", API),
    Row("GET", "/api/apps/<int:app_id>/complaints", "200", API),
    Row("GET", "/api/apps/<int:app_id>/ratings", "200", API),
    Row("GET", "/api/apps/<int:app_id>/versions", "200 anonymous,citizen=401 vendor_b,staff_b=404", API),
    Row("POST", "/api/apps/<int:app_id>/versions", "403 anonymous,citizen=401 vendor_a=201 vendor_b=404", API, "bundle", path="/api/apps/{app_a}/versions?version=1.0.0"),
    Row("GET", "/api/audit", "403 anonymous,citizen=401 auditor,admin=200", API),
    Row("GET", "/api/billing/ledger/accounts", "403 anonymous,citizen=401 finance,auditor=200", API),
    Row("GET", "/api/billing/ledger/accounts/<int:account_id>/statement", "403 anonymous,citizen=401 finance,auditor=200", API),
    Row("GET", "/api/billing/ledger/entries", "403 anonymous,citizen=401 finance,auditor=200", API),
    Row("GET", "/api/billing/ledger/entries/<int:entry_id>", "403 anonymous,citizen=401 finance,auditor=200", API),
    Row("POST", "/api/billing/ledger/entries/<int:entry_id>/reversal", "403 anonymous,citizen=401 finance=201", API, {"reason": "posted twice"}),
    Row("GET", "/api/billing/ledger/trial-balance", "403 anonymous,citizen=401 finance,auditor=200", API),
    Row("GET", "/api/billing/ledger/verify", "403 anonymous,citizen=401 finance,auditor=200", API),
    Row("GET", "/api/billing/quarters", "403 anonymous,citizen=401 finance,auditor=200", API),
    Row("GET", "/api/billing/quarters/<code>", "403 anonymous,citizen=401 finance,auditor=200", API),
    Row("POST", "/api/billing/quarters/<code>/close", "403 anonymous,citizen=401 finance=200", API),
    Row("GET", "/api/billing/quarters/<code>/payouts", "403 anonymous,citizen=401 finance,auditor=200", API),
    Row("GET", "/api/billing/quarters/<code>/payouts.csv", "403 anonymous,citizen=401 finance,auditor=200", API),
    Row("GET", "/api/billing/quarters/<code>/preview", "403 anonymous,citizen=401 finance=200", API),
    Row("GET", "/api/billing/quarters/<code>/report.csv", "403 anonymous,citizen=401 finance,auditor=200", API),
    Row("GET", "/api/billing/quarters/<code>/report.pdf", "403 anonymous,citizen=401 finance,auditor=200", API),
    Row("GET", "/api/billing/quarters/<code>/runs", "403 anonymous,citizen=401 finance,auditor=200", API),
    Row("POST", "/api/billing/quarters/<code>/settlement", "403 anonymous,citizen=401 finance=200", API, {}),
    Row("GET", "/api/billing/runs/<int:run_id>", "403 anonymous,citizen=401 finance,auditor=200", API),
    Row("GET", "/api/billing/runs/<int:run_id>/recompute", "403 anonymous,citizen=401 finance,auditor=200", API),
    Row("GET", "/api/billing/transparency/<code>", "200", API),
    Row("GET", "/api/billing/vendors/<int:vendor_id>/statement", "403 anonymous,citizen=401 vendor_a,finance,auditor=200", API),
    Row("GET", "/api/clients", "200 anonymous,citizen=401", API),
    Row("POST", "/api/clients", "201 anonymous,citizen=401", API, {"name": "ci", "scopes": ["orders:read"]}),
    Row("DELETE", "/api/clients/<client_id>", "404 anonymous,citizen=401 vendor_a,admin=204", API),
    Row("GET", "/api/complaints", "200 anonymous,citizen=401 finance=403", API),
    Row("GET", "/api/complaints/<int:complaint_id>", "200 anonymous,citizen=401 vendor_b,staff_b=404 finance=403", API),
    Row("POST", "/api/complaints/<int:complaint_id>/acknowledge", "200 anonymous,citizen=401 vendor_b,staff_b=404 finance,auditor=403", API),
    Row("POST", "/api/complaints/<int:complaint_id>/close", "200 anonymous,citizen=401 vendor_b,staff_b=404 finance,auditor=403", API, {"outcome": "resolved", "response": "Fixed.", "public_outcome": "Fixed."}),
    Row("GET", "/api/departments", "200", API),
    Row("POST", "/api/departments", "403 anonymous,citizen=401 admin=201", API, {"code": "dept-new", "name": "新局"}),
    Row("GET", "/api/departments/<code>", "200", API),
    Row("GET", "/api/departments/<int:department_id>/analytics", "403 anonymous,citizen=401 staff_a,auditor,admin=200", API),
    Row("GET", "/api/docs", "200", API),
    Row("GET", "/api/identity/access-log", "403 anonymous,citizen=401 auditor,admin=200", API),
    Row("GET", "/api/life-events", "200", API),
    Row("GET", "/api/life-events/<code>", "200", API),
    Row("GET", "/api/me", "200 anonymous,citizen=401", API),
    Row("GET", "/api/openapi.json", "200", API),
    Row("GET", "/api/orders", "200 anonymous,citizen=401", API),
    Row("POST", "/api/orders", "403 anonymous,citizen=401 staff_a,admin=201", API, lambda i: {"service_item_id": i["item_a"], "slug": "new-order", "title": "New", "contract": contract_doc(), "fee_per_transaction_fen": 100, "quarterly_budget_fen": 1000}),
    Row("GET", "/api/orders/<int:order_id>", "200 anonymous,citizen=401", API),
    Row("PATCH", "/api/orders/<int:order_id>", "403 anonymous,citizen=401 staff_a,admin=200", API, {"title": "Renamed"}),
    Row("POST", "/api/orders/<int:order_id>/archive", "403 anonymous,citizen=401 staff_a,admin=409", API),
    Row("POST", "/api/orders/<int:order_id>/close", "403 anonymous,citizen=401 staff_a,admin=200", API),
    Row("POST", "/api/orders/<int:order_id>/publish", "403 anonymous,citizen=401 staff_a,admin=409", API),
    Row("GET", "/api/orders/<int:order_id>/questions", "200 anonymous,citizen=401", API),
    Row("POST", "/api/orders/<int:order_id>/questions", "403 anonymous,citizen=401 vendor_a,vendor_b=201", API, {"text": "Is 热食类 allowed?"}),
    Row("GET", "/api/orders/<int:order_id>/suite", "200 anonymous,citizen=401", API),
    Row("POST", "/api/orders/<int:order_id>/suite", "403 anonymous,citizen=401 staff_a,admin=201", API, lambda i: suite_doc("order-a")),
    Row("PUT", "/api/orders/questions/<int:question_id>/answer", "403 anonymous,citizen=401 staff_a,admin=200", API, {"answer": "All three."}),
    Row("GET", "/api/ratings", "200 anonymous,citizen=401 finance=403", API),
    Row("POST", "/api/ratings/<int:rating_id>/hide", "403 anonymous,citizen=401 admin=200", API, {"reason": "abusive"}),
    Row("PUT", "/api/ratings/<int:rating_id>/reply", "403 anonymous,citizen=401 vendor_a,staff_a=200", API, {"text": "Sorry, fixed now."}),
    Row("POST", "/api/ratings/<int:rating_id>/resolve", "403 anonymous,citizen=401 admin=200", API, {"reason": "kept"}),
    Row("GET", "/api/search", "200", API, path="/api/search?q=item"),
    Row("GET", "/api/service-items", "200", API),
    Row("POST", "/api/service-items", "403 anonymous,citizen=401 admin=201", API, lambda i: {"department_id": i["dept_a"], "code": "item-new", "name": "新事项", "time_limit_days": 3}),
    Row("GET", "/api/service-items/<code>", "200", API),
    Row("GET", "/api/service-items/<code>/apps", "200", API),
    Row("GET", "/api/transactions/<int:transaction_id>", "200 anonymous,citizen=401 vendor_b,staff_b=404 finance=403", API),
    Row("POST", "/api/usage/batch", "403 anonymous,citizen=401 finance,admin=200", API, lambda i: {"records": [{"idempotency_key": "probe-1", "order_id": i["order_a"], "app_id": i["app_a"], "vendor_id": i["org_a"], "transaction_ref": "T-probe", "occurred_at": "2026-11-20T10:00:00+08:00"}]}),
    Row("POST", "/api/users", "403 anonymous,citizen=401 admin=201", API, {"email": "new@test.example.cn", "display_name": "New", "role": "auditor", "password": "long enough password"}),
    Row("GET", "/api/vendors", "200 anonymous,citizen=401", API),
    Row("POST", "/api/vendors", "403 anonymous,citizen=401 admin=201", API, {"name": "New Vendor", "credit_code": NEW_USCC}),
    Row("GET", "/api/vendors/<int:vendor_id>", "200 anonymous,citizen=401 vendor_b=404", API),
    Row("GET", "/api/versions/<int:version_id>", "200 anonymous,citizen=401 vendor_b,staff_b=404", API),
    Row("POST", "/api/versions/<int:version_id>/approve", "403 anonymous,citizen=401 staff_a,admin=409 staff_b=404", API),
    Row("POST", "/api/versions/<int:version_id>/publish", "409 anonymous,citizen=401 vendor_b,staff_b=404 finance,auditor=403", API),
    Row("POST", "/api/versions/<int:version_id>/recertify", "409 anonymous,citizen=401 vendor_b,staff_b=404 finance,auditor=403", API),
    Row("POST", "/api/versions/<int:version_id>/reject", "403 anonymous,citizen=401 staff_a,admin=200 staff_b=404", API, {"reason": "Not yet certified"}),
    Row("GET", "/api/versions/<int:version_id>/report", "200 anonymous,citizen=401 vendor_b,staff_b=404 finance=403", API),
    Row("POST", "/api/versions/<int:version_id>/suspend", "403 anonymous,citizen=401 staff_a,admin=409 staff_b=404", API, {"reason": "Data leak"}),
    Row("POST", "/api/versions/<int:version_id>/withdraw", "403 anonymous,citizen=401 vendor_a,admin=409 vendor_b=404", API),
    Row("GET", "/apps", "200 anonymous=401", WEB),
    Row("GET", "/apps/<int:app_id>", "200 anonymous=401 citizen,vendor_b,staff_b=404", WEB),
    Row("POST", "/apps/<int:app_id>/versions", "422 anonymous=401 citizen,vendor_b,staff_b=404", WEB),
    Row("GET", "/apps/<slug>/launch", "200", WEB),
    Row("POST", "/apps/<slug>/launch", "403 anonymous,citizen=303", WEB),
    Row("GET", "/apps/new", "403 anonymous=401 vendor_a,vendor_b=200", WEB),
    Row("POST", "/apps/new", "403 anonymous=401 vendor_a,vendor_b=302", WEB, lambda i: {"order_id": i["order_a"], "name": "New App", "slug": "new-app"}),
    Row("GET", "/audit", "403 anonymous=401 auditor,admin=200", WEB),
    Row("GET", "/departments", "200", WEB),
    Row("GET", "/departments/<code>", "200", WEB),
    Row("GET", "/feedback", "200 anonymous=401 citizen,finance=403", WEB),
    Row("GET", "/feedback/complaints/<int:complaint_id>", "200 anonymous=401 vendor_b,staff_b,finance=404", WEB),
    Row("POST", "/feedback/complaints/<int:complaint_id>", "302 anonymous=401 citizen,auditor=403 vendor_b,staff_b,finance=404", WEB, {"outcome": "resolved", "response": "Fixed.", "public_outcome": "Fixed."}),
    Row("POST", "/feedback/ratings/<int:rating_id>/<any(hide, resolve):action>", "403 anonymous=401 admin=302", WEB, {"reason": "abusive"}),
    Row("POST", "/feedback/ratings/<int:rating_id>/reply", "403 anonymous=401 vendor_a,staff_a=302", WEB, {"text": "Sorry, fixed now."}),
    Row("GET", "/finance/", "403 anonymous=401 finance,auditor=200", WEB),
    Row("GET", "/finance/ledger", "403 anonymous=401 finance,auditor=200", WEB),
    Row("GET", "/finance/ledger/accounts/<int:account_id>", "403 anonymous=401 finance,auditor=200", WEB),
    Row("POST", "/finance/ledger/entries/<int:entry_id>/reversal", "403 anonymous=401 finance=302", WEB, {"reason": "posted twice"}),
    Row("GET", "/finance/quarters/<code>", "403 anonymous=401 finance,auditor=200", WEB),
    Row("POST", "/finance/quarters/<code>/close", "403 anonymous=401 finance=302", WEB),
    Row("GET", "/finance/quarters/<code>/payouts.csv", "403 anonymous=401 finance,auditor=200", WEB),
    Row("GET", "/finance/quarters/<code>/payouts.xml", "403 anonymous=401 finance,auditor=422", WEB),  # (the world's vendors have no payee account)
    Row("GET", "/finance/quarters/<code>/preview", "403 anonymous=401 finance=200", WEB),
    Row("GET", "/finance/quarters/<code>/report", "403 anonymous=401 finance,auditor=200", WEB),
    Row("GET", "/finance/quarters/<code>/report.csv", "403 anonymous=401 finance,auditor=200", WEB),
    Row("GET", "/finance/quarters/<code>/report.pdf", "403 anonymous=401 finance,auditor=200", WEB),
    Row("POST", "/finance/quarters/<code>/settlement", "403 anonymous=401 finance=302", WEB),
    Row("GET", "/finance/runs/<int:run_id>", "403 anonymous=401 finance,auditor=200", WEB),
    Row("GET", "/finance/vendors/<int:vendor_id>/statement", "403 anonymous=401 vendor_a,finance,auditor=200", WEB),
    Row("GET", "/healthz", "200", WEB),
    Row("GET", "/identity/access-log", "403 anonymous=401 citizen,auditor,admin=200", WEB),
    Row("GET", "/identity/consent/<int:app_id>", "403 anonymous=302 citizen=200", WEB),
    Row("POST", "/identity/consent/<int:app_id>", "403 anonymous,citizen=302", WEB, {"decision": "grant"}),
    Row("GET", "/identity/federated/callback", "404", WEB),
    Row("GET", "/identity/federated/login", "404", WEB),
    Row("GET", "/identity/login", "200", WEB),
    Row("GET", "/identity/my-data", "403 anonymous=401 citizen=200", WEB),
    Row("POST", "/identity/my-data/consents/<int:app_id>/revoke", "403 anonymous=401 citizen=302", WEB),
    Row("GET", "/identity/personas", "200", WEB),
    Row("POST", "/identity/personas", "422", WEB),
    Row("GET", "/login", "200", WEB),
    Row("POST", "/login", "302", WEB, {"email": "citizen@test.example.cn", "password": PASSWORD}),
    Row("POST", "/logout", "302", WEB),
    Row("GET", "/metrics", "200", WEB),
    Row("GET", "/my/cases", "403 anonymous=401 citizen=200", WEB),
    Row("GET", "/my/cases/<case_number>", "403 anonymous=401 citizen=200", WEB),
    Row("GET", "/my/cases/<case_number>/rating", "403 anonymous=401 citizen=200", WEB),
    Row("POST", "/my/cases/<case_number>/rating", "403 anonymous=401 citizen=302", WEB, {"stars": 5, "comment": "fast"}),  # (edits the citizen's rating: the dimensions are optional now)
    Row("GET", "/my/complaints", "403 anonymous=401 citizen=200", WEB),
    Row("GET", "/my/complaints/new", "403 anonymous=401 citizen=200", WEB, path="/my/complaints/new?case={case}"),
    Row("POST", "/my/complaints/new", "403 anonymous=401 citizen=302", WEB, lambda i: {"theme": "slow", "description": "Too slow.", "app_id": i["app_a"]}, path="/my/complaints/new?case={case}"),
    Row("GET", "/my/todo", "403 anonymous=401 citizen=200", WEB),
    Row("POST", "/oauth/token", "400", API, {"grant_type": "client_credentials"}),
    Row("POST", "/oauth/revoke", "400", API, {"token": "not-a-token"}),  # (RFC 7009 takes a form; refused before any client check)
    Row("GET", "/orders", "200", WEB),
    Row("GET", "/orders/<int:order_id>", "200", WEB),
    Row("POST", "/orders/<int:order_id>/<any(publish, close, archive):action>", "403 anonymous=401 staff_a,admin=409", WEB),
    Row("GET", "/orders/<int:order_id>/edit", "403 anonymous=401 staff_a,admin=200", WEB),
    Row("POST", "/orders/<int:order_id>/edit", "403 anonymous=401 staff_a,admin=302", WEB, {"title": "Renamed"}),
    Row("POST", "/orders/<int:order_id>/questions", "403 anonymous=401 vendor_a,vendor_b=302", WEB, {"text": "Is 热食类 allowed?"}),
    Row("GET", "/orders/<int:order_id>/suite", "200", WEB),
    Row("GET", "/orders/<int:order_id>/suite/new", "403 anonymous=401 staff_a,admin=200", WEB),
    Row("POST", "/orders/<int:order_id>/suite/new", "403 anonymous=401 staff_a,admin=422", WEB),
    Row("GET", "/orders/new", "403 anonymous=401 staff_a,staff_b,admin=200", WEB),
    Row("POST", "/orders/new", "403 anonymous=401 staff_a,staff_b,admin=422", WEB, {"title": "New"}),
    Row("POST", "/questions/<int:question_id>/answer", "422 anonymous=401", WEB, {"answer": "All three."}),
    Row("GET", "/readyz", "200", WEB),
    Row("GET", "/services", "200", WEB),
    Row("GET", "/services/apps/<slug>", "200", WEB),
    Row("GET", "/services/items/<code>", "200", WEB),
    Row("GET", "/services/life-events/<code>", "200", WEB),
    Row("POST", "/services/ratings/<int:rating_id>/flag", "403 anonymous=401 citizen,staff_a=302", WEB, {"reason": "spam"}),  # (#13: vendors never flag; staff only their department's)
    Row("GET", "/services/search", "200", WEB),
    Row("GET", "/static/<path:filename>", "200", WEB),
    Row("GET", "/static/swagger-ui/<path:filename>", "200", WEB, path="/static/swagger-ui/swagger-ui.css"),
    Row("GET", "/transparency/", "200", WEB),
    Row("GET", "/transparency/<code>", "200", WEB),
    Row("GET", "/transparency/<code>/dataset.csv", "200", WEB),
    Row("GET", "/transparency/<code>/dataset.json", "200", WEB),
    Row("GET", "/transparency/public_recompute.py", "200", WEB),
    Row("GET", "/versions/<int:version_id>", "200 anonymous=401 citizen,vendor_b,staff_b=404", WEB),
    Row("POST", "/versions/<int:version_id>/<action>", "404 anonymous=401 vendor_a,finance,auditor=403 staff_a,admin=409", WEB, {}, path="/versions/{version_a}/approve"),
    Row("GET", "/versions/<int:version_id>/progress.json", "200 anonymous=401 citizen,vendor_b,staff_b=404", WEB),
    # Added with the ratings, api, consent, roles and finance work.
    Row("GET", "/account/invitations", "403 anonymous=401 vendor_a,vendor_b=200", WEB),
    Row("POST", "/account/invitations", "403 anonymous=401 vendor_a,vendor_b=200", WEB, {"email": "colleague@test.example.cn"}),
    Row("GET", "/admin/vendor-applications", "403 anonymous=401 admin=200", WEB),
    Row("POST", "/admin/vendor-applications/<int:application_id>/<any(approve, reject):decision>", "403 anonymous=401 admin=404", WEB, {}, path="/admin/vendor-applications/999999/approve"),
    Row("GET", "/api/clients/<client_id>", "404 anonymous,citizen=401 vendor_a,admin=200", API),
    Row("POST", "/api/clients/<client_id>/secret", "404 anonymous,citizen=401 vendor_a,admin=200", API),
    Row("POST", "/api/ratings/<int:rating_id>/appeal", "403 anonymous,citizen=401 vendor_a=201", API, {"reason": "the case was the department's delay"}),
    Row("POST", "/api/ratings/<int:rating_id>/flag", "403 anonymous,citizen=401 staff_a=201", API, {"reason": "spam"}),
    Row("PUT", "/api/ratings/<int:rating_id>/follow-up", "403 anonymous,citizen=401 vendor_a,staff_a=200", API, {"text": "The form keeps drafts now."}),
    Row("GET", "/api/versions", "200 anonymous,citizen=401", API),
    Row("POST", "/feedback/ratings/<int:rating_id>/appeal", "403 anonymous=401 vendor_a=302", WEB, {"reason": "the case was the department's delay"}),
    Row("POST", "/feedback/ratings/<int:rating_id>/follow-up", "403 anonymous=401 vendor_a,staff_a=302", WEB, {"text": "The form keeps drafts now."}),
    Row("GET", "/identity/deletion-requests", "403 anonymous=401 citizen,vendor_a,vendor_b,admin=200", WEB),
    Row("POST", "/identity/deletion-requests/<int:request_id>/complete", "403 anonymous=401 vendor_a=302 vendor_b=404", WEB, {"note": "Deleted the drafts."}),
    Row("GET", "/identity/my-data/<any(data, 'access-log'):what>.<any(json, csv):fmt>", "403 anonymous=401 citizen=200", WEB),
    Row("GET", "/identity/my-data/<any(data, 'access-log'):what>.<any(json, csv):fmt>", "403 anonymous=401 citizen=200", WEB, path="/identity/my-data/access-log.csv"),
    Row("POST", "/identity/my-data/consents/<int:app_id>/delete-request", "403 anonymous=401 citizen=302", WEB),
    Row("GET", "/invitations/<token>", "200", WEB),
    Row("POST", "/invitations/<token>", "422", WEB),
    Row("GET", "/invitations/<token>", "404", WEB, path="/invitations/not-a-token"),
    Row("POST", "/my/cases/<case_number>/rerate", "403 anonymous=401 citizen=302", WEB, {"stars": 4}),
    Row("GET", "/problems", "200", WEB),
    Row("POST", "/questions/<int:question_id>/hide", "403 anonymous=401 staff_a,admin=302", WEB, lambda i: {f"h{i['question']}-reason": "off topic"}),
    Row("GET", "/sdk", "200", WEB),
    Row("GET", "/sdk/<filename>", "200", WEB, path="/sdk/{sdk_wheel}"),
    Row("GET", "/sdk/reference/", "200", WEB),  # the SDK's reference is public, like the SDK itself
    Row("GET", "/sdk/reference/<path:filename>", "200", WEB, path="/sdk/reference/govapp.html"),
    Row("POST", "/services/items/<code>/synonyms", "403 anonymous=401 staff_a,admin=302", WEB, {"synonyms": "开店、餐馆"}),
    Row("GET", "/vendors/apply", "200", WEB),
    Row("POST", "/vendors/apply", "422", WEB),
    Row("GET", "/work", "200 anonymous=401 citizen=403", WEB),
    # The same routes on another tenant's object or in another state (from the first, hand-written matrix).
    Row("GET", "/api/orders/<int:order_id>", "404 anonymous,citizen=401 admin,finance,auditor,staff_a=200", API, path="/api/orders/{draft_a}"),
    Row("PATCH", "/api/orders/<int:order_id>", "403 anonymous,citizen=401 admin,staff_a=200 staff_b=404", API, {"title": "Renamed"}, path="/api/orders/{draft_a}"),
    Row("PATCH", "/api/orders/<int:order_id>", "403 anonymous,citizen=401 admin,staff_b=200", API, {"title": "Hijack"}, path="/api/orders/{order_b}"),
    Row("POST", "/api/orders/<int:order_id>/publish", "403 anonymous,citizen=401 admin,staff_a=200 staff_b=404", API, path="/api/orders/{draft_a}/publish"),
    Row("POST", "/api/orders/<int:order_id>/archive", "403 anonymous,citizen=401 admin,staff_a=200 staff_b=404", API, path="/api/orders/{draft_a}/archive"),
    Row("POST", "/api/apps", "403 anonymous,citizen=401 vendor_a,vendor_b=404", API, lambda i: {"order_id": i["draft_a"], "name": "Early", "slug": "early-app"}),
    Row("GET", "/api/vendors/<int:vendor_id>", "200 anonymous,citizen=401 vendor_a=404", API, path="/api/vendors/{org_b}"),
    Row("GET", "/api/apps/<int:app_id>", "200 anonymous,citizen=401 vendor_a,staff_b=404", API, path="/api/apps/{rival}"),
    Row("GET", "/api/billing/vendors/<int:vendor_id>/statement", "403 anonymous,citizen=401 vendor_b,finance,auditor=200", API, path="/api/billing/vendors/{org_b}/statement"),
    Row("GET", "/finance/vendors/<int:vendor_id>/statement", "403 anonymous=401 vendor_b,finance,auditor=200", WEB, path="/finance/vendors/{org_b}/statement"),
    Row("GET", "/api/departments/<int:department_id>/analytics", "403 anonymous,citizen=401 staff_b,auditor,admin=200", API, path="/api/departments/{dept_b}/analytics"),
    Row("GET", "/orders/<int:order_id>", "404 staff_a,finance,auditor,admin=200", WEB, path="/orders/{draft_a}"),
    Row("GET", "/orders/<int:order_id>/edit", "403 anonymous=401 staff_b,admin=200", WEB, path="/orders/{order_b}/edit"),
    Row("GET", "/apps/<int:app_id>", "200 anonymous=401 citizen,vendor_a,staff_b=404", WEB, path="/apps/{rival}"),
    Row("GET", "/identity/consent/<int:app_id>", "403 anonymous=302 citizen=200", WEB, path="/identity/consent/{rival}"),
]


def expected_of(spec: str) -> dict[str, int]:
    default, *exceptions = spec.split()
    outcome = dict.fromkeys(ROLES, int(default))
    for item in exceptions:
        roles, status = item.split("=")
        for role in roles.split(","):
            assert role in ROLES, f"unknown role {role!r} in {spec!r}"
            outcome[role] = int(status)
    return outcome


@pytest.fixture(scope="module")
def probe(app) -> Probe:
    """The seeded world, inside an outer transaction that is rolled back after the module."""
    from sqlalchemy.orm import scoped_session, sessionmaker

    from core.extensions import db

    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = scoped_session(sessionmaker(bind=connection, join_transaction_mode="create_savepoint"))
        seeded = None
        try:
            seeded = seed(app)
            seeded.connection = connection
            yield seeded
        finally:
            if seeded is not None:
                seeded.restore_source()
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture(autouse=True)
def _rollback():
    """Overrides the per-test database rollback: the module's probe fixture rolls back each probe itself."""
    yield


def _status(probe: Probe, role: str, row: Row) -> int:
    from core.extensions import db

    db.session.remove()  # the session's own savepoint must open inside the probe's, never around it
    savepoint = probe.connection.begin_nested()
    try:
        path = row.url(probe.ids)
        body = row.body(probe.ids) if callable(row.body) else row.body
        response = probe.call(role, row.method, path, api=row.api, body=body)
        if response.status_code >= 400 and path.startswith("/api/"):  # (OAuth errors are RFC 6749 JSON)
            assert response.mimetype == "application/problem+json", f"{row.method} {path} as {role}: not a problem"
            assert response.json["detail"], "every refusal says why"
        return response.status_code
    finally:
        db.session.remove()
        savepoint.rollback()


def test_every_route_has_a_row(app):
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    rows = {(row.method, row.rule) for row in ROWS}
    assert sorted(routes - rows) == [], "routes without a row in the authorization matrix: add one"
    assert sorted(rows - routes) == [], "rows for routes that no longer exist"


@pytest.mark.parametrize("row", ROWS, ids=[f"{row.method} {row.path or row.rule}" for row in ROWS])
def test_every_role_gets_the_expected_outcome(probe, row):
    actual = {role: _status(probe, role, row) for role in ROLES}
    assert actual == expected_of(row.expected)
