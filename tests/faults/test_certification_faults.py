"""A sandbox worker SIGKILLed in the middle of a REAL certification (issue 7): an app version uploaded through the
platform's services, packaged by `govapp package`, certified by ``sandbox.tasks.certify_run`` in a real
``govmarket sandbox worker`` on a private Redis and the bubblewrap backend.

The app answers every request after a pause, so the run is reliably caught ``testing`` with its sandbox serving.
The worker and its work horse are SIGKILLed; then what must hold:
- nothing of the sandbox survives: no process the horse started (sandboxed app, bwrap, the simulated department
  service), no cgroup, no run directory — once the next ``govmarket sandbox worker`` has swept at its start;
- that sweep marks the run ``error`` with a reason, never leaves it ``testing``;
- the vendor re-requests the certification through the platform (``version_recertify``), twice, and a
  redelivery enqueues the job once more: the next worker runs it exactly once, to a full report, attempts 2.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox import cgroups as sandbox_cgroups
from tests.conftest import make_app, upgrade
from tests.faults.test_worker_faults import wait_until, worker, worker_env
from tests.marketplace.conftest import contract_doc
from tests.sandbox.conftest import sandbox_backend

ROOT = Path(__file__).resolve().parents[2]
# Short, traversable by the sandbox uid (unix socket paths are limited to 108 bytes), shared with the sandbox tests.
RUNS = "/run/govmarket-sandbox-test"
CGROUPS = Path("/sys/fs/cgroup")
CASES = 14
PAUSE_S = 0.35
PASSWORD = "correct horse battery"

SLOW_APP = f'''"""Files applications, slowly: every answer takes {PAUSE_S} s."""
import json
import time


def app(environ, start_response):
    time.sleep({PAUSE_S})
    if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == "/applications":
        status, body = "201 Created", {{"id": "A-1", "status": "received"}}
    else:
        status, body = "404 Not Found", {{"error": "no such resource"}}
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
'''


def slow_suite() -> dict:
    cases = [{"id": f"file-{i:02d}", "category": "happy-path", "visibility": "public" if i % 2 else "hidden",
              "request": {"method": "POST", "path": "/applications", "json": {"n": i}},
              "expect": {"status": 201, "json": {"status": "received"}}} for i in range(CASES)]
    return {"suite": "order-kill", "version": 1, "dataset": {"spec": "citizens-v1", "seed": 1, "size": 100},
            "pass": {"ratio": 1.0, "latency_p95_ms": 5000}, "cases": cases}


@pytest.fixture(scope="module")
def slow_bundle(tmp_path_factory) -> bytes:
    """The slow app packaged the way a vendor does it (wheels of the SDK and its dependencies included)."""
    src = tmp_path_factory.mktemp("slow-app") / "app"
    src.mkdir()
    (src / "govapp.toml").write_text('name = "slow-app"\nversion = "1.0.0"\norder = "order-kill"\n'
                                     'entrypoint = "slow:app"\nruntime = "python3.11"\nscopes = []\n')
    (src / "slow.py").write_text(SLOW_APP)
    out = src.parent / "slow-app.tar.gz"
    subprocess.run([str(Path(sys.executable).parent / "govapp"), "package", "--out", str(out), str(src)], check=True,
                   capture_output=True, timeout=300)
    return out.read_bytes()


@pytest.fixture
def certifying(fresh_database_url, private_redis, tmp_path):
    """The platform on a fresh database, queueing to the private Redis, certifying on bwrap; and a function that
    starts a ``govmarket sandbox worker --burst`` for it."""
    sandbox_backend("bwrap")  # skips locally, fails under CI, when bubblewrap or its cgroups are missing
    instance = tmp_path / "instance"
    app = make_app(fresh_database_url, instance, QUEUE_MODE="rq", REDIS_URL=private_redis.url,
                   SANDBOX_BACKEND="bwrap", SANDBOX_RUNS=RUNS)
    upgrade(app)
    env = {**worker_env(fresh_database_url, private_redis.url, instance), "GOVMARKET_SANDBOX_BACKEND": "bwrap",
           "GOVMARKET_SANDBOX_RUNS": RUNS}
    started: list[subprocess.Popen] = []

    def start_worker(log: Path | None = None) -> subprocess.Popen:
        proc = worker(env, "sandbox", "worker", "--burst", log=log)
        started.append(proc)
        return proc

    yield app, start_worker
    for proc in started:  # a failed assertion must not leave a worker (and its sandboxes) running
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with app.app_context():
        from core.extensions import db

        db.engine.dispose()


def upload(app, bundle: bytes) -> tuple[int, int]:
    """A department's open order with the slow suite, a vendor's app for it, and version 1.0.0 uploaded through
    ``version_upload`` (which queues its certification). Returns (vendor member id, version id)."""
    import io

    from core.auth import SYSTEM
    from core.extensions import db
    from core.ids import uscc_check_char
    from core.storage import FileBlobStore
    from marketplace.accounts import services as accounts
    from marketplace.accounts.models import User
    from marketplace.catalogue import services as catalogue
    from marketplace.orders import services as orders
    from marketplace.vendors import services as vendors

    dept = catalogue.department_create(SYSTEM, code="dept-kill", name="容错局", name_en="Fault Bureau")
    item = catalogue.service_item_create(SYSTEM, department_id=dept.id, code="item-kill", name="容错事项",
                                         time_limit_days=10)
    vendor = vendors.vendor_create(SYSTEM, name="Vendor Kill", credit_code="91310000MA1FL0077"
                                   + uscc_check_char("91310000MA1FL0077"))
    member = accounts.user_create(SYSTEM, email="vendor@kill.example.cn", display_name="vendor", password=PASSWORD,
                                  role="vendor_member", vendor_id=vendor.id)
    order = orders.order_create(SYSTEM, service_item_id=item.id, slug="order-kill", title="Order kill",
                                contract=contract_doc(), fee_per_transaction_fen=200, quarterly_budget_fen=1_000_000,
                                dept_scopes=["person.read"], citizen_scopes=["name"])
    orders.suite_add(SYSTEM, order.id, slow_suite())
    orders.order_publish(SYSTEM, order.id)
    vendor_user = db.session.get(User, member.id)
    entry = vendors.app_create(vendor_user, order_id=order.id, name="Slow App", slug="slow-app")
    version = vendors.version_upload(vendor_user, entry.id, version="1.0.0", stream=io.BytesIO(bundle),
                                     store=FileBlobStore(app.config["BUNDLE_STORE"]), max_bytes=10**8)
    return member.id, version.id


def the_run(version_id: int):
    from core.extensions import db
    from marketplace.vendors.models import AppVersion
    from marketplace.vendors.services import latest_certification

    db.session.expire_all()
    return latest_certification(db.session.get(AppVersion, version_id))


def sandbox_of(horse: str) -> dict:
    """What the work horse ``horse`` (pid.starttime) has running: its cgroups, the processes in them, and every
    process descended from it (bwrap, the sandboxed app, the simulated department service), by owner key."""
    from sandbox.backends import owner_key

    cgroups = sorted(p for cg in sandbox_cgroups.existing(sandbox_cgroups.detect(CGROUPS)).values()
                     if cg.name.startswith(f"{horse}-") for p in set(cg.dirs.values()))
    members = set()
    for path in cgroups:
        if path.parent.parent.name == "pids":
            members |= {int(pid) for pid in (path / "cgroup.procs").read_text().split()}
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = set(), {int(horse.partition(".")[0])}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - tree
        tree |= frontier
    keys = {}
    for pid in tree | members:
        try:
            keys[pid] = owner_key(pid)
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                keys[pid] += " " + fh.read().replace(b"\0", b" ").decode(errors="replace")[:120]
        except OSError:
            continue
    return {"cgroups": cgroups, "members": members, "processes": keys,
            "run_dirs": sorted(Path(RUNS).glob(f"{horse}-*")) if Path(RUNS).is_dir() else []}


def survivors(processes: dict[int, str]) -> list[str]:
    from sandbox.backends import owner_alive

    return [text for text in processes.values() if owner_alive(text.split(" ", 1)[0])]


def sandbox_job_runs(output: str, job_id: str) -> int:
    """How many times a worker's log says it started ``job_id`` (rq logs `sandbox: <func>(<args>) (<job id>)`)."""
    return len(re.findall(rf"sandbox: sandbox\.tasks\.certify_run\(\d+\) \({re.escape(job_id)}\)", output))


