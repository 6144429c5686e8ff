"""#22 item 2: clients generated from the live /api/openapi.json by tools nobody here wrote.

openapi-python-client (its own venv, requirements/openapi-client.in) generates a Python client with no operation
skipped, and that client alone drives the vendor's workflow — token, open orders, contract, create app, upload a
bundle, poll certification to its end, the typed report — and the department's approval, against the platform
certifying on the real bubblewrap sandbox. openapi-typescript generates TypeScript types with every operation in
its ``operations`` map, and tsc type-checks them."""

from __future__ import annotations

import base64
import importlib
import io
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.marketplace.test_certification_flow import demo, good_bundle  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / ".venv-openapi" / "bin" / "openapi-python-client"
NODE_BIN = ROOT / "node_modules" / ".bin"
METHODS = {"get", "put", "post", "delete", "patch"}
pytestmark = pytest.mark.real_jobs


def _operation_ids(document: dict) -> set[str]:
    return {op["operationId"] for item in document["paths"].values() for m, op in item.items() if m in METHODS}


@pytest.fixture
def document(client, tmp_path) -> tuple[dict, Path]:
    spec = client.get("/api/openapi.json").json
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(spec), "utf-8")
    return spec, path


def _generate_python(path: Path, out: Path) -> str:
    if not GENERATOR.exists():
        pytest.fail(f"{GENERATOR} is missing: run `make install`")
    result = subprocess.run([str(GENERATOR), "generate", "--path", str(path), "--meta", "none", "--output-path",
                             str(out / "govmarket_api_client"), "--config",
                             str(ROOT / "tests" / "marketplace" / "openapi-python-client.yaml")],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_typescript_types_hold_every_operation(document, tmp_path):
    spec, path = document
    out = tmp_path / "api.d.ts"
    subprocess.run([str(NODE_BIN / "openapi-typescript"), str(path), "-o", str(out)], check=True,
                   capture_output=True, timeout=120)
    text = out.read_text("utf-8")
    operations = text[text.index("export interface operations {"):]
    missing = sorted(op for op in _operation_ids(spec) if f"\n    {op}: {{" not in operations)
    assert not missing, missing
    checked = subprocess.run([str(NODE_BIN / "tsc"), "--noEmit", "--strict", str(out)], capture_output=True,
                             text=True, timeout=120, check=False)
    assert checked.returncode == 0, checked.stdout


def test_generated_python_client_drives_the_vendor_workflow_and_the_approval(app, demo, good_bundle,  # noqa: F811
                                                                               document, tmp_path, monkeypatch):
    spec, path = document
    output = _generate_python(path, tmp_path)
    assert "will not be generated" not in output and "will be omitted" not in output, output
    generated = {p.stem for p in (tmp_path / "govmarket_api_client" / "api").rglob("*.py") if p.stem != "__init__"}
    assert generated == _operation_ids(spec)

    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("govmarket_api_client")]:
        del sys.modules[name]
    gen = importlib.import_module("govmarket_api_client")
    api = {name: importlib.import_module(f"govmarket_api_client.api.{group}.{name}")
           for group_dir in (tmp_path / "govmarket_api_client" / "api").iterdir() if group_dir.is_dir()
           for group in [group_dir.name] for name in (p.stem for p in group_dir.glob("*.py")) if name != "__init__"}
    models = importlib.import_module("govmarket_api_client.models")
    types = importlib.import_module("govmarket_api_client.types")
    transport = httpx.WSGITransport(app=app)

    from core.extensions import db
    from marketplace.accounts import services as accounts
    from marketplace.accounts.models import User

    def token_for(who: str, scopes: list[str]):
        client, secret = accounts.client_create(db.session.get(User, demo.ids[who]), name=f"{who} CI", scopes=scopes)
        basic = gen.AuthenticatedClient(base_url="http://localhost", token=base64.b64encode(
            f"{client.client_id}:{secret}".encode()).decode(), prefix="Basic", httpx_args={"transport": transport})
        token = api["token_create"].sync(client=basic, body=models.TokenRequest(
            grant_type=models.TokenRequestGrantType.CLIENT_CREDENTIALS))
        assert isinstance(token, models.Token), token
        return gen.AuthenticatedClient(base_url="http://localhost", token=token.access_token,
                                       httpx_args={"transport": transport})

    vendor = token_for("swift", ["orders:read", "apps:read", "apps:write"])
    orders = api["order_list"].sync(client=vendor, status=models.OrderListStatus.OPEN)
    order = next(o for o in orders if o.slug == "food-licence")
    contract = api["order_get"].sync(client=vendor, order_id=order.id).contract
    assert contract.additional_properties["openapi"].startswith("3.")
    made = api["app_create"].sync(client=vendor, body=models.AppCreate(order_id=order.id, name="食安通 CI",
                                                                          slug="shiantong-ci"))
    assert isinstance(made, models.AppOut), made
    version = api["version_upload"].sync(client=vendor, app_id=made.id, version="1.0.0",
                                         body=types.File(payload=io.BytesIO(good_bundle)))
    assert isinstance(version, models.VersionOut), version
    # The embedded queue certifies during the upload; a vendor's CI polls until the run is final.
    for _ in range(600):
        seen = api["version_get"].sync(client=vendor, version_id=version.id)
        if seen.certification and seen.certification.state.value in {"certified", "failed", "error"}:
            break
    assert isinstance(seen.certification, models.CertificationOut)
    assert seen.status == models.VersionOutStatus.CERTIFIED, seen
    assert seen.progress.done == seen.progress.total > 20
    report = api["version_report"].sync(client=vendor, version_id=version.id)
    assert isinstance(report, models.ReportOut) and report.state == models.ReportOutState.CERTIFIED
    assert report.report.summary.passed == report.report.summary.total > 20
    assert {case.visibility.value for case in report.report.cases} == {"public"}
    # the documented report schema holds for the real report, as each side sees it
    from openapi_schema_validator import OAS30Validator

    root = {"components": spec["components"], **spec["components"]["schemas"]["ReportOut"]}
    raw = httpx.Client(transport=transport, base_url="http://localhost").get(
        f"/api/versions/{version.id}/report", headers={"Authorization": f"Bearer {vendor.token}"}).json()
    OAS30Validator(root).validate(raw)

    staff = token_for("staff", ["apps:read", "versions:review"])
    queue = api["version_queue"].sync(client=staff, status=models.VersionQueueStatus.CERTIFIED)
    assert version.id in [v.id for v in queue]
    raw = httpx.Client(transport=transport, base_url="http://localhost").get(
        f"/api/versions/{version.id}/report", headers={"Authorization": f"Bearer {staff.token}"}).json()
    assert raw["view"] == "department" and any(c["visibility"] == "hidden" for c in raw["report"]["cases"])
    OAS30Validator(root).validate(raw)
    approved = api["version_approve"].sync(client=staff, version_id=version.id)
    assert approved.status == models.VersionOutStatus.APPROVED
    published = api["version_publish"].sync(client=vendor, version_id=version.id)
    assert published.status == models.VersionOutStatus.PUBLISHED
