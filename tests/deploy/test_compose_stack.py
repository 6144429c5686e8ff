"""compose.yaml brought up whole with Debian's docker-compose 1.29, as an operator would, and used through its
reverse proxy like the public would; then backed up and restored into a fresh stack.

The seeded accounts get test-strength password hashes (the production profile costs about a second per hash on
CI's shared cores); everything else runs as configured for production. Images are built here (no registry): the
platform image of tests/deploy/conftest.py, the proxy (nginx from Debian's packages) and, for PostgreSQL and
Redis, deploy/offline's image — all on the local build base (scripts/build-image.sh --local-base-only). TLS
files come from scripts/stack-tls.sh. The stack runs on a network of its own (a user-defined bridge: this dockerd
has no default bridge, but compose makes its own network), with the proxy published on a free loopback port.

One test, in order (each step needs the previous one):
1. up: PostgreSQL, Redis, migrate, the proxy, the web (behind it, GOVMARKET_TRUSTED_PROXY_HOPS=1), the RQ worker,
   the sandbox worker and two serving hosts (mutual TLS, in the Redis registry);
2. a certification through the proxy: the vendor's API client uploads 卡宝 (examples/ssc-kabao), the sandbox
   worker certifies it in Docker, the department's client approves, the vendor's publishes;
3. a citizen's journey through the proxy: log in, consent, "use this app", the app's origin, apply in the app
   (the department's decision completes the case), rate the case;
4. failover: the serving host the app is placed on is stopped; the same browser, with the same gateway cookie,
   keeps using the app, now answered by the other host;
5. backup (`govmarket backup create`, taken while the failover happens), `down -v`, a fresh stack restored from
   the archive (`govmarket backup restore`, then `govmarket ledger verify`): the citizen's rated case, and the
   published app served from the restored bundle store;
6. down: no container, volume, network or sandbox left.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask

from core.config import SETTINGS
from marketplace.gateway.placement import rendezvous
from tests.deploy.conftest import ROOT, docker_cli
from tests.deploy.test_sandbox_worker import runtime_tag  # noqa: F401 (the fixture)
from tests.live import free_port
from tests.services import missing

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CHECKOUT = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
PROJECT = f"gmstack{CHECKOUT}"  # one stack per checkout: runs in other worktrees on this machine do not collide
FILES = ["-f", str(ROOT / "compose.yaml"), "-f", str(ROOT / "deploy" / "compose.offline.yaml")]
SAMPLE = "ssc-kabao"
PASSWORD = "stack journey password"
SERVING = ["https://serving-1:8090", "https://serving-2:8090"]
DIMENSIONS = ("tangibility", "reliability", "responsiveness", "assurance", "empathy")


class Stack:
    """docker-compose with this test's project name, files and environment file."""

    def __init__(self, env_file: Path):
        self.env_file = env_file
        if not shutil.which("docker-compose"):
            missing("docker-compose", "not on PATH (scripts/ensure-services.sh installs Debian's docker-compose)")

    def compose(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(["docker-compose", "--env-file", str(self.env_file), "-p", PROJECT, *FILES, *args],
                              capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False)
        if check and proc.returncode != 0:
            pytest.fail(f"docker-compose {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-3000:]}"
                        f"{proc.stderr[-3000:]}\n{self.logs()}")
        return proc

    def run(self, *command: str, volumes: tuple[str, ...] = (), env: dict[str, str] | None = None) -> str:
        """A one-off container of the platform image (compose's `migrate` service: same environment and volumes)."""
        return self.finish(self.start(*command, volumes=volumes, env=env), command)

    def start(self, *command: str, volumes: tuple[str, ...] = (), env: dict[str, str] | None = None):
        """``run`` in the background: ``finish`` it later (while the test does something else)."""
        args = ["run", "--rm", "-T", "--no-deps"]
        for volume in volumes:
            args += ["-v", volume]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        return subprocess.Popen(["docker-compose", "--env-file", str(self.env_file), "-p", PROJECT, *FILES, *args,
                                 "migrate", *command], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    def finish(self, process: subprocess.Popen, command: tuple[str, ...]) -> str:
        out, err = process.communicate(timeout=300)
        if process.returncode != 0:
            pytest.fail(f"{' '.join(command)[:200]} exited {process.returncode}:\n{out[-3000:]}{err[-3000:]}")
        return out

    def logs(self, *services: str, tail: int = 40) -> str:
        proc = subprocess.run(["docker-compose", "--env-file", str(self.env_file), "-p", PROJECT, *FILES, "logs",
                               "--no-color", "--tail", str(tail), *services], capture_output=True, text=True,
                              timeout=60, cwd=ROOT, check=False)
        return proc.stdout[-8000:]

    def leftovers(self) -> dict[str, list[str]]:
        label = f"label=com.docker.compose.project={PROJECT}"
        return {"containers": docker_cli("ps", "--all", "--quiet", "--filter", label).stdout.split(),
                "volumes": docker_cli("volume", "ls", "--quiet", "--filter", label).stdout.split(),
                "networks": docker_cli("network", "ls", "--quiet", "--filter", label).stdout.split()}


def build_on_local_base(images: dict[str, str]) -> None:
    """Build each deploy/<folder> as its tag, FROM the platform's local build base."""
    base = subprocess.run([str(ROOT / "scripts" / "build-image.sh"), "--local-base-only"], capture_output=True,
                          text=True, timeout=1800, check=False,
                          env={**os.environ, "GOVMARKET": str(Path(sys.executable).with_name("govmarket"))})
    assert base.returncode == 0, base.stderr[-3000:]
    for folder, tag in images.items():
        docker_cli("build", "--force-rm", "--network", "host", "--build-arg", f"BASE_IMAGE={base.stdout.split()[-1]}",
                   "-t", tag, str(ROOT / "deploy" / folder), timeout=1800)


@pytest.fixture
def stack(image, runtime_tag, tmp_path_factory, shared_folder):  # noqa: F811 (runtime_tag is the fixture)
    """The stack's environment (images, secrets, TLS, ports, a short runs folder), torn down at the end."""
    runtime, _hash = runtime_tag
    proxy, offline = f"govmarket-proxy-test:{CHECKOUT}", f"govmarket-offline-test:{CHECKOUT}"
    started = time.monotonic()
    build_on_local_base({"proxy": proxy, "offline": offline})
    print(f"\nproxy and offline images ready in {time.monotonic() - started:.1f} s")
    work = Path(tempfile.mkdtemp(prefix="gmst-"))  # short: unix socket paths under the runs folder
    # A shared mount of its own: the workers' per-run tmpfs areas propagate through it to dockerd (compose's rshared).
    runs = shared_folder("gmsr-")
    tls = work / "tls"
    subprocess.run([str(ROOT / "scripts" / "stack-tls.sh"), str(tls), "localhost"], check=True, capture_output=True,
                   timeout=60)
    backups = work / "backups"
    backups.mkdir()
    os.chmod(backups, 0o777)  # written by the image's unprivileged user
    port = free_port()
    env = {"GOVMARKET_IMAGE": image, "GOVMARKET_PROXY_IMAGE": proxy, "GOVMARKET_OFFLINE_IMAGE": offline,
           "GOVMARKET_RUNTIME_IMAGE": runtime, "GOVMARKET_SECRET_KEY": secrets.token_hex(32),
           "GOVMARKET_SERVING_SECRET": secrets.token_hex(32), "POSTGRES_PASSWORD": secrets.token_hex(16),
           "GOVMARKET_SANDBOX_RUNS": str(runs), "GOVMARKET_TLS_DIR": str(tls),
           "GOVMARKET_PUBLISH_ADDRESS": "127.0.0.1", "GOVMARKET_HTTPS_PORT": str(port),
           "GOVMARKET_HTTP_PORT": str(free_port()), "GOVMARKET_ISSUER": f"https://localhost:{port}",
           "GOVMARKET_APPS_DOMAIN": f"apps.localhost:{port}", "GOVMARKET_SANDBOX_HOSTNAME": f"sandbox-{CHECKOUT}",
           # One gunicorn process (of 4 threads): each process loads the platform, and CI has two shared cores.
           "GOVMARKET_WEB_CONCURRENCY": "1",
           # The departments accept, review and decide a case on their own clock (#13): a day passes in 0.1 s here.
           "GOVMARKET_DEPARTMENT_TIME_SCALE": "1000000"}
    env_file = work / "stack.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    stack = Stack(env_file)
    stack.port, stack.tls, stack.runs, stack.backups = port, tls, runs, backups
    stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)  # an earlier run's, killed
    yield stack
    if os.environ.get("GOVMARKET_KEEP_STACK"):  # debugging: leave it up (`docker-compose --env-file … -p …`)
        print(f"\nkept: docker-compose --env-file {env_file} -p {PROJECT} {' '.join(FILES)} ps")
        return
    stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "20", check=False)
    shutil.rmtree(work, ignore_errors=True)


