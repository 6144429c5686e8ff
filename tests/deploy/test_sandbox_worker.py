"""A sandbox worker running from the platform image, holding only the Docker socket, certifies real uploads.

The worker container is started the way compose.yaml's ``sandbox-worker`` is (its command, environment, pid
namespace and mounts are read from compose.yaml), on the host network, against a fresh database and a private
Redis. The test process queues certifications through the platform's own service (``certification_request``,
QUEUE_MODE=rq); the worker runs each app in a sibling container of the host's dockerd, from the runtime image
named by GOVMARKET_RUNTIME_IMAGE, with the per-run folders bind-mounted from the same path on the host.

One app passes its suite (certified); another plants ``app.sock`` as a link to the Docker socket the worker
holds, and the worker must refuse to talk to it (the peer check by host pid) and fail it with a report.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.conftest import make_app, upgrade
from tests.deploy.conftest import LABEL, LABEL_VALUE, ROOT, compose_default, docker_cli, run_like_compose
from tests.faults import conftest as faults
from tests.sandbox.conftest import APPS, make_bundle
from tests.services import missing, require_docker

pytestmark = [pytest.mark.docker, pytest.mark.slow]
private_redis = faults.private_redis  # the fixture: a redis-server of this test's own, stopped afterwards

SUITE = {
    "suite": "image-check", "version": "1", "dataset": {"spec": "citizens-v1", "seed": 7, "size": 100},
    "pass": {"ratio": 1.0, "latency_p95_ms": 5000},
    "cases": [{"id": "health", "category": "happy-path", "visibility": "public",
               "request": {"method": "GET", "path": "/health"}, "expect": {"status": 200}},
              {"id": "hello", "category": "happy-path", "visibility": "public",
               "request": {"method": "GET", "path": "/hello"}, "expect": {"status": 200}}],
}
GOOD_APP = (b"def app(environ, start_response):\n"
            b"    start_response('200 OK', [('Content-Type', 'application/json')])\n"
            b"    return [b'{\"ok\": true}']\n")


@pytest.fixture
def runtime_tag():
    """The runtime image in this host's dockerd, labelled with its full hash (imported from the built rootfs)."""
    from core.config import load_config
    from core.errors import ServiceUnavailable
    from sandbox import runtime

    client = require_docker()
    try:
        image = runtime.load(load_config(str(ROOT / "instance"))["RUNTIME_ROOTFS"])
        return runtime.docker_import(image, client), image.hash
    except ServiceUnavailable as exc:
        missing("the sandbox runtime", exc.message)


def sandbox_containers(owner: str) -> list[str]:
    return docker_cli("ps", "--all", "--format", "{{.Names}}", "--filter", "label=govmarket.sandbox",
                      "--filter", f"label=govmarket.owner={owner}").stdout.split()


def test_sandbox_worker_container_certifies_with_the_docker_socket(image, cleanup, runtime_tag, fresh_database_url,
                                                                   private_redis, tmp_path, shared_folder):
    from core.extensions import db
    from core.storage import FileBlobStore
    from sandbox.models import CertificationRun
    from sandbox.services import certification_request

    tag, runtime_hash = runtime_tag
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["sandbox-worker"]
    env = dict(compose["environment"])
    assert compose["pid"] == "host" and compose["user"] == "root"
    assert env["GOVMARKET_SANDBOX_BACKEND"] == "docker" and env["GOVMARKET_RUNTIME_IMAGE"].startswith("${")
    runs_in_compose = compose_default(env["GOVMARKET_SANDBOX_RUNS"])
    mounts = [compose_default(volume).split(":") for volume in compose["volumes"]]
    assert [runs_in_compose, runs_in_compose, "rshared"] in mounts, \
        "the runs folder must be mounted from the same host path, its mounts propagating to the host"
    assert compose["cap_add"] == ["SYS_ADMIN"] and "cgroup" not in compose, "docker-compose 1.29 refuses `cgroup`"
    assert ["/var/run/docker.sock", "/var/run/docker.sock"] in mounts
    assert ["/sys/fs/cgroup", "/sys/fs/cgroup", "ro"] in mounts

    # The platform: the test process uploads and queues, as the web does.
    instance = tmp_path / "instance"
    app = make_app(fresh_database_url, instance, QUEUE_MODE="rq", REDIS_URL=private_redis.url)
    upgrade(app)
    bundles = Path(app.config["BUNDLE_STORE"])
    good = make_bundle("app:app", {"app.py": GOOD_APP}, scopes=())
    planter = make_bundle("planter:app", {"planter.py": (APPS / "planter.py").read_bytes()}, scopes=())
    with app.app_context():
        store = FileBlobStore(bundles)
        runs = {}
        for version, bundle in ((1, good), (2, planter)):
            sha = store.put_stream(io.BytesIO(bundle), 10**7).sha256
            runs[version] = certification_request(None, version, sha, SUITE, None, []).id
        db.session.remove()

    # A short folder (unix socket paths are limited to 108 bytes), the same path on the host and in the worker.
    runs_root = shared_folder("gm-runs-")
    container = run_like_compose(compose, image, cleanup, database_url=fresh_database_url,
                                 redis_url=private_redis.url, runs_root=runs_root, bundles=bundles,
                                 settings={"GOVMARKET_RUNTIME_IMAGE": tag})
    name, started, logs = container.name, container.started, container.logs

    try:
        deadline = time.monotonic() + 100
        states: dict[int, CertificationRun] = {}
        while time.monotonic() < deadline:
            with app.app_context():
                states = {v: db.session.get(CertificationRun, run_id) for v, run_id in runs.items()}
                done = all(run.state in ("certified", "failed", "error") for run in states.values())
                db.session.expunge_all()
                db.session.remove()
            if done:
                break
            state = json.loads(docker_cli("inspect", "--format", "{{json .State}}", name).stdout)
            assert state["Running"], f"the worker stopped (exit {state['ExitCode']}):\n{logs()}"
            time.sleep(0.5)
        seconds = time.monotonic() - started
        summary = {v: (run.state, run.error) for v, run in states.items()}
        print(f"\nboth runs finished {seconds:.1f} s after the worker container started: {summary}")
        good_run, planted = states[1], states[2]
        assert good_run.state == "certified", f"{summary}\n{json.dumps(good_run.report, indent=1)[:3000]}\n{logs()}"
        assert planted.state == "failed", f"{summary}\n{logs()}"
        for run in (good_run, planted):
            assert run.backend == "docker" and run.report["backend"] == "docker"
            assert run.report["image_hash"] == runtime_hash
            assert run.worker.partition(":")[0] == os.uname().nodename  # the host's name, on the host network
        assert good_run.report["summary"]["passed"] == 2 and not good_run.report["verdicts"]
        assert "not in the sandbox" in planted.report["verdicts"]["start_failure"], planted.report["verdicts"]
        owner = good_run.worker.partition(":")[2]
        assert int(owner.partition(".")[0]) != 1, "the worker's owner key is not a host pid"
        assert sandbox_containers(owner) == [], "a sandbox container outlived its run"
        assert list(runs_root.iterdir()) == [], "a run folder outlived its run"
    finally:
        docker_cli("stop", "--time", "20", name, check=False)
        shutil.rmtree(runs_root, ignore_errors=True)


