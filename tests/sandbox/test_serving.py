"""Serving published versions: a real sample app (examples/ssc-kabao, packaged by the SDK) as a long-lived
sandboxed process on both backends — started on demand, reused, stopped when idle, restarted when it died,
replaced by a new version — with its department calls and decisions reported to the platform."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
from pathlib import Path

import pytest

from mockdata.delegation import HEADER as DELEGATION_HEADER
from sandbox.harness import ISSUER, HarnessLimits, TokenSigner
from sandbox.serving import Listeners, ServedVersion, ServingRegistry

pytestmark = pytest.mark.usefixtures("no_leftovers")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DATASET = ("citizens-v1", 42, 2000)
SCOPES = ("application.read", "application.submit", "licence.read", "person.read")
KABAO_FIELDS = ("name", "phone", "guardian_resident_id", "tags", "licences")  # examples/ssc-kabao/govapp.toml


def packaged_example(name: str) -> Path:
    """The sample app ``examples/<name>`` packaged by ``govapp package`` (cached by the hash of its sources and
    of the SDK, so a test run downloads its wheels once)."""
    from govapp.bundle import build_bundle

    digest = hashlib.sha256()
    for root in (EXAMPLES / name, Path(__file__).resolve().parents[2] / "sdk" / "govapp"):
        for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(path.name.encode() + path.read_bytes())
    out = Path(tempfile.gettempdir()) / "govmarket-test-bundles" / f"{name}-{digest.hexdigest()[:16]}.tar.gz"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_suffix(f".{os.getpid()}.part")
        build_bundle(EXAMPLES / name, partial)
        os.replace(partial, out)
    return out


@pytest.fixture(scope="session")
def kabao_path():
    return packaged_example("ssc-kabao")


@pytest.fixture
def kabao_sha(store, kabao_path):
    with open(kabao_path, "rb") as fh:
        return store.put_stream(fh, 10**9).sha256


@pytest.fixture(scope="session")
def signer():
    return TokenSigner()


@pytest.fixture
def reports():
    return {"calls": [], "decisions": []}


@pytest.fixture
def registry(backend, store, runs_root, reports):
    listeners = Listeners(on_call=lambda served, call: reports["calls"].append((served.key, call)),
                          on_decision=lambda served, case: reports["decisions"].append((served.key, case)))
    reg = ServingRegistry(lambda: backend, store, runs_root, idle_seconds=60, listeners=listeners,
                          limits=HarnessLimits(ready_seconds=20, install_seconds=90))
    yield reg
    reg.close()


def served(sha: str, signer, *, version_id: int = 1, scopes=SCOPES) -> ServedVersion:
    return ServedVersion(key="kabao", app_id=7, version_id=version_id, bundle_sha256=sha, dept_scopes=tuple(scopes),
                         dataset=DATASET, jwks=signer.jwks(), issuer=ISSUER, audience="http://kabao.apps.localhost")


def call(instance, signer, method: str, path: str, claims: dict | None = None, body: dict | None = None):
    conn = instance.connection(15)
    headers = {"Content-Type": "application/json"}
    if claims is not None:
        headers["Authorization"] = "Bearer " + signer.sign({"aud": instance.served.audience, **claims})
        # The citizen's delegation, as the gateway mints it: the department answers the app only inside it.
        delegation = signer.delegate(claims, app=f"app:{instance.served.app_id}", order="3", fields=KABAO_FIELDS,
                                     purpose="社保卡申领")
        if delegation:
            headers[DELEGATION_HEADER] = delegation
    try:
        # Bytes go out with the headers in one write: an app that answers 401 and closes before reading the body
        # must not leave this client writing into a closed socket (BrokenPipeError).
        conn.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


@pytest.fixture(scope="session")
def ssc_ok():
    from mockdata.generator import scenarios_for
    from mockdata.specs import get_spec

    return scenarios_for(get_spec(DATASET[0]), DATASET[1])["ssc_ok"]


def test_a_sample_app_is_started_on_demand_reused_and_its_department_calls_reported(
        registry, kabao_sha, signer, ssc_ok, reports):
    spec = served(kabao_sha, signer)
    assert registry.running() == {}
    with registry.lease(spec) as first:
        applicant = ssc_ok["applicant"]["resident_id"]
        status, body = call(first, signer, "POST", "/applications", {"sub": "c1", "resident_id": applicant},
                            {"mailing_address": "北京市朝阳区建国路1号", "materials": ["application_form", "id_card", "photo"]})
        assert status == 201, body
        assert body["status"] == "accepted" and body["case_number"].startswith("SB-")
    with registry.lease(spec) as second:
        assert second is first and second.alive()
        # Without the platform's token the app refuses: identity comes only from the gateway's JWT.
        assert call(second, signer, "POST", "/applications", None, {"mailing_address": "x"})[0] == 401
    assert registry.running()["kabao"]["busy"] == 0
    paths = [c["path"] for _key, c in reports["calls"]]
    assert f"/persons/{applicant}" in paths and "/applications/social-security-card" in paths
    assert not any(c["violation"] for _key, c in reports["calls"])
    [(key, decision)] = reports["decisions"]
    assert key == "kabao" and decision["decision"] == "accepted" and decision["applicant_resident_id"] == applicant


def test_idle_instances_stop_and_the_next_request_starts_one_again(registry, kabao_sha, signer):
    spec = served(kabao_sha, signer)
    with registry.lease(spec) as busy:
        # A request in flight keeps the instance, however long it has been since it started.
        assert registry.stop_idle(now=time.monotonic() + 3600) == []
        first_id = busy.id
    assert registry.stop_idle(now=time.monotonic() + 30) == []  # not idle long enough (idle_seconds=60)
    assert registry.stop_idle(now=time.monotonic() + 61) == ["kabao"]
    assert registry.running() == {} and not busy.alive()
    assert not busy.session.dir.exists(), "the run directory of a stopped instance is removed"
    with registry.lease(spec) as again:
        assert again.id != first_id and again.alive()
        assert call(again, signer, "GET", "/health")[0] == 200


def test_a_dead_instance_is_started_again_and_a_new_version_replaces_the_old(registry, kabao_sha, signer):
    spec = served(kabao_sha, signer)
    with registry.lease(spec) as first:
        pass
    first.session.sandbox.stop()  # the app process dies (OOM, crash, operator)
    assert not first.alive()
    with registry.lease(spec) as restarted:
        assert restarted is not first and call(restarted, signer, "GET", "/health")[0] == 200
        # A new published version while a request is in flight: the old instance finishes, then stops.
        newer = served(kabao_sha, signer, version_id=2)
        with registry.lease(newer) as replacement:
            assert replacement is not restarted and replacement.served.version_id == 2
            assert restarted.alive(), "an instance with a request in flight is not stopped under it"
    assert not restarted.alive()
    assert registry.running()["kabao"]["version_id"] == 2


def test_orphans_of_dead_serving_processes_are_swept_when_a_registry_starts(backend, store, runs_root):
    orphan = runs_root / "1.1-serve-orphan"  # pid 1 never had start time 1: its owner is gone
    (orphan / "sock").mkdir(parents=True)
    registry = ServingRegistry(lambda: backend, store, runs_root)
    try:
        registry.backend()
        assert not orphan.exists()
    finally:
        registry.close()


def test_an_app_that_cannot_start_is_reported_not_served(registry, store, signer):
    from core.errors import ServiceUnavailable
    from tests.sandbox.conftest import make_bundle

    broken = store.put_stream(io.BytesIO(make_bundle("broken:app", {"broken.py": b"raise SystemExit(3)\n"})), 10**8)
    with pytest.raises(ServiceUnavailable, match="could not be started"):
        registry.acquire(served(broken.sha256, signer))
    assert registry.running() == {}


def test_an_instance_outlives_the_request_thread_that_started_it(registry, kabao_sha, signer):
    """Web servers start a thread per request; the instance a request started must serve the next one.
    (bwrap's --die-with-parent is tied to the launching thread, so instances are launched from the
    registry's own long-lived threads.)"""
    import threading

    spec = served(kabao_sha, signer)
    started = {}

    def first_request():
        with registry.lease(spec) as instance:
            started["instance"] = instance
            started["status"] = call(instance, signer, "GET", "/health")[0]

    thread = threading.Thread(target=first_request)
    thread.start()
    thread.join(120)
    assert started["status"] == 200
    time.sleep(1.0)  # the launching request thread is gone; give a wrongly tied sandbox time to die
    with registry.lease(spec) as again:
        assert again is started["instance"] and again.alive()
        assert call(again, signer, "GET", "/health")[0] == 200


def test_a_later_start_copies_the_kept_precompiled_deps_instead_of_installing_them(
        backend, store, runs_root, kabao_sha, signer, tmp_path, monkeypatch):
    from sandbox.deps_cache import DepsCache
    from sandbox.harness import AppSession

    installs = []
    real_install = AppSession.install

    def counted(self, wheels, **kw):
        installs.append(kw)
        return real_install(self, wheels, **kw)

    monkeypatch.setattr(AppSession, "install", counted)
    cache = DepsCache(tmp_path / "kept")
    reg = ServingRegistry(lambda: backend, store, runs_root, idle_seconds=60, deps_cache=cache,
                          limits=HarnessLimits(ready_seconds=20, install_seconds=90))
    try:
        spec = served(kabao_sha, signer)
        with reg.lease(spec) as first:
            assert call(first, signer, "GET", "/health")[0] == 200
            compiled = sorted(p.relative_to(first.session.deps_dir) for p in first.session.deps_dir.rglob("*.pyc"))
        assert installs == [{"compile_bytecode": True}], "the first start installs, with the bytecode compiled"
        assert any(str(p).startswith("joserfc/") for p in compiled), "the SDK's dependency is precompiled"
        assert cache.keys() == [DepsCache.key(kabao_sha, backend.image_hash())]
        assert reg.stop_idle(now=time.monotonic() + 61) == ["kabao"]
        with reg.lease(spec) as second:
            assert installs == [{"compile_bytecode": True}], "a later start runs no pip"
            assert sorted(p.relative_to(second.session.deps_dir)
                          for p in second.session.deps_dir.rglob("*.pyc")) == compiled
            assert call(second, signer, "GET", "/health")[0] == 200
            assert second.phases.keys() == {"extract", "department", "install", "ready"}
    finally:
        reg.close()


def test_an_instance_started_ahead_serves_the_first_request_and_a_kept_one_stays_when_idle(
        registry, kabao_sha, signer):
    spec = served(kabao_sha, signer)
    future = registry.prewarm(spec)
    assert future is not None and registry.prewarm(spec) in (future, None), "one start at a time per version"
    assert registry.ready_within(spec, 120.0)
    assert registry.prewarm(spec) is None, "nothing to start: it runs"
    ahead = registry.instance("kabao")
    with registry.lease(spec) as instance:
        assert instance is ahead and call(instance, signer, "GET", "/health")[0] == 200
    registry.keep_warm(["kabao"])
    assert registry.stop_idle(now=time.monotonic() + 3600) == [], "the warm pool's apps stay when idle"
    registry.keep_warm([])
    assert registry.stop_idle(now=time.monotonic() + 3600) == ["kabao"]
    # A start that takes longer than the wait goes on in the background.
    assert registry.ready_within(spec, 0.0) is False
    assert registry.ready_within(spec, 120.0) is True and registry.instance("kabao").alive()


def test_a_start_ahead_that_fails_says_why(registry, store, signer):
    from core.errors import ServiceUnavailable
    from tests.sandbox.conftest import make_bundle

    broken = store.put_stream(io.BytesIO(make_bundle("broken:app", {"broken.py": b"raise SystemExit(3)\n"})), 10**8)
    with pytest.raises(ServiceUnavailable, match="could not be started"):
        registry.ready_within(served(broken.sha256, signer), 60.0)
    assert registry.running() == {}