class Browser:
    """One origin's requests session through the proxy: https://127.0.0.1:<port> with that origin's Host header
    (*.localhost does not resolve here), verified against the stack's CA, with its own cookie jar."""

    def __init__(self, stack: Stack, host: str):
        self.base = f"https://127.0.0.1:{stack.port}"
        self.host = f"{host}:{stack.port}"
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy and no CA bundle from the environment: loopback, the stack's CA
        self.session.verify = str(stack.tls / "ca.crt")
        # CSRF checks the Referer of https requests: the page the form was on.
        self.session.headers.update({"Host": self.host, "Referer": f"https://{self.host}/"})

    def get(self, path: str, **kw) -> requests.Response:
        return self.session.get(self.base + path, allow_redirects=False, timeout=180, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.session.post(self.base + path, allow_redirects=False, timeout=180, **kw)

    def form(self, page: str, path: str | None = None, data: dict | None = None) -> requests.Response:
        """Open ``page`` and submit its form (to ``path``, default the page) with its CSRF token and ``data``."""
        html = self.get(page)
        assert html.status_code == 200, f"GET {page}: {html.status_code} {html.text[:300]}"
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html.text)
        assert token, f"no form on {page}: {html.text[:1000]}"
        token = token.group(1)
        return self.post(path or page, data={**(data or {}), "csrf_token": token})


