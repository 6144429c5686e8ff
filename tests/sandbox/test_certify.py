"""End to end: a sample vendor app, packaged with `govapp package`, certified through the job on each backend,
scores as its quality says (food-yishi misses three hidden rules: 24/27, fails; it reads nothing outside its
citizens' delegations, so the generated delegation case passes)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from core.extensions import db
from core.storage import FileBlobStore
from sandbox import services
from sandbox.models import CertificationRun
from tests.sandbox.conftest import ROOT, sandbox_backend

SCOPES = ["application.read", "application.submit", "business.read", "licence.read", "person.read"]


@pytest.fixture(scope="session")
def yishi_bundle(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("yishi") / "app"
    shutil.copytree(ROOT / "examples" / "food-yishi", src)
    out = src.parent / "yishi.tar.gz"
    subprocess.run([str(ROOT / ".venv" / "bin" / "govapp"), "package", "--out", str(out), str(src)], check=True,
                   capture_output=True, timeout=300)
    return out


@pytest.mark.parametrize("backend_name", ["bwrap", "docker"])
def test_sample_app_certifies_as_its_quality_says(app, app_ctx, yishi_bundle, backend_name, monkeypatch):
    sandbox_backend(backend_name)  # skips locally / fails under CI when the backend is missing
    monkeypatch.setitem(app.config, "SANDBOX_BACKEND", backend_name)
    monkeypatch.setitem(app.config, "SANDBOX_RUNS", "/run/govmarket-sandbox-test")
    with open(yishi_bundle, "rb") as fh:
        sha = FileBlobStore(app.config["BUNDLE_STORE"]).put_stream(fh, 10**8).sha256
    suite = yaml.safe_load((ROOT / "examples" / "suites" / "food-licence.yaml").read_text())
    contract = yaml.safe_load((ROOT / "examples" / "contracts" / "food-licence.openapi.yaml").read_text())

    run = services.certification_request(None, 4242, sha, suite, contract, SCOPES, vendor_id=1, department_id=1)
    db.session.expire_all()
    run = db.session.get(CertificationRun, run.id)
    assert run.state == "failed", (run.state, run.error)
    assert run.cases_done == run.cases_total == 27
    report = run.report
    assert report["summary"]["passed"] == 24
    assert report["verdicts"] == {} and report["summary"]["outside_delegation"] == 0
    assert report["image_hash"] and report["bundle_sha256"] == sha and report["suite"]["sha256"] == run.suite_sha256
    failed = {c["case_id"] for c in report["cases"] if not c["passed"]}
    assert failed == {"licence-revoked", "small-premises-hot-food", "retry-submits-once"}


def test_sweep_kills_the_department_service_a_dead_worker_left(tmp_path):
    """The department service runs on the host, outside the sandbox's cgroups: if it is still there when its run
    directory is swept (its worker was SIGKILLed), the sweep kills it — but never a process that merely reuses
    its pid."""
    import sys

    from sandbox import harness
    from sandbox.backends import owner_key

    runs = tmp_path / "runs"
    left, reused = runs / "999999.1-r7a1", runs / "999998.1-r8a1"
    services_started = []
    for run_dir in (left, reused):
        run_dir.mkdir(parents=True)
        services_started.append(subprocess.Popen(
            [sys.executable, "-m", "mockdata", "serve", "--socket", str(run_dir / "dept.sock"), "--size", "100"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    orphan, bystander = services_started
    try:
        key = owner_key(orphan.pid)
        (left / harness.DEPT_PID_FILE).write_text(key)
        (reused / harness.DEPT_PID_FILE).write_text(f"{bystander.pid}.1")  # same pid, another start time
        swept = harness.sweep_run_dirs(runs)
        assert orphan.wait(10) == -9
        assert bystander.poll() is None
        assert sorted(swept) == sorted([f"department service {key} of {left.name}", f"directory {left}",
                                        f"directory {reused}"])
        assert not left.exists() and not reused.exists()
    finally:
        for proc in services_started:
            proc.kill()
            proc.wait(10)
