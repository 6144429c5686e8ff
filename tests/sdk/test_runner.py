"""`govapp test`'s runner keeps the sandbox's order: public cases in one app process, hidden ones after them in a
fresh process, so what the public process printed and answered holds nothing of a hidden case."""

from __future__ import annotations

import shutil
from pathlib import Path

from govapp.runner import run_suite_locally
from govsuite import load_suite

ECHO = Path(__file__).resolve().parents[1] / "sandbox" / "apps" / "echo.py"


def test_hidden_cases_run_last_in_a_fresh_app_process(tmp_path):
    shutil.copy(ECHO, tmp_path / "echo.py")
    suite = load_suite({
        "suite": "echo", "version": "1", "dataset": {"spec": "citizens-v1", "seed": 7, "size": 100},
        "pass": {"ratio": 1.0, "latency_p95_ms": 5000},
        "cases": [{"id": case_id, "category": "c", "visibility": visibility, "expect": {"status": 418},
                   "request": {"method": "GET", "path": f"/{case_id}"}}
                  for case_id, visibility in (("hidden-SECRET1", "hidden"), ("pub-1", "public"),
                                              ("hidden-SECRET2", "hidden"), ("pub-2", "public"))]})
    local = run_suite_locally(tmp_path, "echo:app", suite, scopes=[])
    results = local.run.results
    assert [r.case_id for r in results] == ["pub-1", "pub-2", "hidden-SECRET1", "hidden-SECRET2"]
    assert local.run.passed_count == 4
    public_output = "\n".join(local.app_output)
    assert "GET /pub-2" in public_output and "SECRET" not in public_output
    assert "GET /hidden-SECRET1" in "\n".join(local.hidden_output)