def wait_until(what: str, check, stack: Stack, *, seconds: float, services: tuple[str, ...] = ()):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (requests.RequestException, OSError) as exc:
            last = exc
        time.sleep(0.5)
    pytest.fail(f"{what} did not happen within {seconds:.0f} s (last: {last!r})\n{stack.logs(*services)}")


def ready(stack: Stack) -> float:
    started = time.monotonic()
    web = Browser(stack, "localhost")
    wait_until("the web's /readyz through the proxy", lambda: web.get("/readyz").status_code == 200, stack,
               seconds=120, services=("proxy", "web", "migrate"))
    wait_until("both serving hosts in the registry", lambda: sorted(registry(stack)) == SERVING, stack, seconds=60,
               services=("serving-1", "serving-2"))
    return time.monotonic() - started


def registry(stack: Stack) -> list[str]:
    out = stack.compose("exec", "-T", "redis", "redis-cli", "zrange", "govmarket:serving:hosts", "0", "-1").stdout
    return out.split()


SEED = """
import json, os
import sqlalchemy as sa
from marketplace.app import create_app
app = create_app()
with app.app_context():
    from marketplace.accounts import passwords
    # The demo's dozen accounts and the API clients with test-strength hashes: the memory-hard production
    # profile costs about a second each on CI's two shared cores (logins still verify the hash as stored).
    passwords.configure("CHEAPEST")
    from core.auth import SYSTEM
    from core.extensions import db
    from core.time import utcnow
    from marketplace.accounts import services as accounts
    from marketplace.accounts.models import User
    from marketplace.demo.base import STAFF, seed_base, vendor_email
    from marketplace.demo.timeline import timeline
    from marketplace.orders.models import Order
    seed_base(timeline(utcnow()))
    user = lambda email: db.session.scalar(sa.select(User).where(User.email == email))
    vendor = accounts.client_create(user(vendor_email("minshengyun")), name="stack CI", scopes=["apps:read", "apps:write"])
    staff = accounts.client_create(user(STAFF["social-security"]), name="stack review",
                                   scopes=["apps:read", "versions:review"])
    accounts.user_create(SYSTEM, email="stack-citizen@example.cn", display_name=os.environ["CITIZEN_NAME"],
                         role="citizen", password=os.environ["PASSWORD"], resident_id=os.environ["RESIDENT_ID"])
    order = db.session.scalar(sa.select(Order).where(Order.slug == "social-security-card"))
    print(json.dumps({"order_id": order.id, "vendor": [vendor[0].client_id, vendor[1]],
                      "staff": [staff[0].client_id, staff[1]]}))
"""


def api_token(browser: Browser, client: list[str], scope: str) -> dict[str, str]:
    reply = browser.post("/oauth/token", data={"grant_type": "client_credentials", "scope": scope},
                         auth=(client[0], client[1]))
    assert reply.status_code == 200, reply.text[:500]
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


