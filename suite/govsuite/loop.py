"""The case loop: how every run of a suite sends its cases, in one place for `govapp test` and the sandbox.

What differs between a vendor's laptop and the platform's sandbox — how the app is started, reached and
watched, how identity tokens are signed — sits behind two small seams: a `Transport` (one running app
instance and its department service) and `open_instance` (a context manager that starts a fresh instance
for a phase and stops it afterwards). What must not differ lives here:

- **Public cases first, then hidden cases in a fresh instance.** The instance that served a hidden case
  never answers a public one, so nothing an app remembers of a hidden case (and echoes, or logs) can
  appear in what a vendor is shown: the public cases' responses and the public instance's output.
- Every case starts from a clean department (the transport forgets earlier calls) and carries the
  headers the transport gives it (the identity token; the case's delegation goes there too: the case
  citizen's, with the app's declared fields, or its required ones only for a ``consent: required`` case
  such as the generated delegation case).
- The last response of a case is judged, with the department calls made during the case.
- After ``max_consecutive_timeouts`` cases in a row timed out (or spun the CPU), the remaining cases fail
  without being sent: an app that hangs costs a few request deadlines, not one per case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from govsuite.evaluation import CaseResult, Failure, HttpResponse, evaluate_case
from govsuite.model import Case, Request

PHASES = ("public", "hidden")
# Verdicts that mean "the app did not answer in time": counted towards max_consecutive_timeouts.
TIMEOUT_VERDICTS = ("timeout", "cpu")


@dataclass(frozen=True)
class Exchange:
    """What one request got: the response (None if there was none), and a resource verdict the transport saw
    (timeout, cpu, output, crash, ...) with its reason. A verdict fails the case whatever the response."""

    response: HttpResponse | None
    latency_ms: float = 0.0
    verdict: str | None = None
    error: str = ""


class Transport(Protocol):
    """One running app instance and the department service it calls."""

    def unavailable(self) -> tuple[str, str] | None:
        """``(verdict, reason)`` when no case can be sent (the app never started, it exited, the run is out of
        time); None when the app can be asked."""

    def open_case(self, case: Case) -> Mapping[str, str]:
        """Prepare the department for ``case`` (it forgets every earlier call) and return the headers each
        request of the case carries: the identity token of ``case.identity``, and the case's delegation — the
        fields the app declares, only its required ones when ``case.consent`` is "required"."""

    def send(self, request: Request, headers: Mapping[str, str]) -> Exchange:
        """Send one request with a deadline and a size cap; never raises for what the app does."""

    def department_calls(self) -> Sequence[Mapping]:
        """The department calls the app made since ``open_case``."""


def run_case(case: Case, transport: Transport, contract: Mapping | None) -> CaseResult:
    """Send the case's requests (``repeat`` sends one again) and judge the last response."""
    common = transport.open_case(case)
    exchange: Exchange | None = None
    for request in case.requests():
        headers = {**request.headers, **common}
        if request.content_type():
            headers.setdefault("Content-Type", request.content_type())
        exchange = transport.send(request, headers)
        if exchange.response is None or exchange.verdict:
            break
    assert exchange is not None  # a case has at least one request
    if exchange.response is None:
        return CaseResult(case.id, case.category, case.visibility, False, None, exchange.latency_ms,
                          [Failure("no_answer", exchange.error or "the app gave no response")],
                          verdict=exchange.verdict or "crash")
    result = evaluate_case(case, exchange.response, transport.department_calls(), contract)
    if exchange.verdict:
        result.passed = False
        result.verdict = exchange.verdict
    return result


def run_cases(cases: Iterable[Case], open_instance: Callable[[str], AbstractContextManager[Transport]],
              contract: Mapping | None = None, *, on_result: Callable[[CaseResult], None] | None = None,
              max_consecutive_timeouts: int | None = 3) -> list[CaseResult]:
    """Run ``cases``: the public ones in one instance, then the hidden ones in a fresh instance
    (``open_instance("public")``, ``open_instance("hidden")``; a phase without cases starts nothing).
    Returns the results in the order the cases ran; ``on_result`` is called after each."""
    by_phase = {phase: [c for c in cases if (c.visibility == "hidden") == (phase == "hidden")] for phase in PHASES}
    results: list[CaseResult] = []
    streak = 0
    stopped: str | None = None

    def record(result: CaseResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    for phase in PHASES:
        if not by_phase[phase]:
            continue
        if stopped is not None:
            for case in by_phase[phase]:
                record(_not_sent(case, "timeout", stopped))
            continue
        with open_instance(phase) as transport:
            for case in by_phase[phase]:
                if stopped is None:
                    blocked = transport.unavailable()
                    if blocked is not None:
                        record(_not_sent(case, *blocked))
                        continue
                    result = run_case(case, transport, contract)
                    record(result)
                    streak = streak + 1 if result.verdict in TIMEOUT_VERDICTS else 0
                    if max_consecutive_timeouts and streak >= max_consecutive_timeouts:
                        stopped = f"not sent: the {streak} cases before it timed out in a row"
                else:
                    record(_not_sent(case, "timeout", stopped))
    return results


def _not_sent(case: Case, verdict: str, reason: str) -> CaseResult:
    return CaseResult(case.id, case.category, case.visibility, False, None, 0.0, [Failure("no_answer", reason)],
                      verdict=verdict)
