"""The local test runner behind `govapp test`.

It does locally what the platform's sandbox harness does: start the simulated department service
(`python -m mockdata serve`, from the platform's `mockdata` package) on a unix socket with the order's
dataset and scopes, start the app with `python -m govapp.serve` on another socket, sign each case's
identity as a JWT with a throw-away key whose JWKS the app is given — and the case citizen's department access
token (the delegation, with the fields govapp.toml declares; the required ones only in a `consent: required` case
such as the generated hidden delegation case) that the department service checks every call against —, run
every case (resetting the
department's records before each) and judge it with `govsuite.evaluate_case`.

The cases run through `govsuite.run_cases`, the loop the platform's sandbox uses too: public cases first,
then hidden ones (a department's full suite may hold some) in a fresh app process, so a run here orders and
isolates cases exactly as certification does.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from govsuite import Case, CaseResult, Exchange, HttpResponse, Request, Suite, SuiteRun, run_cases
from joserfc import jwt
from joserfc.jwk import ECKey

__all__ = ["LocalRun", "RunnerError", "TokenSigner", "run_suite_locally"]

LOCAL_ISSUER = "https://govapp-test.local"
# The platform's department access tokens (mockdata.delegation, which the SDK does not import): header, JOSE type
# and audience.
DELEGATION_HEADER = "X-Department-Token"
DELEGATION_TYPE = "dept+jwt"
DELEGATION_AUDIENCE = "urn:govmarket:department"


class RunnerError(RuntimeError):
    """The local run could not start (service or app failed); the message says which and shows its output."""


class TokenSigner:
    """Signs identity tokens the way the platform's gateway does, with a key made for this run."""

    def __init__(self, issuer: str = LOCAL_ISSUER, lifetime_s: int = 300, key: ECKey | None = None):
        self.issuer = issuer
        self.lifetime_s = lifetime_s
        self.key = key or ECKey.generate_key("P-256", parameters={"kid": "govapp-test", "use": "sig", "alg": "ES256"})

    def jwks(self) -> dict:
        """The public key as a JWKS document, for the app's `GOVAPP_JWKS`."""
        return {"keys": [self.key.as_dict(private=False)]}

    def sign(self, claims: Mapping) -> str:
        """An identity JWT (ES256) carrying `claims`, issued now and valid for `lifetime_s` seconds."""
        now = int(time.time())
        payload = {"iss": self.issuer, "iat": now, "nbf": now, "exp": now + self.lifetime_s, **claims}
        return jwt.encode({"alg": "ES256", "kid": "govapp-test", "typ": "JWT"}, payload, self.key)

    def delegate(self, identity: Mapping | None, *, app: str, order: str, fields: Sequence[str], purpose: str) -> str | None:
        """The department access token of the case's citizen (None without a resident ID), as the gateway mints."""
        resident_id = (identity or {}).get("resident_id")
        if not resident_id:
            return None
        now = int(time.time())
        payload = {"iss": self.issuer, "iat": now, "nbf": now, "exp": now + self.lifetime_s, "jti": uuid.uuid4().hex,
                   "aud": DELEGATION_AUDIENCE, "sub": str(resident_id), "app": app, "order": order,
                   "fields": sorted(set(fields)), "purpose": purpose, "consent_at": 0}
        return jwt.encode({"alg": "ES256", "kid": "govapp-test", "typ": DELEGATION_TYPE}, payload, self.key)


def _uds_client(socket_path: str, timeout: float) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=socket_path), base_url="http://app.local", timeout=timeout)