def certify_and_publish(stack: Stack, seeded: dict, bundle: Path) -> int:
    api = Browser(stack, "localhost")
    vendor = api_token(api, seeded["vendor"], "apps:read apps:write")
    staff = api_token(api, seeded["staff"], "apps:read versions:review")
    made = api.post("/api/apps", json={"order_id": seeded["order_id"], "name": "卡宝", "slug": SAMPLE},
                    headers=vendor)
    assert made.status_code == 201, made.text[:500]
    uploaded = api.post(f"/api/apps/{made.json()['id']}/versions?version=1.0.0", data=bundle.read_bytes(),
                        headers={**vendor, "Content-Type": "application/gzip"})
    assert uploaded.status_code == 201, uploaded.text[:500]
    version = uploaded.json()["id"]

    def certified():
        status = api.get(f"/api/versions/{version}", headers=vendor).json()["status"]
        assert status not in ("failed", "error"), api.get(f"/api/versions/{version}/report", headers=vendor).text[:3000]
        return status == "certified"

    wait_until("the certification by the sandbox worker", certified, stack, seconds=240,
               services=("sandbox-worker",))
    report = api.get(f"/api/versions/{version}/report", headers=staff).json()["report"]
    assert report["backend"] == "docker" and report["summary"]["passed"] > 0, report["summary"]
    assert api.post(f"/api/versions/{version}/approve", headers=staff).status_code == 200
    published = api.post(f"/api/versions/{version}/publish", headers=vendor)
    assert published.status_code == 200 and published.json()["status"] == "published", published.text[:500]
    return version


def citizen_journey(stack: Stack) -> tuple[Browser, Browser, str]:
    """Log in, consent, launch, apply in the app, rate: returns the platform and app browsers and the case."""
    web = Browser(stack, "localhost")
    login = web.form("/login", data={"email": "stack-citizen@example.cn", "password": PASSWORD})
    assert login.status_code == 302, login.text[:500]
    launched = web.form(f"/apps/{SAMPLE}/launch")
    assert launched.status_code == 303, launched.text[:500]
    consent = urlsplit(launched.headers["Location"])
    if "consent" in consent.path:  # the first use: the citizen shares what the app asks for
        page = f"{consent.path}?{consent.query}"
        fields = re.findall(r'name="fields"[^>]*value="([^"]+)"', web.get(page).text)
        assert "resident_id" in fields, fields
        granted = web.form(page, data={"fields": fields})
        # Saving consent on the way into the app repeats the POST at the launch address (307): two taps (#18).
        assert granted.status_code == 307 and urlsplit(granted.headers["Location"]).path == f"/apps/{SAMPLE}/launch", \
            granted.text[:500]
        launched = web.form(f"/apps/{SAMPLE}/launch")
    target = urlsplit(launched.headers["Location"])
    assert target.path == "/_gateway/launch" and target.netloc == f"{SAMPLE}.apps.localhost:{stack.port}", target

    app = Browser(stack, f"{SAMPLE}.apps.localhost")
    entered = app.get(f"{target.path}?{target.query}")
    assert entered.status_code == 303 and "Secure" in entered.headers["Set-Cookie"], entered.headers
    home = app.get("/")
    assert home.status_code == 200, home.text[:500]
    applied = app.post("/applications", json={"mailing_address": "上海市徐汇区栈路 1 号",
                                              "materials": ["application_form", "id_card", "photo"]})
    assert applied.status_code in (200, 201) and applied.json()["status"] == "accepted", applied.text[:500]

    # The department accepts, reviews and decides on its own (faster) clock; the case can be rated once decided.
    deadline = time.monotonic() + 90
    while True:
        cases = web.get("/my/cases").text
        case = re.search(r'class="case" id="case-([^"]+)"', cases).group(1)
        rate = f"/my/cases/{case}/rating"
        if rate in cases:
            break
        assert time.monotonic() < deadline, "the department's decision did not complete the case within 90 s"
        time.sleep(1)
    rated = web.form(rate, data={"stars": 5, "comment": "compose stack", **{d: 4 for d in DIMENSIONS}})
    assert rated.status_code == 302, rated.text[:500]
    return web, app, case


def served_by(stack: Stack, service: str) -> int:
    """How many requests for the app the serving host logged (gunicorn's access log)."""
    return sum(1 for line in stack.logs(service, tail=2000).splitlines() if '"GET / HTTP/1.1" 200' in line)


