"""Gateway overhead: a published sample app requested through the real gateway vs directly on its socket.

    .venv/bin/python bench/gateway_overhead.py --requests 500 --concurrency 8     # as root (bwrap sandbox)

Seeds a fresh SQLite database (or ``--database-url``) with the demo's departments, orders and vendors, packages
examples/ssc-kabao with `govapp package`, uploads it, certifies it on the configured sandbox backend (bwrap by
default), has the department approve it and the vendor publish it — all through the services. A persona citizen
consents, launches the app and redeems the launch code for a gateway session. The platform (host dispatch,
gateway, Flask app) is then served by werkzeug's threaded server on 127.0.0.1, and three targets are timed:

- **proxied**: ``GET /`` on the app's origin (``Host: ssc-kabao.<APPS_DOMAIN>``, gateway session cookie): the
  gateway looks up app, version and session in the claims cache (the database on a miss), reuses or mints the
  identity JWT, mints the
  citizen's department access token (the delegation, issue #12), leases the instance and forwards the request
  over the instance's unix socket;
- **direct**: the same ``GET /`` sent straight to the same running instance's socket over the instance's kept
  connections (as the gateway reaches it), bypassing the gateway and the HTTP server;
- **trivial**: ``GET /healthz`` on the platform through the same HTTP server (the baseline).

Each target gets ``--requests`` sequential requests (a new connection to the server each, unless
``--client-keep-alive``) and then a concurrent run of the same number spread over ``--concurrency`` threads.
``--profile-server SECONDS`` (gunicorn) samples the workers with py-spy under that load. Prints JSON: p50/p95 ms
per target and run, throughput of the concurrent run, and the ratios proxied/direct and proxied/trivial (of the
p50s; lower is better).
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SAMPLE = "ssc-kabao"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(times: list[float], wall: float | None = None) -> dict:
    result = {"n": len(times), "p50_ms": round(statistics.median(times) * 1000, 3),
              "p95_ms": round(percentile(times, 0.95) * 1000, 3)}
    if wall is not None:
        result["wall_s"] = round(wall, 3)
        result["requests_per_s"] = round(len(times) / wall, 1)
    return result


def build_platform(instance_path: Path, database_url: str | None, cache: str = ""):
    import flask_migrate

    from marketplace.app import create_app

    url = database_url or f"sqlite:///{instance_path / 'govmarket.db'}"
    settings = {"DATABASE_URL": url, "SECRET_KEY": "bench-secret", "INSTANCE_PATH": str(instance_path),
                "QUEUE_MODE": "sync", "RATELIMIT_ENABLED": False, "RATELIMIT_STORAGE_URI": "memory://",
                "PASSWORD_HASH_PROFILE": "CHEAPEST"}
    if cache:
        # The bench's own writes (seeding, publishing) renew the generations in the cache the workers share, as in
        # production: entries an earlier run left there for the same ids are not used.
        settings.update(CACHE_TYPE=cache, REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    app = create_app(settings)
    with app.app_context():
        flask_migrate.upgrade(revision="heads")
    return app


def publish_sample(app, echo) -> tuple[int, float]:
    """Package, upload, certify, approve and publish examples/ssc-kabao; returns (app id, certification seconds)."""
    from core.time import utcnow
    from marketplace.demo.apps import seed_apps
    from marketplace.demo.base import seed_base
    from marketplace.demo.timeline import timeline
    from marketplace.transactions.services import published_version

    with app.app_context():
        seed_base(timeline(utcnow()))
        started = time.perf_counter()
        made = seed_apps(echo, only={SAMPLE}, bundle_cache=Path.home() / ".cache" / "govmarket" / "bench-bundles")
        certify_s = time.perf_counter() - started
        if published_version(made[SAMPLE].id) is None:
            raise SystemExit(f"{SAMPLE} was not certified and published; see the lines above")
        return made[SAMPLE].id, certify_s


def citizen_session(app, app_id: int) -> tuple[str, str]:
    """A persona citizen who consented, launched the app and redeemed the code: (gateway cookie, identity JWT)."""
    from core.extensions import db
    from marketplace.gateway import services as gateway
    from marketplace.identity import services as identity
    from mockdata.generator import scenarios_for
    from mockdata.specs import get_spec

    with app.app_context():
        resident_id = scenarios_for(get_spec("citizens-v1"), 42)["ssc_ok"]["applicant"]["resident_id"]
        citizen = identity.citizen_login_persona(resident_id, settings=app.config)
        # Everything the app asks for: its identity claims and the department fields it declared, so the
        # department access token minted per request carries the delegation a real citizen's would.
        identity.consent_grant(citizen, app_id, identity.consent_status(citizen, app_id).requested)
        launch = gateway.app_launch(citizen, SAMPLE)
        token, session = gateway.launch_redeem(SAMPLE, launch.code,
                                               session_seconds=int(app.config["GATEWAY_SESSION_SECONDS"]))
        jwt = gateway.identity_token(session, audience=f"http://{SAMPLE}.{app.config['APPS_DOMAIN']}")
        db.session.remove()
        return token, jwt


def profile_proxied(app, host: str, cookie: str, n: int) -> None:
    """Where a proxied request's time goes: N requests through the WSGI stack in this process under cProfile."""
    import cProfile
    import io
    import pstats

    from werkzeug.test import Client

    client = Client(app)
    client.set_cookie(gateway_cookie(host), cookie, domain=host.split(":")[0])
    for _ in range(20):
        assert client.get("/", base_url=f"http://{host}").status_code == 200
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(n):
        client.get("/", base_url=f"http://{host}").close()
    profiler.disable()
    wall = time.perf_counter() - started
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    print(f"profile: {n} proxied requests in-process, {wall / n * 1000:.2f} ms each (under cProfile)", file=out)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)
    print(out.getvalue(), file=sys.stderr)