PROBE = """
import json, os
from pathlib import Path
from core.config import load_config
from core.errors import ServiceUnavailable
from sandbox.backends import get_backend
from sandbox.harness import AppSession, HarnessLimits
try:
    backend = get_backend("docker", load_config("/tmp"))
    with AppSession(backend, Path(os.environ["RUNS"]), HarnessLimits()) as session:
        backend.start(session._spec("probe", ["/usr/bin/sleep", "30"], {}, deps_writable=False)).stop()
    print(json.dumps({"started": True}))
except ServiceUnavailable as exc:
    print(json.dumps({"refused": exc.message}))
"""


@pytest.mark.parametrize("wrong", ["own pid namespace", "runs folder inside the container", "no host cgroups",
                                   "runs folder not shared", "no capability to mount"])
def test_sandbox_worker_container_refuses_what_it_cannot_vet(image, cleanup, runtime_tag, wrong, tmp_path, shared_folder):
    """A worker container set up wrongly refuses before an app runs (an infrastructure error the run records),
    instead of misjudging every app, missing pids-limit hits, letting an app write to the host's disk, or sweeping
    other workers' live sandboxes. Everything else is as compose.yaml declares it."""
    tag, _ = runtime_tag
    if wrong == "runs folder inside the container":
        runs, mount = "/var/lib/govmarket-sandbox-probe/runs", []  # the container's own filesystem: nothing on the host
    elif wrong == "runs folder not shared":
        runs = tempfile.mkdtemp(prefix="gm-probe-")
        os.chmod(runs, 0o711)
        mount = ["--volume", f"{runs}:{runs}"]
    else:
        runs = str(shared_folder("gm-probe-"))
        mount = ["--volume", f"{runs}:{runs}:rshared"]
    name = f"govmarket-test-{uuid.uuid4().hex[:10]}"
    cleanup["containers"].append(name)
    args = ["run", "--rm", "--name", name, "--label", f"{LABEL}={LABEL_VALUE}", "--network", "none", "--user", "root",
            "--volume", "/var/run/docker.sock:/var/run/docker.sock", *mount, "--cgroupns", "host",
            "--env", "GOVMARKET_ENV=development", "--env", f"GOVMARKET_RUNTIME_IMAGE={tag}", "--env", f"RUNS={runs}",
            "--env", "PROMETHEUS_MULTIPROC_DIR="]
    if wrong != "no capability to mount":
        args += ["--cap-add", "SYS_ADMIN", "--security-opt", "apparmor=unconfined"]
    if wrong != "own pid namespace":
        args += ["--pid", "host"]
    if wrong != "no host cgroups":
        args += ["--volume", "/sys/fs/cgroup:/sys/fs/cgroup:ro"]
    try:
        proc = docker_cli(*args, image, "python", "-c", PROBE)
    finally:
        if wrong == "runs folder not shared":
            shutil.rmtree(runs, ignore_errors=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    expected = {"own pid namespace": "own pid namespace; run it with the host's",
                "runs folder inside the container": "is inside this container's own filesystem",
                "no host cgroups": "does not see the host's cgroup",
                "runs folder not shared": "does not propagate to the host",
                "no capability to mount": "could not mount the size-capped area"}[wrong]
    assert expected in result.get("refused", ""), result
    print(f"\nrefused: {result['refused']}")
    assert not Path("/var/lib/govmarket-sandbox-probe").exists(), "dockerd created the runs folder on the host"
    left = docker_cli("ps", "--all", "--format", "{{.Names}}", "--filter", "label=govmarket.sandbox").stdout.split()
    assert not [n for n in left if n.endswith("-probe")], f"the refused sandbox was left: {left}"
