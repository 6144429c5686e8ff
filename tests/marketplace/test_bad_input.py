"""Bad input gets a 4xx with a message naming the problem, and the database is unchanged."""

from __future__ import annotations

import io
import os

import pytest
import sqlalchemy as sa

from core.extensions import db
from tests.marketplace.conftest import minimal_bundle


def _counts():
    from core.audit import AuditEvent
    from marketplace.orders.models import AcceptanceSuite, Order
    from marketplace.vendors.models import AppVersion, Vendor

    return {m.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(m))
            for m in (Order, AcceptanceSuite, Vendor, AppVersion, AuditEvent)}


@pytest.fixture
def unchanged(world):
    before = _counts()
    yield
    db.session.rollback()
    assert _counts() == before, "a refused request must write nothing"


def _order_body(world, **overrides):
    from tests.marketplace.conftest import contract_doc

    body = {"service_item_id": world.ids["item_a"], "slug": "fresh-order", "title": "Fresh",
            "contract": contract_doc(), "fee_per_transaction_fen": 200, "quarterly_budget_fen": 10000}
    body.update(overrides)
    return body


def test_malformed_json(world, unchanged):
    response = world.call("staff_a", "POST", "/api/orders", data=b'{"slug": "x",', content_type="application/json")
    assert response.status_code in (400, 422)
    assert "json" in response.json["detail"].lower()


@pytest.mark.parametrize("field,value", [("fee_per_transaction_fen", "200"), ("fee_per_transaction_fen", 2.5),
                                         ("quarterly_budget_fen", None), ("service_item_id", "one"),
                                         ("dept_scopes", "person.read")])
def test_wrong_types_name_the_field(world, unchanged, field, value):
    response = world.call("staff_a", "POST", "/api/orders", json=_order_body(world, **{field: value}))
    assert response.status_code == 422
    assert field in response.json["detail"]
    assert field in str(response.json["errors"])


def test_unknown_fields_are_refused(world, unchanged):
    response = world.call("staff_a", "POST", "/api/orders", json=_order_body(world, budget_yuan=100))
    assert response.status_code == 422
    assert "budget_yuan" in response.json["detail"]


def test_invalid_openapi_contract_names_the_location(world, unchanged):
    bad = {"openapi": "3.0.3", "info": {"title": "x"}, "paths": {"/a": {"get": {"responses": "nope"}}}}
    response = world.call("staff_a", "POST", "/api/orders", json=_order_body(world, contract=bad))
    assert response.status_code == 422
    assert "contract" in response.json["detail"]
    assert "info" in response.json["detail"] or "paths" in response.json["detail"]


def test_contract_that_is_not_openapi(world, unchanged):
    response = world.call("staff_a", "POST", "/api/orders", json=_order_body(world, contract={"swagger": "2.0"}))
    assert response.status_code == 422
    assert "openapi: 3.x" in response.json["detail"]


def test_unknown_scope(world, unchanged):
    response = world.call("staff_a", "POST", "/api/orders", json=_order_body(world, dept_scopes=["tax.write"]))
    assert response.status_code == 422
    assert "tax.write" in response.json["detail"]


def test_bad_multiplier_table(world, unchanged):
    response = world.call("staff_a", "POST", "/api/orders",
                          json=_order_body(world, rating_multipliers=[[10, 5000], [30, 8000]]))
    assert response.status_code == 422
    assert "5.0" in response.json["detail"] or "50" in response.json["detail"]


def test_invalid_credit_code(world, unchanged):
    response = world.call("admin", "POST", "/api/vendors", json={"name": "Bad", "credit_code": "91310000MA1FL00010"})
    assert response.status_code == 422
    assert "check character" in response.json["detail"]


def test_invalid_suite_names_the_case(world, unchanged):
    from tests.marketplace.conftest import suite_doc

    suite = suite_doc()
    suite["cases"][0]["visibility"] = "secret"
    response = world.call("staff_a", "POST", f"/api/orders/{world.ids['order_a']}/suite", json=suite)
    assert response.status_code == 422
    assert "cases[0].visibility" in response.json["detail"]


