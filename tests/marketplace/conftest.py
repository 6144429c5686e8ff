"""A small world of two departments, two vendors and a user per role, with bearer tokens obtained
through the real OAuth 2 token endpoint."""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from core.auth import SYSTEM
from core.ids import resident_id_check_char, uscc_check_char

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def contract_doc() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Test service", "version": "1"},
        "paths": {"/applications": {"post": {"responses": {"201": {"description": "created"}}}}},
    }


def suite_doc(slug: str = "test-order") -> dict:
    return {
        "suite": slug, "version": 1,
        "dataset": {"spec": "citizens-v1", "seed": 1, "size": 100},
        "pass": {"ratio": 0.9, "latency_p95_ms": 500},
        "cases": [
            {"id": "public-happy", "category": "happy-path", "visibility": "public",
             "request": {"method": "POST", "path": "/applications", "json": {"x": 1}},
             "expect": {"status": 201}},
            {"id": "secret-hidden-rule-zq", "category": "rules", "visibility": "hidden",
             "description": "HIDDEN-MARKER premises under 20 m2",
             "request": {"method": "POST", "path": "/applications/hidden-path-zq", "json": {"area": 19}},
             "expect": {"status": 422}},
        ],
    }


class HeldJobs:
    """Stands in for the job queue in API tests that are not about certification: it records what the
    marketplace asks the sandbox to run (job ids) without starting sandboxes. The real queue and sandbox are
    exercised end to end in test_certification_flow.py."""

    def __init__(self):
        self.jobs: list[tuple[str, str]] = []

    def enqueue(self, queue, func, *args, job_id, timeout, **kwargs):
        self.jobs.append((queue, job_id))
        return job_id


@pytest.fixture(autouse=True)
def held_jobs(request):
    if "app" not in request.fixturenames or request.node.get_closest_marker("real_jobs"):
        yield None
        return
    app = request.getfixturevalue("app")
    held = HeldJobs()
    previous = app.extensions["job_queue"]
    app.extensions["job_queue"] = held
    yield held
    app.extensions["job_queue"] = previous


def minimal_bundle(version: str = "1.0.0", order: str = "order-a", scopes: tuple[str, ...] = ()) -> bytes:
    """A small bundle the intake accepts: govapp.toml and the entrypoint module."""
    import io
    import tarfile

    files = {
        "govapp.toml": (f'name = "app-a"\nversion = "{version}"\norder = "{order}"\nentrypoint = "app:app"\n'
                        f'runtime = "python3.11"\nscopes = {list(scopes)!r}\n').replace("'", '"').encode(),
        "app.py": b"def app(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n",
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


@dataclass
class World:
    client: object
    ids: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)

    def headers(self, who: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who in self.tokens else {}

    def call(self, who: str, method: str, path: str, **kw):
        return self.client.open(path, method=method, headers={**self.headers(who), **kw.pop("headers", {})}, **kw)


def issue_token(client, user, scopes) -> str:
    from marketplace.accounts import services as accounts

    api_client, secret = accounts.client_create(user, name="test", scopes=sorted(scopes))
    basic = base64.b64encode(f"{api_client.client_id}:{secret}".encode()).decode()
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                           headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json["access_token"]


@pytest.fixture
def world(app, client):
    return build_world(app, client)


def build_world(app, client) -> World:
    """Two departments, two vendors, a user per role with its token, orders (open and draft) and a version."""
    from marketplace.accounts import services as accounts
    from marketplace.accounts.scopes import ROLE_SCOPES
    from marketplace.catalogue import services as catalogue
    from marketplace.orders import services as orders
    from marketplace.vendors import services as vendors

    w = World(client=client)
    dept_a = catalogue.department_create(SYSTEM, code="dept-a", name="甲局", name_en="Bureau A")
    dept_b = catalogue.department_create(SYSTEM, code="dept-b", name="乙局", name_en="Bureau B")
    item_a = catalogue.service_item_create(SYSTEM, department_id=dept_a.id, code="item-a", name="甲事项",
                                           time_limit_days=10)
    item_b = catalogue.service_item_create(SYSTEM, department_id=dept_b.id, code="item-b", name="乙事项",
                                           time_limit_days=5)
    vendor_a = vendors.vendor_create(SYSTEM, name="Vendor A", credit_code=_uscc("91310000MA1FL0001"))
    vendor_b = vendors.vendor_create(SYSTEM, name="Vendor B", credit_code=_uscc("91310000MA1FL0002"))
    users = {
        "admin": dict(role="admin"), "finance": dict(role="finance"), "auditor": dict(role="auditor"),
        "staff_a": dict(role="department_staff", department_id=dept_a.id),
        "staff_b": dict(role="department_staff", department_id=dept_b.id),
        "vendor_a": dict(role="vendor_member", vendor_id=vendor_a.id),
        "vendor_b": dict(role="vendor_member", vendor_id=vendor_b.id),
        "citizen": dict(role="citizen", resident_id=_rid("11010519900307457")),
    }
    for name, kw in users.items():
        user = accounts.user_create(SYSTEM, email=f"{name}@test.example.cn", display_name=name,
                                    password="correct horse battery", **kw)
        w.ids[name] = user.id
        if ROLE_SCOPES[kw["role"]]:
            w.tokens[name] = issue_token(client, user, ROLE_SCOPES[kw["role"]])

    def make_order(actor_item, slug, publish=True):
        order = orders.order_create(SYSTEM, service_item_id=actor_item.id, slug=slug, title=f"Order {slug}",
                                    contract=contract_doc(), fee_per_transaction_fen=200,
                                    quarterly_budget_fen=1_000_000, dept_scopes=["person.read"],
                                    citizen_scopes=["name"])
        orders.suite_add(SYSTEM, order.id, suite_doc(slug))
        if publish:
            orders.order_publish(SYSTEM, order.id)
        return order

    w.ids.update(dept_a=dept_a.id, dept_b=dept_b.id, item_a=item_a.id, item_b=item_b.id,
                 org_a=vendor_a.id, org_b=vendor_b.id)
    w.ids["order_a"] = make_order(item_a, "order-a").id
    w.ids["draft_a"] = make_order(item_a, "draft-a", publish=False).id
    w.ids["order_b"] = make_order(item_b, "order-b").id
    from core.extensions import db
    from marketplace.accounts.models import User

    app_a = vendors.app_create(db.session.get(User, w.ids["vendor_a"]), order_id=w.ids["order_a"],
                               name="App A", slug="app-a")
    w.ids["app_a"] = app_a.id
    import io

    from core.storage import FileBlobStore

    version_a = vendors.version_upload(db.session.get(User, w.ids["vendor_a"]), app_a.id, version="0.9.0",
                                       stream=io.BytesIO(minimal_bundle("0.9.0")),
                                       store=FileBlobStore(app.config["BUNDLE_STORE"]), max_bytes=10**6)
    w.ids["version_a"] = version_a.id
    return w


def _uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


def _rid(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


@pytest.fixture
def food_suite() -> dict:
    return copy.deepcopy(yaml.safe_load((EXAMPLES / "suites" / "food-licence.yaml").read_text("utf-8")))
