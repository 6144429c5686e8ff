"""The run summary: the results of one run of a suite and the pass rule."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from govsuite.evaluation import CaseResult
from govsuite.loading import Suite


def p95(latencies: Sequence[float]) -> float:
    """The 95th percentile by the nearest-rank method (0 for no samples)."""
    if not latencies:
        return 0.0
    ordered = sorted(latencies)
    return float(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)])


@dataclass
class SuiteRun:
    """The results of one run of a suite and the pass rule: ratio ≥ threshold, p95 ≤ limit, no scope violation and
    no department call outside the citizen's delegation."""

    suite: Suite
    results: list[CaseResult]

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def passed_count(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def ratio(self) -> float:
        return self.passed_count / self.total if self.total else 0.0

    @property
    def latency_p95_ms(self) -> float:
        return p95([r.latency_ms for r in self.results])

    @property
    def violations(self) -> int:
        return sum(len(r.violations) for r in self.results)

    @property
    def outside_delegation(self) -> dict[str, int]:
        """What the app reached for outside its citizens' delegations, finding -> how many refused calls (hidden
        cases included; a finding names only the kind of read, never data of a case: ``delegation_finding``)."""
        found: dict[str, int] = {}
        for result in self.results:
            for failure in result.failures:
                if failure.kind == "delegation":
                    found[failure.finding] = found.get(failure.finding, 0) + 1
        return found

    def delegation_reason(self) -> str | None:
        """One sentence saying what the app read outside the delegation (None when nothing), for everyone's eyes."""
        found = self.outside_delegation
        if not found:
            return None
        cases = [r for r in self.results if any(f.kind == "delegation" for f in r.failures)]
        hidden = sum(r.visibility == "hidden" for r in cases)
        where = f"{len(cases)} case(s)" + (f", {hidden} of them hidden" if hidden else "")
        return (f"{sum(found.values())} department call(s) outside the citizen's delegation ({where}): "
                + "; ".join(f"{finding} ({n}×)" for finding, n in sorted(found.items())))

    @property
    def reasons(self) -> list[str]:
        """Why the run does not pass ([] when it passes)."""
        out = []
        if self.total == 0:
            out.append("no case was run")
        if self.ratio < self.suite.pass_ratio:
            out.append(f"pass ratio {self.ratio:.1%} is below the required {self.suite.pass_ratio:.1%}")
        if self.latency_p95_ms > self.suite.latency_p95_ms:
            out.append(f"latency p95 {self.latency_p95_ms:.0f} ms is above the limit of {self.suite.latency_p95_ms:.0f} ms")
        if self.violations:
            out.append(f"{self.violations} department call(s) outside the granted scopes")
        delegation = self.delegation_reason()
        if delegation:
            out.append(delegation)
        return out

    @property
    def passed(self) -> bool:
        return not self.reasons

    def by_category(self) -> dict[str, tuple[int, int]]:
        """category -> (passed, total)."""
        out: dict[str, tuple[int, int]] = {}
        for r in self.results:
            ok, total = out.get(r.category, (0, 0))
            out[r.category] = (ok + r.passed, total + 1)
        return dict(sorted(out.items()))

    def summary(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        line = (f"{verdict}: {self.passed_count}/{self.total} cases ({self.ratio:.1%}, need {self.suite.pass_ratio:.0%}), "
                f"p95 {self.latency_p95_ms:.0f} ms (limit {self.suite.latency_p95_ms:.0f} ms), "
                f"{self.violations} scope violation(s)")
        return line + "".join(f"\n  - {r}" for r in self.reasons)

    def to_dict(self, public_diffs_only: bool = True) -> dict:
        return {
            "suite": self.suite.name,
            "suite_version": self.suite.version,
            "passed": self.passed,
            "pass_ratio": round(self.ratio, 6),
            "required_ratio": self.suite.pass_ratio,
            "latency_p95_ms": round(self.latency_p95_ms, 3),
            "latency_limit_ms": self.suite.latency_p95_ms,
            "violations": self.violations,
            "outside_delegation": sum(self.outside_delegation.values()),
            "reasons": self.reasons,
            "by_category": {k: {"passed": v[0], "total": v[1]} for k, v in self.by_category().items()},
            "cases": [r.to_dict(with_diff=(r.visibility == "public" or not public_diffs_only)) for r in self.results],
        }
