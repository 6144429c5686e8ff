"""Sandbox start latency per backend, as a ratio to a bare `python3 -c pass` on the host.

Run as root on the sandbox host, with the runtime built (`make runtime`):

    .venv/bin/python bench/sandbox_start.py --repeat 10

For each backend it starts `python3 -c pass` in a full sandbox (limits, read-only root, no network),
waits for it to exit and removes it; the figure is the median wall time of `repeat` starts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import load_config
from core.errors import ServiceUnavailable
from sandbox.backends import SandboxSpec, get_backend


def bare(repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(["/usr/bin/python3", "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def sandboxed(name: str, repeat: int, config) -> float | str:
    try:
        backend = get_backend(name, config)
    except ServiceUnavailable as exc:
        return f"unavailable: {exc.message}"
    times = []
    for i in range(repeat):
        host_dir = Path(tempfile.mkdtemp(prefix="bench-", dir="/run" if os.geteuid() == 0 else None))
        os.chmod(host_dir, 0o711)
        spec = SandboxSpec(run_id=f"bench-{name}-{i}", host_dir=host_dir, argv=("/usr/bin/python3", "-c", "pass"),
                           env={"PATH": "/usr/bin:/bin"}, mounts=(), workdir="/")
        started = time.perf_counter()
        sandbox = backend.start(spec)
        code = sandbox.wait(60)
        elapsed = time.perf_counter() - started
        sandbox.stop()
        shutil.rmtree(host_dir, ignore_errors=True)
        if code != 0:
            return f"failed: exit {code}: {sandbox.output().text[:300]}"
        times.append(elapsed)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    config = load_config(str(Path(__file__).resolve().parent.parent / "instance"))
    base = bare(args.repeat)
    result = {"load_average": os.getloadavg(), "repeat": args.repeat, "bare_python_s": round(base, 4), "backends": {}}
    for name in ("bwrap", "docker"):
        figure = sandboxed(name, args.repeat, config)
        result["backends"][name] = (figure if isinstance(figure, str) else
                                    {"start_to_exit_s": round(figure, 4), "ratio_to_bare": round(figure / base, 1)})
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