def test_worker_killed_mid_real_certification_is_swept_and_recertified_once(certifying, slow_bundle, tmp_path):
    from core import queue
    from core.extensions import db
    from marketplace.accounts.models import User
    from marketplace.vendors import services as vendors
    from sandbox.models import CertificationRun
    from sandbox.services import JOB_TIMEOUT_S
    from sandbox.tasks import certify_run

    app, start_worker = certifying
    started = time.monotonic()
    with app.app_context():
        member_id, version_id = upload(app, slow_bundle)
        run = the_run(version_id)
        run_id, job_id = run.id, run.job_id
        assert run.state == "queued"
        db.session.remove()

    # -- 1. a real worker certifies; the host loses it while the app is serving the suite -------------------------
    first = start_worker(log=tmp_path / "worker-1.log")
    try:
        with app.app_context():
            def serving():
                assert first.poll() is None, (tmp_path / "worker-1.log").read_text()[-3000:]
                run = db.session.get(CertificationRun, run_id)
                state = (run.state, run.cases_done, run.worker)
                db.session.remove()  # end the read: SQLite begins every transaction IMMEDIATE (the writer's lock)
                return state[0] == "testing" and state[1] >= 2 and state[2]

            holder = wait_until(serving, 60, "the certification to reach its third case").partition(":")[2]
        caught = sandbox_of(holder)
        # The kill really lands mid-run: the app's sandbox (cgroups with processes in them) and the department
        # service are alive.
        assert caught["cgroups"] and caught["members"], caught
        assert caught["run_dirs"] and any("mockdata" in p for p in caught["processes"].values()), caught
        killed_at = time.monotonic()
        # rq moves the work horse into its own process group: kill it and the worker's whole group.
        os.kill(int(holder.partition(".")[0]), signal.SIGKILL)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)

    # -- 2. the sandbox dies with its worker; the next worker on this host sweeps what is left at its start ---------
    from sandbox.backends import owner_alive

    wait_until(lambda: not owner_alive(holder), 10, "the killed work horse to be gone")
    # bwrap --die-with-parent takes the app down with the horse, the department service sees its parent gone.
    wait_until(lambda: not survivors(caught["processes"]), 10,
               f"the sandbox to die with its worker; alive: {survivors(caught['processes'])}")
    gone_at = time.monotonic()
    assert sandbox_of(holder)["cgroups"], "the killed worker's cgroups are left for the sweep"
    sweeper = start_worker()
    swept, _ = sweeper.communicate(timeout=60)
    swept_at = time.monotonic()
    assert sweeper.returncode == 0, swept
    assert f"swept: run {run_id} marked error" in swept, swept
    print("\n" + "\n".join(line for line in swept.splitlines() if line.startswith("swept:")))
    # The sweep is host-wide: on a shared machine another worker's (or test's) sweep may have removed the killed
    # worker's cgroups first, so what must hold is that they are gone, whoever swept them.
    left = sandbox_of(holder)
    assert left["cgroups"] == [] and left["run_dirs"] == [], left
    assert survivors(caught["processes"]) == [], "processes of the killed certification outlived the sweep"
    with app.app_context():
        run = db.session.get(CertificationRun, run_id)
        assert (run.state, run.attempts, run.finished_at is not None) == ("error", 1, True)
        assert "stopped mid-run" in run.error, run.error
        member = db.session.get(User, member_id)
        assert vendors.version_view(member, version_id)["status"] == "error"

        # -- 3. the vendor asks again (twice, impatiently); a redelivery enqueues the same job once more -----------
        for _ in range(2):
            vendors.version_recertify(member, version_id)
        db.session.remove()
        queue.enqueue("sandbox", certify_run, run_id, job_id=job_id, timeout=JOB_TIMEOUT_S)
        from rq import Queue

        assert Queue("sandbox", connection=app.extensions["job_queue"].redis).job_ids == [job_id]
        run = db.session.get(CertificationRun, run_id)
        assert (run.state, run.error, run.attempts) == ("queued", None, 1)
        db.session.remove()

    rerun = start_worker()
    output, _ = rerun.communicate(timeout=90)
    finished_at = time.monotonic()
    assert rerun.returncode == 0, output
    assert sandbox_job_runs(output, job_id) == 1, output
    with app.app_context():
        run = db.session.get(CertificationRun, run_id)
        report = run.report
        assert (run.state, run.attempts, run.error) == ("certified", 2, None), (run.state, run.error, report)
        assert run.cases_done == run.cases_total == len(report["cases"]) == report["summary"]["total"] >= CASES
        assert report["summary"]["passed"] == report["summary"]["total"] and report["verdicts"] == {}
        assert report["backend"] == "bwrap" and report["image_hash"] and report["bundle_sha256"]
        finished = sandbox_of(run.worker.partition(":")[2])
        assert finished["cgroups"] == [] and finished["run_dirs"] == [], "the rerun cleaned up after itself"
        member = db.session.get(User, member_id)
        assert vendors.version_view(member, version_id)["status"] == "certified"
        # The audit trail says what happened to the run and who asked for it again (once: the second ask found
        # it queued).
        import sqlalchemy as sa

        from core.audit import AuditEvent

        actions = db.session.execute(sa.select(AuditEvent.action, AuditEvent.actor_id).where(
            AuditEvent.action.in_(["certification.orphaned", "version.recertify", "certification.requeued"]))
            .order_by(AuditEvent.id)).all()
        assert [tuple(a) for a in actions] == [("certification.orphaned", None), ("version.recertify", member_id),
                                               ("certification.requeued", None)], actions
    timings = {"to the kill": killed_at - started, "sandbox gone": gone_at - killed_at,
               "next worker swept": swept_at - killed_at, "rerun": finished_at - swept_at, "total": finished_at - started}
    print("\n" + json.dumps({k: round(v, 1) for k, v in timings.items()}))
    assert timings["total"] < 90, timings