def gateway_cookie(host: str) -> str:
    """The gateway cookie's name on ``host``: "__Host-" where browsers take a Secure cookie (*.localhost, https)."""
    from marketplace.gateway.origin import COOKIE, HOST_COOKIE, split_host

    name, _port = split_host(host)
    return HOST_COOKIE if name.endswith(".localhost") else COOKIE


def profile_server(server, once, seconds: float, concurrency: int) -> str:
    """Where the gunicorn workers' request threads spend their time under ``concurrency`` clients sending proxied
    requests for ``seconds``: py-spy (on PATH) samples every thread of every worker, idle ones included (a thread
    waiting for the app or the database is where a request's time goes); the samples inside gunicorn's
    ``handle_request`` are summed by function, own time and inclusive."""
    import re
    import shutil
    import subprocess
    from collections import Counter

    pyspy = shutil.which("py-spy")
    if not pyspy:
        raise SystemExit("--profile-server needs py-spy on PATH (pip install py-spy)")
    out = Path(tempfile.mkdtemp(prefix="bench-pyspy-")) / "stacks.txt"
    recorder = subprocess.Popen([pyspy, "record", "--pid", str(server.process.pid), "--subprocesses", "--idle",
                                 "--nonblocking", "--rate", "200", "--duration", str(int(seconds)), "--format", "raw",
                                 "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches
    deadline = time.monotonic() + seconds
    count = [0]

    def client() -> None:
        while time.monotonic() < deadline:
            once()
            count[0] += 1

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorder.wait(seconds + 60)
    own: Counter = Counter()
    inclusive: Counter = Counter()
    total = 0
    frame_name = re.compile(r"^(.*?) \((.*?)(?::\d+)?\)$")
    for line in out.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if "handle_request (gunicorn/workers/gthread.py" not in stack or not n.isdigit():
            continue
        frames = []
        for frame in stack.split(";"):
            match = frame_name.match(frame)
            frames.append(f"{match.group(1)} ({match.group(2)})" if match else frame)
        total += int(n)
        own[frames[-1]] += int(n)
        for name in set(frames):
            inclusive[name] += int(n)
    lines = [f"server profile: {count[0]} proxied requests from {concurrency} clients in {seconds:.0f} s "
             f"({count[0] / seconds:.0f}/s); {total} samples of worker threads inside handle_request"]
    lines.append("own time (share of those samples):")
    lines += [f"  {n / total:6.1%}  {name}" for name, n in own.most_common(25)]
    lines.append("inclusive:")
    lines += [f"  {n / total:6.1%}  {name}" for name, n in inclusive.most_common(60)]
    return "\n".join(lines)


class Gunicorn:
    """gunicorn serving marketplace.wsgi:app on the bench's database, as the Dockerfile starts it."""

    def __init__(self, args, app, tmp: Path):
        import socket
        import subprocess

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"], "GOVMARKET_SECRET_KEY": "bench-secret",
               "GOVMARKET_INSTANCE_PATH": str(tmp), "GOVMARKET_QUEUE_MODE": "sync",
               "GOVMARKET_APPS_DOMAIN": app.config["APPS_DOMAIN"], "GOVMARKET_LOG_LEVEL": "WARNING"}
        if args.cache:
            env["GOVMARKET_CACHE_TYPE"] = args.cache
        command = [str(Path(sys.executable).parent / "gunicorn"), "-b", f"127.0.0.1:{self.port}",
                   "-w", str(args.workers), "-k", args.server, "--threads", str(args.threads),
                   "--worker-connections", "100", "--keep-alive", "75", "--log-level", "warning",
                   "marketplace.wsgi:app"]
        self.process = subprocess.Popen(command, env=env, cwd=Path(__file__).resolve().parent.parent)
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.2)

    def shutdown(self) -> None:
        self.process.terminate()
        self.process.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500, help="requests per target and run")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", help="an empty database to use instead of a fresh SQLite file")
    parser.add_argument("--server", choices=("werkzeug", "gthread", "gevent", "sync"), default="werkzeug",
                        help="werkzeug's threaded server in this process, or gunicorn (marketplace.wsgi:app, as in "
                             "production) with that worker class in child processes")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn gthread threads per worker")
    parser.add_argument("--cache", default="", help="GOVMARKET_CACHE_TYPE of the gunicorn workers (RedisCache: "
                                                    "REDIS_URL); default SimpleCache per worker")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also run N proxied requests in-process (werkzeug's test client, no server) under "
                             "cProfile and print the top functions by own and cumulative time to stderr")
    parser.add_argument("--client-keep-alive", action="store_true",
                        help="each client thread keeps its connection to the server (default: a new one per request)")
    parser.add_argument("--profile-server", type=float, default=0, metavar="SECONDS",
                        help="with gunicorn: also send proxied requests from --concurrency clients for SECONDS while "
                             "py-spy samples the workers, and print where their request threads spend the time")
    parser.add_argument("--without-delegation", action="store_true",
                        help="mint no department access token (to measure what the delegation costs the gateway; "
                             "the app's department calls would then be refused)")
    args = parser.parse_args()
    if args.without_delegation:
        from marketplace.gateway import services as gateway_services

        gateway_services.department_token = lambda session: None
        gateway_services.department_token_of = lambda entry: None
    load_average = os.getloadavg()

    from werkzeug.serving import make_server

    from marketplace.gateway import instances

    def echo(message: str = "", nl: bool = True):
        print(message, file=sys.stderr, end="\n" if nl else "", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        app = build_platform(Path(tmp), args.database_url, args.cache)
        app_id, certify_s = publish_sample(app, echo)
        cookie, jwt = citizen_session(app, app_id)
        if args.server == "werkzeug":
            server = make_server("127.0.0.1", 0, app, threaded=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            port = server.server_port
        else:
            server = Gunicorn(args, app, Path(tmp))
            port = server.port
        app_host = f"{SAMPLE}.{app.config['APPS_DOMAIN'].split(':')[0]}:{port}"
        registry = instances.registry(app)
        try:
            kept = threading.local()

            def via_server(host: str, path: str, headers: dict, *, new: bool = False):
                def once() -> float:
                    started = time.perf_counter()
                    if args.client_keep_alive and not new:  # each client thread keeps its connection, as a browser or nginx
                        conn = getattr(kept, host, None)
                        if conn is None:
                            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                            setattr(kept, host, conn)
                    else:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    conn.request("GET", path, headers={"Host": host, **headers})
                    resp = conn.getresponse()
                    resp.read()
                    if new or not args.client_keep_alive:
                        conn.close()
                    if resp.status != 200:
                        raise SystemExit(f"GET {path} on {host} answered {resp.status}")
                    return time.perf_counter() - started
                return once

            proxied = via_server(app_host, "/", {"Cookie": f"{gateway_cookie(app_host)}={cookie}"})
            trivial = via_server(f"127.0.0.1:{port}", "/healthz", {})
            proxied()  # starts the instance (sandbox start, wheel installation) outside the timing
            with app.app_context():
                from marketplace.gateway import services as gateway
                app_row, version = gateway.served_app_get(SAMPLE)
                served = instances.served_version(app.config, app_row, version,
                                                  origin=f"http://{SAMPLE}.{app.config['APPS_DOMAIN']}")
            with registry.lease(served) as instance:
                def direct() -> float:
                    started = time.perf_counter()
                    conn = instance.connection(30.0)  # kept alive in the instance's pool, as the gateway's are
                    conn.request("GET", "/", headers={"Host": f"{SAMPLE}.{app.config['APPS_DOMAIN']}",
                                                      "Authorization": f"Bearer {jwt}"})
                    resp = conn.getresponse()
                    resp.read()
                    give_back = getattr(instance, "give_back", None)  # (code before the pool: none)
                    if resp.will_close or give_back is None:
                        conn.close()
                    else:
                        give_back(conn)
                    if resp.status != 200:
                        raise SystemExit(f"direct GET / answered {resp.status}")
                    return time.perf_counter() - started

                targets = {"trivial": trivial, "direct": direct, "proxied": proxied}
                for once in targets.values():  # warm up every path
                    for _ in range(20):
                        once()
                if args.server != "werkzeug":
                    # Every gunicorn worker starts its own instance of the app on its first proxied request (seconds):
                    # new connections from many clients reach every worker before anything is timed.
                    cold = via_server(app_host, "/", {"Cookie": f"{gateway_cookie(app_host)}={cookie}"}, new=True)
                    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
                        list(pool.map(lambda _i: cold(), range(20 * args.workers * max(1, args.threads))))
                if args.profile:
                    profile_proxied(app, app_host, cookie, args.profile)
                if args.profile_server and args.server != "werkzeug":
                    print(profile_server(server, proxied, args.profile_server, args.concurrency), file=sys.stderr)
                result: dict = {"load_average_at_start": load_average, "sample_app": SAMPLE,
                                "server": args.server if args.server == "werkzeug" else
                                f"gunicorn {args.server}, {args.workers} workers"
                                + (f" × {args.threads} threads" if args.server == "gthread" else "")
                                + (f", cache {args.cache}" if args.cache else ""),
                                "backend": app.config["SANDBOX_BACKEND"],
                                "database": app.config["DATABASE_URL"].split(":", 1)[0],
                                "certification_s": round(certify_s, 1), "requests": args.requests,
                                "delegation": not args.without_delegation,
                                "client_keep_alive": args.client_keep_alive,
                                "concurrency": args.concurrency, "sequential": {}, "concurrent": {}}
                for name, once in targets.items():
                    result["sequential"][name] = summary([once() for _ in range(args.requests)])
                pool = getattr(instance, "pool", None)
                result["direct_connections_opened"] = pool.opened if pool is not None else None
                for name, once in targets.items():
                    started = time.perf_counter()
                    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
                        times = list(pool.map(lambda _i, once=once: once(), range(args.requests)))
                    result["concurrent"][name] = summary(times, time.perf_counter() - started)
        finally:
            server.shutdown()
            registry.close()
    for run in ("sequential", "concurrent"):
        figures = result[run]
        figures["ratio_proxied_to_direct"] = round(figures["proxied"]["p50_ms"] / figures["direct"]["p50_ms"], 2)
        figures["ratio_proxied_to_trivial"] = round(figures["proxied"]["p50_ms"] / figures["trivial"]["p50_ms"], 2)
    result["load_average_at_end"] = os.getloadavg()
    result["how"] = ("p50/p95 of wall time per request; proxied = GET / on the app origin through the server and the "
                     "gateway, trivial = GET /healthz through the same server (a new TCP connection per request "
                     "unless client_keep_alive), direct = GET / on the same instance's unix socket over the "
                     "instance's kept connections (as the gateway reaches it); ratios of p50s")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
