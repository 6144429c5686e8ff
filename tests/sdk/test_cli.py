"""`govapp init`, `test` and `package` from an empty folder, as docs/vendors.md tells a vendor (real subprocesses).

The bundle is then installed offline from its own wheels into a fresh virtualenv and served with
`python -m govapp.serve`, the way the platform's sandbox runs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "examples" / "suites" / "food-licence.yaml"
CONTRACT = ROOT / "examples" / "contracts" / "food-licence.openapi.yaml"


def govapp(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "govapp.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.mark.slow
def test_init_test_package_from_an_empty_folder(tmp_path):
    folder = tmp_path / "my-food-app"
    folder.mkdir()

    init = govapp("init", ".", "--order", "food-licence", "--suite", str(SUITE), "--contract", str(CONTRACT), cwd=folder)
    assert init.returncode == 0, init.stderr
    for name in ("govapp.toml", "app.py", "static/index.html", "requirements.txt", "suite.yaml", "contract.openapi.yaml"):
        assert (folder / name).is_file(), name
    manifest = tomllib.loads((folder / "govapp.toml").read_text())
    assert manifest["name"] == "my-food-app" and manifest["order"] == "food-licence"
    assert "application.submit" in manifest["scopes"]
    starter = (folder / "suite.yaml").read_text()
    assert "visibility: hidden" not in starter and "hidden_counts" in starter

    # A second init into the same (now non-empty) folder is refused.
    again = govapp("init", ".", "--order", "food-licence", "--contract", str(CONTRACT), cwd=folder)
    assert again.returncode == 1 and "not empty" in again.stderr

    # The fresh app answers 401 without identity but nothing else yet: test fails with readable diffs.
    first = govapp("test", cwd=folder)
    assert first.returncode == 1
    assert "✗ apply-accepted [happy-path]" in first.stdout
    assert "status: expected 201, got 501" in first.stdout
    assert "✗ no-identity" not in first.stdout
    assert "the platform also runs hidden cases" in first.stdout

    # Write the app (here: the good sample vendor's module) and test again: everything public passes.
    (folder / "app.py").write_text((ROOT / "examples" / "food-shiantong" / "shiantong.py").read_text())
    second = govapp("test", cwd=folder)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "PASSED" in second.stdout

    package = govapp("package", cwd=folder)
    assert package.returncode == 0, package.stderr
    bundle = folder / "dist" / "my-food-app-0.1.0.tar.gz"
    with tarfile.open(bundle) as tar:
        names = tar.getnames()
        members = tar.getmembers()
    assert {"govapp.toml", "app.py", "static/index.html", "suite.yaml"} <= set(names)
    wheels = {n.split("/")[1].split("-")[0].lower() for n in names if n.startswith("wheels/")}
    assert {"govapp_sdk", "flask", "werkzeug", "joserfc", "cryptography"} <= wheels
    assert not any(n.startswith(("dist", "__pycache__")) for n in names)
    assert names == sorted(names)
    assert {(m.uid, m.gid, m.mtime) for m in members} == {(0, 0, 315532800)}

    # Reproducible: packaging again gives the same bytes.
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
    other = tmp_path / "again.tar.gz"
    assert govapp("package", "--out", str(other), cwd=folder).returncode == 0
    assert hashlib.sha256(other.read_bytes()).hexdigest() == digest

    # The bundle alone is enough: offline install from wheels/, then serve on a unix socket.
    unpacked = tmp_path / "unpacked"
    with tarfile.open(bundle) as tar:
        tar.extractall(unpacked, filter="data")
    venv = tmp_path / "runtime"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    wheel_files = sorted(str(p) for p in (unpacked / "wheels").glob("*.whl"))
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--find-links",
                    str(unpacked / "wheels"), *wheel_files], check=True, timeout=300, capture_output=True)
    sock = tmp_path / "app.sock"
    env = {"PATH": os.environ["PATH"], "GOVAPP_ENTRYPOINT": manifest["entrypoint"], "GOVAPP_SOCKET": str(sock),
           "GOVAPP_JWKS": str(tmp_path / "jwks.json"), "GOVAPP_ISSUER": "https://issuer.test"}
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": []}))
    proc = subprocess.Popen([str(venv / "bin" / "python"), "-m", "govapp.serve"], cwd=unpacked, env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://app") as client:
            deadline = time.monotonic() + 30
            while not sock.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert client.get("/health").json()["status"] == "ok"
            assert "食品经营许可证" in client.get("/").text
            assert client.post("/applications", json={}).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_test_without_a_manifest_says_what_to_do(tmp_path):
    result = govapp("test", cwd=tmp_path)
    assert result.returncode == 1
    assert "govapp.toml is missing" in result.stderr


def test_an_app_that_cannot_start_is_reported_with_its_output(tmp_path):
    folder = tmp_path / "broken"
    assert govapp("init", str(folder), "--order", "food-licence", "--suite", str(SUITE), "--contract", str(CONTRACT),
                  cwd=tmp_path).returncode == 0
    (folder / "app.py").write_text("import flask\nraise RuntimeError('missing configuration FOO')\n")
    result = govapp("test", cwd=folder)
    assert result.returncode == 1
    assert "the app exited with status 1 before it was ready" in result.stderr
    assert "RuntimeError: missing configuration FOO" in result.stderr


def test_the_report_summary_says_what_happened_not_report_braces():
    from govapp.cli import report_lines

    document = {"state": "failed", "error": None, "report": {
        "certified": False, "bundle_sha256": "b" * 64,
        "suite": {"name": "food-licence", "version": 3, "sha256": "a" * 64},
        "summary": {"total": 26, "passed": 24, "ratio": 0.9231, "latency_p95_ms": 41.5, "violations": 0,
                    "reasons": ["pass ratio 92.3% is below the required 95%"],
                    "by_category": {"happy-path": [5, 5], "rules": [3, 5]}},
        "verdicts": {"timeout": "case refusal-1 took longer than 5 s"},
        "hidden": {"rules": {"passed": 3, "total": 4}}, "cases": []}}
    lines = report_lines(document)
    assert lines[0] == ("Report: NOT CERTIFIED: 24/26 cases passed (92.3%), latency p95 41.5 ms, "
                        "0 scope violation(s)")
    assert "  - pass ratio 92.3% is below the required 95%" in lines
    assert "  ! timeout: case refusal-1 took longer than 5 s" in lines and "  rules: 3/5" in lines
    assert "  hidden rules: 3/4" in lines and f"  suite food-licence v3 sha256 {'a' * 64}" in lines
    assert not any("{}" in line for line in lines)
    assert report_lines({"state": "error", "error": "the sandbox backend is down", "report": None}) == \
        ["Report: none yet (run error): the sandbox backend is down"]


def test_dev_token_is_verified_by_the_sdk_with_the_printed_settings(tmp_path):
    from click.testing import CliRunner
    from govapp.cli import main
    from govapp.identity import IdentityVerifier

    runner = CliRunner()
    keys = tmp_path / "keys"
    first = runner.invoke(main, ["dev-token", "--dir", str(keys), "--claim", "name=张三", "--claim",
                                 "phone=13800000000"])
    assert first.exit_code == 0, first.output
    token = first.stdout.strip()
    assert f"export GOVAPP_JWKS={(keys / 'jwks.json').resolve()}" in first.stderr
    citizen = IdentityVerifier(keys / "jwks.json", "https://govapp-test.local").verify(token)
    assert citizen.name == "张三" and citizen.claims["phone"] == "13800000000" and citizen.sub == "dev-citizen"
    second = runner.invoke(main, ["dev-token", "--dir", str(keys), "--sub", "other"]).stdout.strip()
    assert IdentityVerifier(keys / "jwks.json", "https://govapp-test.local").verify(first.stdout.strip()).sub == \
        "dev-citizen", "the key is kept: earlier tokens still verify"
    assert IdentityVerifier(keys / "jwks.json", "https://govapp-test.local").verify(second).sub == "other"
    assert runner.invoke(main, ["dev-token", "--dir", str(keys), "--claim", "oops"]).exit_code != 0


def test_docs_vendors_md_documents_every_department_method():
    import inspect
    from pathlib import Path

    from govapp.department import DepartmentClient

    doc = (Path(__file__).resolve().parents[2] / "docs" / "vendors.md").read_text("utf-8")
    methods = [name for name, _ in inspect.getmembers(DepartmentClient, callable) if not name.startswith("_")]
    assert {"person", "person_licences", "business", "business_licences", "submit_application", "application",
            "health"} <= set(methods)
    missing = [name for name in methods if f"`{name}(" not in doc and f"`DepartmentClient.{name}(" not in doc]
    assert not missing, f"docs/vendors.md does not document {missing}"
    for code in ("scope_denied", "invalid_identifier", "invalid_request", "unreachable", "too_many_calls"):
        assert f"`{code}`" in doc, f"the error {code} is not documented"


@pytest.mark.parametrize(("mode", "code"), [("polite", 0), ("optional", 1)])
def test_test_withholds_the_optional_fields_in_the_generated_delegation_case(tmp_path, mode, code):
    """As in certification: every written case's citizen delegates every field govapp.toml declares, the generated
    hidden case's citizen only the required ones — so an app that reads its optional field without looking passes
    the written cases and fails that one, with a reason that says which field."""
    apps = ROOT / "tests" / "sandbox" / "apps"
    (tmp_path / "overreach.py").write_text((apps / "overreach.py").read_text())
    (tmp_path / "overreach_mode.py").write_text(f"MODE = {mode!r}\nTARGET = ''\n")
    (tmp_path / "govapp.toml").write_text(
        'name = "overreach"\nversion = "1.0.0"\norder = "food-licence"\nentrypoint = "overreach:app"\n'
        'runtime = "python3.11"\nscopes = ["person.read", "business.read"]\nfields = ["name"]\n'
        'optional_fields = ["businesses"]\n')
    own = "{{ scenarios.food_ok.applicant.resident_id }}"
    (tmp_path / "suite.yaml").write_text(json.dumps({
        "suite": "overreach", "version": 1, "dataset": {"spec": "citizens-v1", "seed": 42, "size": 2000},
        "pass": {"ratio": 0.5, "latency_p95_ms": 5000},
        "cases": [{"id": "own-record", "category": "rules", "identity": {"sub": "c", "resident_id": own},
                   "request": {"method": "GET", "path": "/read", "query": {"rid": own}}, "expect": {"status": 200}}]}))
    result = govapp("test", ".", "--json", cwd=tmp_path)
    assert result.returncode == code, result.stdout + result.stderr
    run = json.loads(result.stdout)
    cases = {c["case_id"]: c for c in run["cases"]}
    assert list(cases) == ["own-record", "delegation:required-fields-only"]
    assert cases["own-record"]["passed"]
    generated = cases["delegation:required-fields-only"]
    assert generated["visibility"] == "hidden" and generated["passed"] == (mode == "polite")
    if mode == "optional":
        assert [f["finding"] for f in generated["failures"]] == ["the field businesses, which the citizen did not "
                                                                 "consent to"]
        assert not run["passed"] and run["outside_delegation"] == 1
        assert any("the field businesses" in reason for reason in run["reasons"])
