"""The six sample apps score as their quality says under `govapp test` (real subprocesses, real mockdata).

Per order: one correct and fast, one correct but slow, one with mistakes on the edge cases of DOMAIN.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GOVAPP = [sys.executable, "-m", "govapp.cli"]

ORDERS = {"food-shiantong": "food-licence", "food-canzheng": "food-licence", "food-yishi": "food-licence",
          "ssc-kabao": "social-security-card", "ssc-shebaotong": "social-security-card",
          "ssc-kuaiban": "social-security-card"}


def govapp_test(sample: str) -> tuple[int, dict]:
    order = ORDERS[sample]
    result = subprocess.run(
        [*GOVAPP, "test", str(EXAMPLES / sample), "--suite", str(EXAMPLES / "suites" / f"{order}.yaml"),
         "--contract", str(EXAMPLES / "contracts" / f"{order}.openapi.yaml"), "--json"],
        capture_output=True, text=True, timeout=300, check=False)
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize("sample", ["food-shiantong", "ssc-kabao"])
def test_the_good_apps_pass_every_case_quickly(sample):
    code, run = govapp_test(sample)
    assert code == 0
    assert run["passed"] and run["pass_ratio"] == 1.0, [c for c in run["cases"] if not c["passed"]]
    # Quick by the pass rule, not by a wall-clock figure of this machine (a loaded CI machine doubles it).
    assert run["latency_p95_ms"] <= run["latency_limit_ms"]
    assert {c["visibility"] for c in run["cases"]} == {"public", "hidden"}


@pytest.mark.slow
@pytest.mark.parametrize("sample", ["food-canzheng", "ssc-shebaotong"])
def test_the_slow_apps_are_correct_but_slow(sample):
    code, run = govapp_test(sample)
    assert code == 0
    assert run["pass_ratio"] == 1.0
    assert 250 < run["latency_p95_ms"] <= run["latency_limit_ms"]


@pytest.mark.parametrize(("sample", "failing"), [
    ("food-yishi", {"licence-revoked", "small-premises-hot-food", "retry-submits-once"}),
    ("ssc-kuaiban", {"already-has-card", "minor-through-guardian", "minor-missing-guardian-materials",
                     "not-the-guardian", "retry-submits-once"}),
])
def test_the_hasty_apps_fail_the_edge_cases(sample, failing):
    code, run = govapp_test(sample)
    assert code == 1
    assert not run["passed"]
    assert {c["case_id"] for c in run["cases"] if not c["passed"]} == failing
    retry = next(c for c in run["cases"] if c["case_id"] == "retry-submits-once")
    assert "the app made 2" in retry["diff"]
    assert any("below the required" in r for r in run["reasons"])
