"""A whole certification of a sample app, 200 cases, on each backend and without isolation, with the time ratios.

Run as root on the sandbox host, with the runtime built (`make runtime`) and dockerd up (scripts/ensure-services.sh):

    .venv/bin/python bench/sandbox_certify.py --repeat 3

The app is examples/food-shiantong (fast and correct), packaged once with `govapp package` (cached in
~/.cache/govmarket/bench, keyed on the app's and the SDK's sources). The suite is examples/suites/food-licence.yaml
expanded deterministically to 200 cases: its written cases, public and hidden, cycled in order with distinct ids and
a distinct citizen `sub` and premises address per copy (so the app treats each as a new application), plus the cases
the harness generates from the contract, as in production.

Each mode runs ``sandbox.harness.certify`` itself — same bundle, same suite, same department service, same
per-case code — with a different backend: ``bwrap``, ``docker``, and ``none``: a benchmark-only backend
(:class:`NoIsolationBackend`) that runs the very same commands (pip install of the bundle's wheels, then
``/usr/bin/python3 -m govapp.serve``) as plain host subprocesses, the sandbox paths mapped to the run directory.
Modes alternate within each repetition so load drift hits all of them alike; figures are medians of ``--repeat``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "sdk"))

import yaml  # noqa: E402

from core.config import load_config  # noqa: E402
from core.errors import ServiceUnavailable  # noqa: E402
from core.storage import FileBlobStore  # noqa: E402
from sandbox.backends import (  # noqa: E402
    CapturedOutput,
    CpuTimes,
    ProcessSandbox,
    ResourceEvents,
    SandboxSpec,
    get_backend,
)
from sandbox.harness import CertificationInput, certify, default_runs_root  # noqa: E402

APP = ROOT / "examples" / "food-shiantong"
SUITE = ROOT / "examples" / "suites" / "food-licence.yaml"
CONTRACT = ROOT / "examples" / "contracts" / "food-licence.openapi.yaml"
SCOPES = ["application.read", "application.submit", "business.read", "licence.read", "person.read"]
MODES = ("none", "bwrap", "docker")


# ---------------------------------------------------------------------------------------------- no isolation


class HostProcess(ProcessSandbox):
    """A command of a SandboxSpec run as a plain host process in its own session (benchmark baseline only)."""

    def events(self) -> ResourceEvents:
        return ResourceEvents(oom_killed=False, pids_limited=False, exit_code=self.proc.poll())  # no limits to hit

    def cpu_times(self) -> CpuTimes:
        return CpuTimes(None, 0.0)  # not accounted: its timeouts stay "timeout"

    def owns_process(self, pid: int) -> bool:
        try:
            return os.getsid(pid) == self.proc.pid
        except OSError:
            return False

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(5)
        self._output.join()


class NoIsolationBackend:
    """The baseline of this benchmark, never a platform backend: runs a SandboxSpec's argv on the host with no
    namespaces, no cgroup limits, no uid change. Mount targets (/app, /deps, /run/govapp) and /tmp in argv, env and
    workdir are rewritten to their host folders, so the harness's commands run unchanged."""

    name = "none"

    def check(self) -> None:
        if not os.path.exists("/usr/bin/python3"):
            raise ServiceUnavailable("the no-isolation baseline runs the host's /usr/bin/python3, which is missing")

    def image_hash(self) -> str:
        return "none: host /usr/bin/python3"

    def sweep(self) -> list[str]:
        return []

    def start(self, spec: SandboxSpec) -> HostProcess:
        tmp = spec.host_dir / f"tmp-{spec.run_id}"
        tmp.mkdir(mode=0o700, exist_ok=True)
        mapping = sorted([(m.target, str(m.host)) for m in spec.mounts] + [("/tmp", str(tmp))],
                         key=lambda pair: -len(pair[0]))

        def host_path(value: str) -> str:
            parts = []
            for part in value.split(":"):
                for target, host in mapping:
                    if part == target or part.startswith(target + "/"):
                        part = host + part[len(target):]
                        break
                parts.append(part)
            return ":".join(parts)

        output = CapturedOutput(spec.limits.log_keep_bytes)
        proc = subprocess.Popen([host_path(a) for a in spec.argv], cwd=host_path(spec.workdir),
                                env={k: host_path(v) for k, v in spec.env.items()}, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        output.follow_pipe(proc.stdout)  # type: ignore[arg-type]
        return HostProcess(spec.run_id, proc, output)


class TimedBackend:
    """Wraps a backend and notes when the harness starts each sandbox (install, app), to split start-up from cases."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.starts: dict[str, float] = {}

    def check(self) -> None:
        self.inner.check()

    def image_hash(self) -> str:
        return self.inner.image_hash()

    def sweep(self) -> list[str]:
        return self.inner.sweep()

    def start(self, spec: SandboxSpec):
        self.starts[spec.run_id.rsplit("-", 1)[1]] = time.perf_counter()
        return self.inner.start(spec)


# ---------------------------------------------------------------------------------------------- inputs


def bundle() -> Path:
    """examples/food-shiantong packaged with `govapp package`, built once per source state."""
    digest = hashlib.sha256()
    for base in (APP, ROOT / "sdk"):
        for path in sorted(p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                           and ".egg-info" not in str(p)):
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    cache = Path.home() / ".cache" / "govmarket" / "bench"
    out = cache / f"food-shiantong-{digest.hexdigest()[:16]}.tar.gz"
    if not out.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "app"
            subprocess.run(["cp", "-r", str(APP), str(src)], check=True)
            partial = Path(tmp) / out.name
            subprocess.run([str(ROOT / ".venv" / "bin" / "govapp"), "package", "--out", str(partial), str(src)],
                           check=True, capture_output=True, timeout=600)
            os.replace(partial, out)
    return out


def expanded_suite(total: int, contract: dict) -> dict:
    """The food-licence suite grown to `total` cases (written + generated from the contract + the delegation case) by
    cycling its written cases."""
    from govsuite import load_suite

    doc = yaml.safe_load(SUITE.read_text())
    written = doc["cases"]
    generated = len(load_suite(doc).all_cases(contract, department_scopes=SCOPES)) - len(written)
    need = total - generated
    if need < len(written):
        raise SystemExit(f"--cases {total} is fewer than the suite's own {len(written) + generated} cases")
    cases = []
    for i in range(need):
        case = copy.deepcopy(written[i % len(written)])
        copy_no = i // len(written)
        if copy_no:
            case["id"] = f"{case['id']}-r{copy_no}"
            if case.get("identity") and "sub" in case["identity"]:
                case["identity"]["sub"] = f"{case['identity']['sub']}-r{copy_no}"
            address = (case["request"].get("json") or {}).get("premises_address")
            if isinstance(address, str) and address:
                # A different premises per copy: a distinct application, not a resubmission the app dedups.
                case = _replace_value(case, address, f"{address} {copy_no}号铺")
        cases.append(case)
    doc["cases"] = cases
    doc["suite"] = f"{doc['suite']}-bench{total}"
    return doc


def _replace_value(value, old: str, new: str):
    if isinstance(value, dict):
        return {k: _replace_value(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_value(v, old, new) for v in value]
    return new if value == old else value


# ---------------------------------------------------------------------------------------------- measuring


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def one_run(backend, store, runs_root: Path, sha: str, suite: dict, contract: dict, tag: str) -> dict:
    timed = TimedBackend(backend)
    progress: list[float] = []
    job = CertificationInput(run_id=f"bench-{tag}", bundle_sha256=sha, suite=suite, contract=contract, scopes=SCOPES)
    started = time.perf_counter()
    report = certify(timed, store, runs_root, job, on_progress=lambda done, total: progress.append(time.perf_counter()))
    total_s = time.perf_counter() - started
    install_at, app_at = timed.starts["install"], timed.starts["app"]
    ready_s = report.get("ready_ms", 0.0) / 1000
    case_ends = progress[1:]
    case_walls = [(case_ends[0] - (app_at + ready_s)) * 1000] + [(b - a) * 1000 for a, b in itertools.pairwise(case_ends)]
    latencies = [c["latency_ms"] for c in report["cases"]]
    return {
        "total_s": total_s, "prepare_s": install_at - started, "install_s": app_at - install_at, "ready_s": ready_s,
        "startup_s": app_at - install_at + ready_s, "cases_s": case_ends[-1] - (app_at + ready_s),
        "case_wall_p50_ms": pct(case_walls, 0.5), "case_wall_p95_ms": pct(case_walls, 0.95),
        "app_latency_p50_ms": pct(latencies, 0.5), "app_latency_p95_ms": pct(latencies, 0.95),
        "cases": report["summary"]["total"], "passed": report["summary"]["passed"],
        "verdicts": report["verdicts"], "certified": report["certified"],
        "failed": [f"{c['case_id']}: {c['verdict'] or 'status ' + str(c['status'])}"
                   + (f" ({c['diff'].splitlines()[-1].strip()[:120]})" if c.get("diff") else "")
                   for c in report["cases"] if not c["passed"]],
    }


def median_of(runs: list[dict]) -> dict:
    out = {}
    for key, value in runs[0].items():
        if isinstance(value, float):
            out[key] = round(statistics.median(r[key] for r in runs), 3 if key.endswith("_s") else 2)
        else:
            out[key] = value
    out["total_s_each"] = [round(r["total_s"], 2) for r in runs]
    out["passed"] = [r["passed"] for r in runs]
    out["certified"] = [r["certified"] for r in runs]
    out["verdicts"] = [r["verdicts"] for r in runs]
    out["failed"] = [f for r in runs for f in r["failed"]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated, of: none, bwrap, docker")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    load_start = os.getloadavg()
    config = load_config(str(ROOT / "instance"))
    contract = yaml.safe_load(CONTRACT.read_text())
    suite = expanded_suite(args.cases, contract)
    path = bundle()
    backends, unavailable = {}, {}
    for mode in modes:
        try:
            backends[mode] = NoIsolationBackend() if mode == "none" else get_backend(mode, config)
            backends[mode].check()
        except ServiceUnavailable as exc:
            unavailable[mode] = f"unavailable: {exc.message}"
    runs_root = Path(f"{default_runs_root(config)}-bench")
    runs: dict[str, list[dict]] = {m: [] for m in backends}
    with tempfile.TemporaryDirectory(prefix="bench-certify-") as tmp:
        store = FileBlobStore(Path(tmp) / "bundles")
        with open(path, "rb") as fh:
            sha = store.put_stream(fh, 10**9).sha256
        for i in range(args.repeat):
            for mode, backend in backends.items():
                runs[mode].append(one_run(backend, store, runs_root, sha, suite, contract, f"{mode}-{i}"))
    result: dict = {
        "load_average_start": [round(x, 2) for x in load_start], "load_average_end": None,
        "repeat": args.repeat, "app": "examples/food-shiantong", "bundle": path.name, "bundle_sha256": sha,
        "suite": f"{suite['suite']}: {args.cases} cases (food-licence written cases cycled + contract-generated)",
        "how": "sandbox.harness.certify() per mode, wall time of the whole call; startup = wheel install + app start "
               "until GET /health answers; case_wall = time between the harness's progress callbacks (department "
               "reset, JWT, request, calls, judging); app_latency = the request to the app alone; medians of --repeat",
        "modes": {**{m: median_of(r) for m, r in runs.items()}, **unavailable},
        "ratios": {},
    }
    base = result["modes"].get("none")
    for mode in ("bwrap", "docker"):
        figures = result["modes"].get(mode)
        if isinstance(base, dict) and isinstance(figures, dict):
            result["ratios"][f"{mode}/none"] = {
                key: round(figures[key] / base[key], 2) if base[key] else None
                for key in ("total_s", "startup_s", "cases_s", "case_wall_p50_ms", "case_wall_p95_ms",
                            "app_latency_p50_ms", "app_latency_p95_ms")}
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
