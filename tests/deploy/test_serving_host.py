"""The serving host running from the platform image, as compose.yaml's ``serving-1`` (its command, environment,
pid namespace and mounts are read from compose.yaml), serves a published app with the Docker backend. (TLS and the
Redis registry are left out here: tests/deploy/test_compose_stack.py runs compose.yaml whole.)

The test process plays the web: it sends the forwarded request with the shared secret, the app's slug, the scheme
and an identity token. The serving host looks the app up in the (fresh) database, starts its instance in a
sibling container of the host's dockerd and records the app's department call in the database; without the
secret it answers 401. Stopping the container stops the instance: no run folder is left.
"""

from __future__ import annotations

import http.client
import io
import json
import secrets
import shutil
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from tests.conftest import make_app, upgrade
from tests.deploy import test_sandbox_worker as worker_test
from tests.deploy.conftest import ROOT, docker_cli, run_like_compose
from tests.faults import conftest as faults
from tests.live import free_port
from tests.marketplace.conftest import _uscc, contract_doc, suite_doc
from tests.marketplace.test_gateway import ECHO_APP
from tests.sandbox.conftest import make_bundle

pytestmark = [pytest.mark.docker, pytest.mark.slow]
private_redis = faults.private_redis
runtime_tag = worker_test.runtime_tag