def test_suite_dataset_the_department_service_cannot_serve(world, unchanged):
    """Accepted, it would make every certification against it end in an infrastructure error."""
    from tests.marketplace.conftest import suite_doc

    for dataset, problem in (({"spec": "citizens-v1", "seed": 1, "size": 50}, "size 50 is outside 100.."),
                             ({"spec": "citizens-v9", "seed": 1}, "unknown dataset spec 'citizens-v9'")):
        suite = {**suite_doc(), "dataset": dataset}
        response = world.call("staff_a", "POST", f"/api/orders/{world.ids['order_a']}/suite", json=suite)
        assert response.status_code == 422 and problem in response.json["detail"], response.json


def test_forbidden_transition(world, unchanged):
    response = world.call("staff_a", "POST", f"/api/orders/{world.ids['draft_a']}/close")
    assert response.status_code == 409
    assert "draft" in response.json["detail"] and "close" in response.json["detail"]
    again = world.call("staff_a", "POST", f"/api/orders/{world.ids['order_a']}/publish")
    assert again.status_code == 409


def test_fields_locked_once_open(world, unchanged):
    response = world.call("staff_a", "PATCH", f"/api/orders/{world.ids['order_a']}",
                          json={"fee_per_transaction_fen": 999})
    assert response.status_code == 409
    assert "fee_per_transaction_fen" in response.json["detail"]


def test_stale_revision_is_a_conflict(world):
    draft = world.ids["draft_a"]
    current = world.call("staff_a", "GET", f"/api/orders/{draft}").json["revision"]
    first = world.call("staff_a", "PATCH", f"/api/orders/{draft}", json={"title": "One", "expected_revision": current})
    assert first.status_code == 200
    second = world.call("staff_a", "PATCH", f"/api/orders/{draft}", json={"title": "Two", "expected_revision": current})
    assert second.status_code == 409
    assert "reload" in second.json["detail"]
    assert world.call("staff_a", "GET", f"/api/orders/{draft}").json["title"] == "One"


def test_oversize_upload_is_refused_and_leaves_nothing(world, app, unchanged):
    limit = app.config["MAX_BUNDLE_BYTES"]
    store = app.config["BUNDLE_STORE"]
    files_before = sorted(os.walk(store))
    response = world.call("vendor_a", "POST", f"/api/apps/{world.ids['app_a']}/versions?version=9.9.9",
                          data=io.BytesIO(b"\0" * (limit + 1)), content_type="application/gzip")
    assert response.status_code == 413
    assert str(limit) in response.json["detail"]
    assert sorted(os.walk(store)) == files_before, "no partial file may stay behind"


def test_empty_upload(world, unchanged):
    response = world.call("vendor_a", "POST", f"/api/apps/{world.ids['app_a']}/versions?version=1.0.0",
                          data=b"", content_type="application/gzip")
    assert response.status_code == 422
    assert "empty" in response.json["detail"]


def test_double_upload_of_a_version_label(world, held_jobs):
    path = f"/api/apps/{world.ids['app_a']}/versions?version=1.0.0"
    first = world.call("vendor_a", "POST", path, data=minimal_bundle("1.0.0"), content_type="application/gzip")
    assert first.status_code == 201, first.json
    assert len(first.json["bundle_sha256"]) == 64
    assert first.json["status"] == "queued"
    assert held_jobs.jobs[-1] == ("sandbox", f"certify-v{first.json['id']}-s1")
    second = world.call("vendor_a", "POST", path, data=minimal_bundle("1.0.0"), content_type="application/gzip")
    assert second.status_code == 409
    assert "bump the version" in second.json["detail"]


def test_upload_is_stored_by_hash(world, app):
    import hashlib

    body = minimal_bundle("2.0.0")
    response = world.call("vendor_a", "POST", f"/api/apps/{world.ids['app_a']}/versions?version=2.0.0",
                          data=io.BytesIO(body), content_type="application/gzip")
    sha = hashlib.sha256(body).hexdigest()
    assert response.json["bundle_sha256"] == sha
    assert response.json["bundle_size"] == len(body)
    with open(os.path.join(app.config["BUNDLE_STORE"], sha[:2], sha), "rb") as stored:
        assert stored.read() == body