class _Process:
    """A child process whose output is collected (capped) for error messages."""

    def __init__(self, name: str, args: Sequence[str], *, env: Mapping[str, str], cwd: str | None = None):
        self.name = name
        self.output: list[str] = []
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter with fixed arguments
            list(args), env=dict(env), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        )
        self.first_line: str | None = None
        self._first = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if self.first_line is None and line.lstrip().startswith("{"):
                self.first_line = line
                self._first.set()
            if len(self.output) < 400:
                self.output.append(line.rstrip("\n"))
        self._first.set()

    def wait_first_json_line(self, timeout: float) -> dict:
        self._first.wait(timeout)
        if self.first_line is None:
            raise RunnerError(f"{self.name} did not start within {timeout:.0f} s:\n{self.tail()}")
        return json.loads(self.first_line)

    def tail(self, lines: int = 30) -> str:
        return "\n".join("    " + line for line in self.output[-lines:]) or "    (no output)"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class LocalRun:
    """Everything a finished local run produced."""

    run: SuiteRun
    app_output: list[str] = field(default_factory=list)  # of the instance that served the public cases
    hidden_output: list[str] = field(default_factory=list)  # of the fresh instance that served hidden cases


def _wait_for_health(socket_path: str, process: _Process, deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    with _uds_client(socket_path, timeout=2) as client:
        while time.monotonic() < end:
            if process.proc.poll() is not None:
                raise RunnerError(f"the app exited with status {process.proc.returncode} before it was ready:\n{process.tail()}")
            if os.path.exists(socket_path):
                with contextlib.suppress(httpx.HTTPError):
                    if client.get("/health").status_code == 200:
                        return
            time.sleep(0.05)
    raise RunnerError(f"the app did not answer GET /health within {deadline_s:.0f} s:\n{process.tail()}")


@contextlib.contextmanager
def department_service(workdir: Path, dataset: Mapping, scopes: Sequence[str], python: str = sys.executable,
                       start_timeout: float = 60, *, delegation: tuple[dict, str, str] | None = None
                       ) -> Iterator[tuple[str, httpx.Client]]:
    """Run `python -m mockdata serve`; yields (its socket path, a client for its control socket)."""
    sock, control = str(workdir / "dept.sock"), str(workdir / "dept-control.sock")
    args = [python, "-m", "mockdata", "serve", "--socket", sock, "--control-socket", control,
            "--spec", str(dataset["spec"]), "--seed", str(dataset["seed"]), "--scopes", ",".join(sorted(scopes))]
    if dataset.get("size"):
        args += ["--size", str(dataset["size"])]
    if delegation is not None:  # (JWKS, issuer, app): every call must carry that app's delegation
        args += ["--delegation-jwks", json.dumps(delegation[0]), "--delegation-issuer", delegation[1],
                 "--delegation-app", delegation[2]]
    process = _Process("the simulated department service (python -m mockdata serve)", args, env=os.environ)
    try:
        try:
            ready = process.wait_first_json_line(start_timeout)
        except RunnerError as exc:
            if any("No module named mockdata" in line for line in process.output):
                raise RunnerError("the simulated department service is not installed in this environment: install the "
                                  "platform's distribution, which holds the mockdata package (docs/vendors.md, step 1)") from exc
            raise
        if not ready.get("ready"):
            raise RunnerError(f"the department service reported {ready}:\n{process.tail()}")
        with _uds_client(control, timeout=30) as client:
            yield sock, client
    finally:
        process.stop()


class _LocalTransport:
    """One app process on a unix socket, and the department service's control client."""

    def __init__(self, app: _Process, socket_path: str, control: httpx.Client, signer: TokenSigner, timeout: float,
                 delegate: Callable[[Case], str | None] = lambda case: None):
        self.delegate = delegate
        self.app = app
        self.control = control
        self.signer = signer
        self.client = _uds_client(socket_path, timeout=timeout)

    def unavailable(self) -> tuple[str, str] | None:
        if self.app.proc.poll() is not None:
            return "crash", f"the app exited with status {self.app.proc.returncode} during the suite"
        return None

    def open_case(self, case: Case) -> dict[str, str]:
        self.control.post("/reset").raise_for_status()
        if case.identity is None:
            return {}
        headers = {"Authorization": f"Bearer {self.signer.sign(case.identity)}"}
        delegation = self.delegate(case)  # as the platform's harness: the department answers only inside it
        if delegation:
            headers[DELEGATION_HEADER] = delegation
        return headers

    def send(self, request: Request, headers: Mapping[str, str]) -> Exchange:
        started = time.perf_counter()
        try:
            reply = self.client.request(request.method, request.target(), content=request.body_bytes(),
                                        headers=dict(headers))
        except httpx.TimeoutException:
            return Exchange(None, (time.perf_counter() - started) * 1000, "timeout",
                            f"no complete answer within {self.client.timeout.read} s")
        except httpx.HTTPError as exc:
            verdict = "crash" if self.app.proc.poll() is not None else None
            return Exchange(None, (time.perf_counter() - started) * 1000, verdict, f"no answer ({exc})")
        elapsed = (time.perf_counter() - started) * 1000
        return Exchange(HttpResponse(reply.status_code, dict(reply.headers), reply.content, elapsed), elapsed)

    def department_calls(self) -> list[dict]:
        return self.control.get("/calls").raise_for_status().json().get("calls", [])

    def close(self) -> None:
        self.client.close()


def run_suite_locally(
    app_dir: Path,
    entrypoint: str,
    suite: Suite,
    *,
    scopes: Sequence[str],
    contract: Mapping | None = None,
    cases: Callable[[Suite], list[Case]] | None = None,
    python: str = sys.executable,
    request_timeout: float = 10.0,
    on_result: Callable[[CaseResult], None] | None = None,
    app_name: str = "app",
    order: str = "",
    fields: Sequence[str] = (),
    required_fields: Sequence[str] | None = None,
) -> LocalRun:
    """Start the department service, run the suite's cases in the app (public ones first, hidden ones in a fresh
    app process), return the judged run. Each case's citizen delegates ``fields`` (govapp.toml's, required and
    optional) to ``app_name``; a ``consent: required`` case's citizen only ``required_fields`` (default: all of
    ``fields``). Without ``cases``, the cases are the suite's written ones and those generated from ``contract`` and,
    where there are ``scopes``, the hidden delegation case — as in certification."""
    signer = TokenSigner()
    with tempfile.TemporaryDirectory(prefix="govapp-test-") as tmp:
        workdir = Path(tmp)
        with department_service(workdir, suite.dataset, scopes, python=python,
                                delegation=(signer.jwks(), signer.issuer, app_name)) as (dept_socket, control):
            scenarios = control.get("/scenarios").raise_for_status().json()
            resolved = suite.resolve(scenarios)

            def delegate(case: Case) -> str | None:
                withheld = case.consent == "required" and required_fields is not None
                return signer.delegate(case.identity, app=app_name, order=order,
                                       fields=required_fields if withheld else fields,
                                       purpose=f"acceptance test of {suite.name}")
            jwks_path = workdir / "jwks.json"
            jwks_path.write_text(json.dumps(signer.jwks()), encoding="utf-8")
            app_socket = str(workdir / "app.sock")
            env = {**os.environ, "GOVAPP_ENTRYPOINT": entrypoint, "GOVAPP_SOCKET": app_socket,
                   "GOVAPP_DEPT_SOCKET": dept_socket, "GOVAPP_JWKS": str(jwks_path), "GOVAPP_ISSUER": signer.issuer,
                   "GOVAPP_ACCESS_LOG": "0", "PYTHONDONTWRITEBYTECODE": "1"}
            env.pop("GOVAPP_PORT", None)
            outputs: dict[str, list[str]] = {}

            @contextlib.contextmanager
            def instance(phase: str) -> Iterator[_LocalTransport]:
                app = _Process("the app (python -m govapp.serve)", [python, "-m", "govapp.serve"], env=env,
                               cwd=str(app_dir))
                try:
                    _wait_for_health(app_socket, app, deadline_s=30)
                    transport = _LocalTransport(app, app_socket, control, signer, request_timeout, delegate)
                    try:
                        yield transport
                    finally:
                        transport.close()
                finally:
                    app.stop()
                    outputs[phase] = app.output

            chosen = cases(resolved) if cases else resolved.all_cases(contract, department_scopes=scopes)
            results = run_cases(chosen, instance, contract, on_result=on_result)
            return LocalRun(SuiteRun(resolved, results), outputs.get("public", []), outputs.get("hidden", []))
