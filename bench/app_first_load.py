"""A citizen's first load of an app vs a warm load, and where the cold start's time goes.

    .venv/bin/python bench/app_first_load.py --repeat 3 --requests 50     # as root (bwrap sandbox)

Seeds a fresh SQLite database with the demo's departments, publishes examples/ssc-kabao and gives a persona citizen
a gateway session, as bench/gateway_overhead.py does; the platform is served by werkzeug's threaded server on
127.0.0.1. Then, each on the same server and instance store:

- **warm**: ``GET /`` on the app's origin while its instance runs (median of ``--requests``): the baseline;
- **cold_installing** (before): the instance stopped and no kept deps, ``GET /`` waits for the whole start —
  extract the bundle, start the department service, pip-install the wheels in a sandbox, start the app, wait for
  ``/health`` — with the median seconds of each phase; the same as a browser (``Sec-Fetch-Mode: navigate``): the
  time to the first answer (the "starting" page after ``GATEWAY_STARTING_PAGE_SECONDS``) and until the app's page;
- **cold_kept_deps**: the instance stopped, its start copies the deps this host installed before (bytecode
  compiled) instead of running pip;
- **started_ahead** (after): the instance stopped, then started ahead by the warm pool (as at a serving host's
  start or within 10 s of a publication), then the first ``GET /``.

Each cold figure is the median of ``--repeat`` starts.

Prints JSON: seconds per figure, each one's ratio to the warm load (lower is better), and first load before ÷
after (higher is better).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gateway_overhead import SAMPLE, build_platform, citizen_session, publish_sample

BROWSER = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="cold starts measured per figure")
    parser.add_argument("--requests", type=int, default=50, help="warm requests measured")
    parser.add_argument("--database-url", help="an empty database to use instead of a fresh SQLite file")
    args = parser.parse_args()
    load_average = os.getloadavg()

    from werkzeug.serving import make_server

    from marketplace.gateway import instances, warm
    from marketplace.gateway.origin import COOKIE, HOST_COOKIE

    def echo(message: str = "", nl: bool = True):
        print(message, file=sys.stderr, end="\n" if nl else "", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-first-load-") as tmp:
        app = build_platform(Path(tmp), args.database_url)
        app_id, _certify_s = publish_sample(app, echo)
        cookie, _jwt = citizen_session(app, app_id)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_port
        host = f"{SAMPLE}.{app.config['APPS_DOMAIN'].split(':')[0]}:{port}"
        registry = instances.registry(app)

        def get(accept: str = "*/*") -> tuple[int, bytes, float]:
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=180)
            headers = {"Host": host, "Cookie": f"{COOKIE}={cookie}; {HOST_COOKIE}={cookie}", "Accept": accept}
            if accept == BROWSER:
                headers["Sec-Fetch-Mode"] = "navigate"
            conn.request("GET", "/", headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            conn.close()
            return resp.status, body, time.perf_counter() - started

        def stop() -> None:
            registry.keep_warm(())  # the warm pool keeps its apps: let this one idle out
            deadline = time.monotonic() + 10
            while registry.instance(SAMPLE) is not None:  # the last response's lease ends as its body is closed
                registry.stop_idle(now=time.monotonic() + 10 * registry.idle_seconds)
                if time.monotonic() > deadline:
                    raise SystemExit(f"the instance of {SAMPLE} did not stop: {registry.running()}")
                time.sleep(0.05)

        try:
            status, _body, _s = get()  # the first start outside the timing (page caches, the dataset, the backend)
            assert status == 200, status
            for _ in range(10):
                get()
            warm_s = statistics.median(get()[2] for _ in range(args.requests))

            def cold_loads(accept: str = "*/*") -> tuple[list[float], list[float], list[dict]]:
                """Per run: seconds to the first answer, seconds until the app's own page, the start's phases."""
                first, until_app, phases = [], [], []
                for _ in range(args.repeat):
                    stop()
                    started = time.perf_counter()
                    status, body, seconds = get(accept)
                    first.append(seconds)
                    while status != 200 or b"govmarket-starting" in body:  # the starting page reloads each second
                        if b"govmarket-starting" not in body:
                            raise SystemExit(f"cold GET / answered {status}")
                        time.sleep(1.0)
                        status, body, _s = get(accept)
                    until_app.append(time.perf_counter() - started)
                    phases.append(registry.instance(SAMPLE).phases)
                return first, until_app, phases

            kept = registry.deps_cache
            registry.deps_cache = None  # as before: pip installs the wheels (no bytecode) at every start
            install, _same, install_phases = cold_loads()
            page_first, page_app, _phases = cold_loads(BROWSER)
            registry.deps_cache = kept
            cold, _same, cold_phases = cold_loads()
            kept_page_first, kept_page_app, _phases = cold_loads(BROWSER)

            ahead = []
            pool = warm.WarmPool(app, registry)
            for _ in range(args.repeat):
                stop()
                pool.warm_once(wait=True)
                status, _body, seconds = get()
                assert status == 200, status
                ahead.append(seconds)
        finally:
            server.shutdown()
            registry.close()

    def figure(values: list[float]) -> dict:
        median = statistics.median(values)
        return {"median_s": round(median, 4), "ratio_to_warm": round(median / warm_s, 1),
                "runs_s": [round(v, 3) for v in values]}

    def phases_of(runs: list[dict]) -> dict:
        return {name: round(statistics.median(p[name] for p in runs), 3) for name in runs[0]}

    result = {
        "load_average_at_start": load_average, "sample_app": SAMPLE, "backend": app.config["SANDBOX_BACKEND"],
        "warm": {"median_s": round(warm_s, 4), "requests": args.requests},
        "cold_installing": figure(install) | {"phases_median_s": phases_of(install_phases)},
        "cold_installing_browser_first_answer": figure(page_first),
        "cold_installing_browser_until_app": figure(page_app),
        "cold_kept_deps": figure(cold) | {"phases_median_s": phases_of(cold_phases)},
        "cold_kept_deps_browser_until_app": figure(kept_page_app) | {"first_answer_median_s":
                                                                     round(statistics.median(kept_page_first), 4)},
        "started_ahead": figure(ahead),
        "first_load_before_over_after": round(statistics.median(install) / statistics.median(ahead), 1),
        "load_average_at_end": os.getloadavg(),
        "how": "wall time of GET / on the app's origin through werkzeug's threaded server and the gateway, a new "
               "connection each; ratios are medians over the warm median. cold_installing: the instance stopped, "
               "deps installed by pip at the start (as before the deps cache); browser: Accept text/html, "
               "Sec-Fetch-Mode navigate (the starting page after GATEWAY_STARTING_PAGE_SECONDS, reloaded each "
               "second); cold_kept_deps: the start copies the kept, precompiled deps; started_ahead: the warm pool "
               "started the instance before the request",
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