@pytest.mark.parametrize("bundle,needle", [
    (lambda: b"not a tarball at all", "tar.gz"),
    (lambda: minimal_bundle("1.2.3"), "1.2.3"),
    (lambda: minimal_bundle("1.0.0", order="order-b"), "order-b"),
    (lambda: minimal_bundle("1.0.0", scopes=("business.read",)), "business.read"),
])
def test_bundle_contents_must_match_the_upload(world, unchanged, bundle, needle):
    response = world.call("vendor_a", "POST", f"/api/apps/{world.ids['app_a']}/versions?version=1.0.0",
                          data=io.BytesIO(bundle()), content_type="application/gzip")
    assert response.status_code == 422, response.json
    assert needle in response.json["detail"]


def test_hostile_bundle_is_refused_naming_the_entry(world, unchanged):
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        link = tarfile.TarInfo("app.py")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    response = world.call("vendor_a", "POST", f"/api/apps/{world.ids['app_a']}/versions?version=1.0.0",
                          data=io.BytesIO(out.getvalue()), content_type="application/gzip")
    assert response.status_code == 422
    assert "app.py" in response.json["detail"]


def test_missing_token_and_bad_token(world):
    assert world.client.get("/api/orders").status_code == 401
    response = world.client.get("/api/orders", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert "invalid" in response.json["detail"]


def test_wrong_client_secret(world):
    response = world.client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "nope",
                                                       "client_secret": "nope"})
    assert response.status_code in (400, 401)
    assert response.json["error"] == "invalid_client"


def test_revoked_client_tokens_stop_working(world):
    listing = world.call("vendor_a", "GET", "/api/clients").json
    assert world.call("vendor_a", "DELETE", f"/api/clients/{listing[0]['client_id']}").status_code == 204
    assert world.call("vendor_a", "GET", "/api/orders").status_code == 401


def test_audit_records_actor_object_action(world):
    world.call("staff_a", "PATCH", f"/api/orders/{world.ids['draft_a']}", json={"title": "Audited"})
    events = world.call("auditor", "GET", "/api/audit?action=order.update").json
    assert events[0]["object_id"] == str(world.ids["draft_a"])
    assert events[0]["actor_id"] == world.ids["staff_a"]
    assert events[0]["payload"]["changed"] == ["title"]


def test_nul_characters_are_refused_everywhere(world, unchanged):
    for path in ("/api/orders?q=a%00b", "/orders?q=a%00b", "/api/departments?q=%00"):
        response = world.call("staff_a", "GET", path)
        assert response.status_code == 422, (path, response.status_code)
        assert "NUL" in response.get_data(as_text=True)
    response = world.call("staff_a", "POST", "/api/orders", json=_order_body(world, title="a\u0000b"))
    assert response.status_code == 422
    assert "NUL" in response.json["detail"]


# --- Issue 14, item 7: numbers past their column, broken bodies -------------------------------------------------

TOO_BIG = "9223372036854775808"  # 2**63: past every integer column; SQLite's driver raised OverflowError (500)


@pytest.mark.parametrize("path", [f"/api/orders?department_id={TOO_BIG}", f"/api/orders?page={TOO_BIG}",
                                  f"/api/orders/1/suite?version={TOO_BIG}", f"/api/orders/{TOO_BIG}",
                                  f"/api/billing/ledger/entries?page={TOO_BIG}"])
def test_integers_past_their_column_are_a_4xx_problem(world, path):
    response = world.call("admin", "GET", path)
    assert response.status_code in (404, 422), response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("field,value", [("service_item_id", 2**63), ("service_item_id", 2**31),
                                         ("fee_per_transaction_fen", 2**63), ("quarterly_budget_fen", 2**64)])
def test_body_integers_past_their_column_are_a_422_naming_the_field(world, unchanged, field, value):
    response = world.call("staff_a", "POST", "/api/orders", json=_order_body(world, **{field: value}))
    assert response.status_code == 422 and field in response.json["detail"]