def request(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", path, headers=headers)
        reply = conn.getresponse()
        return reply.status, dict(reply.getheaders()), reply.read()
    finally:
        conn.close()


def publish_echo(app) -> tuple[int, int]:
    """Department, service item, vendor, published order granting person.read, and the echo app's live version."""
    from core.auth import SYSTEM
    from core.extensions import db
    from core.storage import FileBlobStore
    from core.time import utcnow
    from marketplace.accounts import services as accounts
    from marketplace.catalogue import services as catalogue
    from marketplace.orders import services as orders
    from marketplace.vendors import services as vendors
    from marketplace.vendors.models import AppVersion

    with app.app_context():
        dept = catalogue.department_create(SYSTEM, code="dept-s", name="服务局", name_en="Serving Bureau")
        item = catalogue.service_item_create(SYSTEM, department_id=dept.id, code="item-s", name="事项",
                                             time_limit_days=10)
        vendor = vendors.vendor_create(SYSTEM, name="Vendor S", credit_code=_uscc("91310000MA1FL0009"))
        member = accounts.user_create(SYSTEM, email="vendor@serving.example.cn", display_name="vendor",
                                      password="correct horse battery", role="vendor_member", vendor_id=vendor.id)
        order = orders.order_create(SYSTEM, service_item_id=item.id, slug="serving-order", title="Serving order",
                                    contract=contract_doc(), fee_per_transaction_fen=100,
                                    quarterly_budget_fen=100_000, dept_scopes=["person.read"],
                                    citizen_scopes=["name"])
        orders.suite_add(SYSTEM, order.id, suite_doc("serving-order"))
        orders.order_publish(SYSTEM, order.id)
        echo = vendors.app_create(member, order_id=order.id, name="Echo", slug="echo")
        blob = FileBlobStore(app.config["BUNDLE_STORE"]).put_stream(
            io.BytesIO(make_bundle("echo:app", {"echo.py": ECHO_APP})), 10**8)
        version = AppVersion(app_id=echo.id, version="1.0.0", bundle_sha256=blob.sha256, bundle_size=blob.size,
                             approved_at=utcnow(), published_at=utcnow())
        db.session.add(version)
        db.session.commit()
        ids = echo.id, version.id
        db.session.remove()
    return ids


def test_app_serving_container_serves_an_app_with_the_docker_socket(image, cleanup, runtime_tag, fresh_database_url,
                                                                    private_redis, tmp_path, shared_folder):
    from core.extensions import db
    from marketplace.gateway.models import DepartmentCall
    from mockdata.generator import scenarios_for
    from mockdata.specs import get_spec

    tag, _runtime_hash = runtime_tag
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    compose, worker = services["serving-1"], services["sandbox-worker"]
    env = dict(compose["environment"])
    # Set up like a sandbox host; the web points at it and shares the secret; nothing publishes its port.
    assert compose["pid"] == worker["pid"] == "host" and compose["user"] == "root"
    assert sorted(compose["volumes"]) == sorted(worker["volumes"]) and "ports" not in compose
    assert {k: env[k] for k in ("GOVMARKET_SANDBOX_BACKEND", "GOVMARKET_RUNTIME_IMAGE", "GOVMARKET_SANDBOX_RUNS")} \
        == {k: worker["environment"][k] for k in ("GOVMARKET_SANDBOX_BACKEND", "GOVMARKET_RUNTIME_IMAGE",
                                                  "GOVMARKET_SANDBOX_RUNS")}
    web = services["web"]["environment"]
    bind = compose["command"][compose["command"].index("--bind") + 1]
    advertised = compose["command"][compose["command"].index("--advertise") + 1]
    assert web["GOVMARKET_SERVING_URL"] == "registry" and advertised == f"https://serving-1:{bind.rsplit(':', 1)[1]}"
    assert services["serving-2"]["command"] == [*compose["command"][:-1], "https://serving-2:8090"]
    assert web["GOVMARKET_SERVING_SECRET"] == env["GOVMARKET_SERVING_SECRET"] and "${" in env["GOVMARKET_SERVING_SECRET"]
    assert "/var/run/docker.sock:/var/run/docker.sock" not in services["web"].get("volumes", [])

    instance = tmp_path / "instance"
    app = make_app(fresh_database_url, instance, QUEUE_MODE="rq", REDIS_URL=private_redis.url)
    upgrade(app)
    app_id, version_id = publish_echo(app)
    bundles = Path(app.config["BUNDLE_STORE"])
    resident_id = scenarios_for(get_spec("citizens-v1"), 42)["ssc_ok"]["applicant"]["resident_id"]

    port = free_port()
    secret = secrets.token_hex(32)
    runs_root = shared_folder("gm-serve-")
    command = [*compose["command"]]
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    advertise_at = command.index("--advertise")
    del command[advertise_at:advertise_at + 2]
    container = run_like_compose(compose, image, cleanup, database_url=fresh_database_url,
                                 redis_url=private_redis.url, runs_root=runs_root, bundles=bundles,
                                 settings={"GOVMARKET_RUNTIME_IMAGE": tag, "GOVMARKET_SERVING_SECRET": secret,
                                           "GOVMARKET_SERVING_TLS_CA": "", "GOVMARKET_SERVING_TLS_CERT": "",
                                           "GOVMARKET_SERVING_TLS_KEY": ""},
                                 command=command)
    name, started, logs = container.name, container.started, container.logs

    hop = {"X-Govmarket-App": "echo", "X-Forwarded-Proto": "https", "Authorization": "Bearer the.identity.token",
           "Host": "echo.apps.example"}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, headers, _body = request(port, "/", {})
                break
            except OSError:
                state = json.loads(docker_cli("inspect", "--format", "{{json .State}}", name).stdout)
                assert state["Running"] and time.monotonic() < deadline, f"the serving host did not start:\n{logs()}"
                time.sleep(0.3)
        assert status == 401 and headers["X-Govmarket-Serving-Error"] == "1"
        assert request(port, "/", {**hop, "X-Govmarket-Serving-Secret": "y" * 64})[0] == 403

        status, headers, body = request(port, "/hello?x=1", {**hop, "X-Govmarket-Serving-Secret": secret})
        first = time.monotonic() - started
        assert status == 200, f"{status} {body[:500]!r}\n{logs()}"
        seen = json.loads(body)
        assert seen["path"] == "/hello" and seen["query"] == "x=1"
        assert seen["headers"]["Authorization"] == "Bearer the.identity.token"
        assert seen["headers"]["X-Forwarded-Proto"] == "https" and seen["headers"]["Host"].startswith("echo.")
        assert not [h for h in seen["headers"] if h.lower().startswith("x-govmarket")], seen["headers"]
        assert headers["X-Content-Type-Options"] == "nosniff"

        # The department answers the app only inside the citizen's delegation, minted as the gateway does (#12).
        with app.app_context():
            from marketplace.identity.services import DelegationBasis, department_token_from
            from marketplace.vendors.models import App

            delegation = department_token_from(DelegationBasis(
                resident_id=resident_id, app_id=app_id, order_id=db.session.get(App, app_id).order_id,
                fields=("name",), purpose="事项（Serving order）", consent_at=0))
            db.session.commit()  # the signing key, which the serving host reads to verify the delegation
            db.session.remove()
        status, _headers, body = request(port, f"/dept/persons/{resident_id}",
                                         {**hop, "X-Govmarket-Serving-Secret": secret, "X-Department-Token": delegation})
        assert status == 200 and json.loads(body)["resident_id"] == resident_id
        with app.app_context():
            calls = db.session.scalars(sa.select(DepartmentCall).where(DepartmentCall.app_id == app_id)).all()
            assert [(c.method, c.status, c.version_id) for c in calls] == [("GET", 200, version_id)]
            db.session.remove()
        assert "on docker" in logs(), logs()
        print(f"\nfirst answer {first:.1f} s after the serving container started")
    finally:
        docker_cli("stop", "--time", "30", name, check=False)
    assert list(runs_root.iterdir()) == [], f"a run folder outlived the serving host:\n{logs()}"
    shutil.rmtree(runs_root, ignore_errors=True)