def test_compose_stack_journey_certification_failover_backup_and_restore(stack, tmp_path):
    from marketplace.demo import bundles
    from tests.faults.test_load import eligible_citizens

    timings: dict[str, float] = {}
    bundle, _fresh = bundles.package(Path(os.environ.get("TMPDIR", "/tmp")) / "govmarket-test-bundles", SAMPLE)
    with Flask(__name__).app_context() as context:  # the stack's serving dataset: compose leaves the default
        context.app.config["SERVING_DATASET"] = SETTINGS["SERVING_DATASET"][0]
        citizen = eligible_citizens(1)[0]

    started = time.monotonic()
    stack.compose("up", "-d", "--no-build")  # returns once migrate has completed (the others depend on it)
    # The accounts are seeded while the web and the serving hosts start.
    seeding = stack.start("python", "-c", SEED, env={"PASSWORD": PASSWORD, "RESIDENT_ID": citizen["resident_id"],
                                                     "CITIZEN_NAME": citizen["name"]})
    ready(stack)
    seeded = json.loads(stack.finish(seeding, ("seed",)).strip().splitlines()[-1])
    timings["up, seeded and ready"] = time.monotonic() - started

    mark = time.monotonic()
    certify_and_publish(stack, seeded, bundle)
    timings["certification"] = time.monotonic() - mark

    mark = time.monotonic()
    web, app, case = citizen_journey(stack)
    timings["journey"] = time.monotonic() - mark

    # 4. Failover: the app's serving host stops; the same browser keeps using the app on the other one.
    first, second = (urlsplit(url).hostname for url in rendezvous(SAMPLE, SERVING))
    assert served_by(stack, first) >= 1 and served_by(stack, second) == 0, "one host serves each app"
    mark = time.monotonic()
    # 5a. The backup (pg_dump's snapshot and the bundle store) is taken while the failover happens.
    backing_up = stack.start("govmarket", "backup", "create", "/backups/drill.tar.gz",
                             volumes=(f"{stack.backups}:/backups",))
    stack.compose("stop", "--timeout", "30", first)
    assert registry(stack) == [f"https://{second}:8090"], "a stopped serving host leaves the registry at once"
    again = app.get("/")
    assert again.status_code == 200, f"{again.status_code} {again.text[:300]}\n{stack.logs('web', second)}"
    assert served_by(stack, second) == 1, stack.logs(second)
    timings["failover"] = time.monotonic() - mark
    assert web.get("/my/cases").status_code == 200  # the platform session too

    # 5b. A fresh stack restored from the archive.
    mark = time.monotonic()
    assert "backup of the postgresql database and bundles written" in stack.finish(backing_up, ("backup",))
    stack.compose("down", "--volumes", "--timeout", "30")
    assert stack.leftovers() == {"containers": [], "volumes": [], "networks": []}
    stack.compose("up", "-d", "--no-build", "postgres", "redis")  # new, empty volumes
    output = stack.run("sh", "-c", "govmarket backup restore --yes /backups/drill.tar.gz && govmarket ledger verify",
                       volumes=(f"{stack.backups}:/backups",))
    assert "restored the postgresql database" in output and "\nok: " in output, output
    # What serves the citizen (the workers are not needed to show the restore; they start as in the first stack).
    stack.compose("up", "-d", "--no-build", "proxy", "serving-1", "serving-2")
    ready(stack)
    restored = Browser(stack, "localhost")
    assert restored.form("/login", data={"email": "stack-citizen@example.cn", "password": PASSWORD}).status_code == 302
    mine = restored.get(f"/my/cases/{case}")
    assert mine.status_code == 200 and 'id="edit-rating"' in mine.text, "the rated case came back"
    _web, app_again, _case = relaunch(stack, restored)
    assert app_again.get("/").status_code == 200, "the app is served again from the restored bundle store"
    timings["backup and restore"] = time.monotonic() - mark

    # 6. Down: nothing of the stack is left, and no sandbox of its hosts.
    mark = time.monotonic()
    stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "30")
    timings["down"] = time.monotonic() - mark
    assert stack.leftovers() == {"containers": [], "volumes": [], "networks": []}
    assert list(stack.runs.iterdir()) == [], "a run folder outlived its serving host or worker"
    sandboxes = docker_cli("ps", "--all", "--quiet", "--filter", "label=govmarket.sandbox").stdout.split()
    for container in sandboxes:
        mounts = json.loads(docker_cli("inspect", "--format", "{{json .Mounts}}", container, check=False).stdout or "[]")
        assert not [m for m in mounts if m.get("Source", "").startswith(str(stack.runs))], "a sandbox was left"
    print("\ncompose stack: " + ", ".join(f"{what} {seconds:.1f} s" for what, seconds in timings.items()))


def relaunch(stack: Stack, web: Browser) -> tuple[Browser, Browser, None]:
    launched = web.form(f"/apps/{SAMPLE}/launch")
    assert launched.status_code == 303, launched.text[:500]
    target = urlsplit(launched.headers["Location"])
    app = Browser(stack, f"{SAMPLE}.apps.localhost")
    assert app.get(f"{target.path}?{target.query}").status_code == 303
    return web, app, None