def test_every_integer_the_api_reads_has_an_upper_bound(client):
    """The class of item 7: an integer parameter or body field without a maximum can overflow its column. The
    document says what the schemas enforce, so a new unbounded field fails here, before a fuzzer finds the 500."""
    spec = client.get("/api/openapi.json").json
    components = spec["components"]["schemas"]
    unbounded: list[str] = []

    def walk(node, where: str, seen: frozenset = frozenset()) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, where, seen)
        elif isinstance(node, dict):
            ref = node.get("$ref", "").rsplit("/", 1)[-1]
            if ref in components and ref not in seen:
                walk(components[ref], f"{where}→{ref}", seen | {ref})
            if node.get("type") == "integer" and "maximum" not in node and not node.get("readOnly"):
                unbounded.append(where)
            for key, value in node.items():
                walk(value, f"{where}.{key}", seen)

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if isinstance(operation, dict):
                for parameter in operation.get("parameters", []):
                    walk(parameter, f"{method.upper()} {path} ?{parameter.get('name')}")
                walk(operation.get("requestBody", {}), f"{method.upper()} {path} body")
    assert not unbounded, unbounded


@pytest.mark.parametrize("path", ["/api/orders?page=2&page_size=5", "/api/billing/ledger/entries?page=2&page_size=5",
                                  "/api/identity/access-log?page=2&page_size=5"])
def test_page_and_page_size_are_ordinary_numbers_in_the_query(world, path):
    """Issue 14, item 8: query parameters are text; "2" is page 2 (the ledger's strict parsing refused it)."""
    assert world.call("admin" if "orders" in path else "auditor", "GET", path).status_code == 200


def test_a_malformed_chunked_body_is_a_400_on_the_platform_and_on_app_origins(fresh_database_url, tmp_path):
    """Issue 14, item 7: through a real HTTP server (which decodes chunks while the application reads), a broken
    chunk size was an OSError deep in JSON parsing — a 500."""
    import socket

    from tests.conftest import make_app, upgrade
    from tests.live import served

    app = make_app(fresh_database_url, tmp_path, TESTING=False)
    upgrade(app)

    def send(host: str, path: str) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                         "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n".encode())
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        return answer

    with served(app) as port:
        api = send(f"localhost:{port}", "/oauth/token")
        assert api.startswith(b"HTTP/1.1 400"), api[:300]
        assert b"application/problem+json" in api and b"chunk" in api
        gateway = send(f"echo.apps.localhost:{port}", "/anything")
        # An app origin answers before reading the body when there is no app (404) or no session (401); never a 5xx.
        assert gateway.split(b" ", 2)[1] in {b"400", b"401", b"404"}, gateway[:300]


# --- Issue 14, item 8 ----------------------------------------------------------------------------------------------


def test_anonymous_requests_get_401_before_any_validation(world, unchanged):
    response = world.call("nobody", "POST", "/api/orders", json={"fee_per_transaction_fen": "not a number"})
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    assert world.call("nobody", "GET", "/api/orders?page=zero").status_code == 401
    assert world.call("vendor_a", "POST", "/api/orders", json={}).status_code == 403, "a wrong scope is a 403 first"


def test_a_405_says_which_methods_are_allowed(world):
    response = world.call("admin", "DELETE", "/api/orders")
    assert response.status_code == 405 and set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    page = world.client.open("/login", method="DELETE")
    assert page.status_code == 405 and "POST" in page.headers["Allow"]


def test_a_patch_without_a_body_is_refused_and_changes_nothing(world, unchanged):
    order_id = world.ids["draft_a"]
    for kw in ({}, {"content_type": "application/json"}):
        response = world.call("staff_a", "PATCH", f"/api/orders/{order_id}", **kw)
        assert response.status_code == 422 and "no body" in response.json["detail"], response.json


@pytest.mark.parametrize("kw", [{"json": {"bundle": "x"}}, {"data": {"file": (io.BytesIO(b"x"), "b.tar.gz")}}])
def test_an_upload_in_another_format_says_which_one_is_expected(world, unchanged, kw):
    response = world.call("vendor_a", "POST", f"/api/apps/{world.ids['app_a']}/versions?version=1.0.0", **kw)
    assert response.status_code == 415 and "application/gzip" in response.json["detail"]
