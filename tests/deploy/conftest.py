"""The platform image, built once per test session from the working tree, and cleanup of what the tests start.

The image is built with ``scripts/build-image.sh --local-base`` (FROM a Debian bookworm base made from the
sandbox runtime image, as no image registry is reachable here; Debian's mirror and PyPI are). The first build
on a machine takes about two minutes; later ones reuse Docker's layer cache and rebuild only the code layer.

Every container and volume is labelled and removed, also when a test fails; a last check finds none left.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services import missing, require_docker

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "build-image.sh"
# One tag per checkout: test runs in other worktrees on this machine neither replace nor remove this one's image.
TAG = f"govmarket-test:{hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]}"
LABEL = "org.govmarket.test"
LABEL_VALUE = f"image-{os.getpid()}"
BUILD_TIMEOUT = 1800


def compose_default(value: str) -> str:
    """A compose.yaml value with each ``${NAME:-default}`` replaced by its default (what compose uses unset)."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)


def docker_cli(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        pytest.fail(f"docker {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
    return proc


def image_id(tag: str) -> str | None:
    proc = docker_cli("image", "inspect", "--format", "{{.Id}}", tag, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


@pytest.fixture(scope="session")
def image():
    """The image built from the working tree; a rebuild after a code change reuses every layer before the code."""
    require_docker()
    if not shutil.which("docker"):
        missing("Docker", "the docker command is not on PATH (apt-get install docker.io)")
    from core.config import load_config
    from core.errors import ServiceUnavailable
    from sandbox import runtime

    try:  # the local base is made from the sandbox runtime image
        runtime.load(load_config(str(ROOT / "instance"))["RUNTIME_ROOTFS"])
    except ServiceUnavailable as exc:
        missing("the sandbox runtime", str(exc))

    previous = image_id(TAG)
    env = {**os.environ, "GOVMARKET": str(Path(sys.executable).with_name("govmarket"))}
    started = time.monotonic()
    proc = subprocess.run([str(BUILD_SCRIPT), "--local-base", "-t", TAG], capture_output=True, text=True,
                          env=env, timeout=BUILD_TIMEOUT, check=False)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, f"the image did not build:\n{proc.stdout[-2000:]}{proc.stderr[-6000:]}"
    assert proc.stdout.strip().splitlines()[-1] == TAG
    current = image_id(TAG)
    cached = proc.stderr.count("Using cache")
    size = int(docker_cli("image", "inspect", "--format", "{{.Size}}", TAG).stdout)
    print(f"\nimage {TAG} built in {seconds:.1f} s ({cached} cached steps), {size / 1e6:.0f} MB")
    if previous and previous != current:  # the last run's image, untagged now: do not let them pile up
        docker_cli("image", "rm", previous, check=False)
    return TAG


@pytest.fixture(scope="module")
def cleanup():
    """Names of what the tests create; all of it is removed at the end, and nothing labelled may be left."""
    made: dict[str, list[str]] = {"containers": [], "volumes": []}
    yield made
    for name in made["containers"]:
        docker_cli("rm", "--force", "--volumes", name, check=False)
    for name in made["volumes"]:
        docker_cli("volume", "rm", "--force", name, check=False)
    left = docker_cli("ps", "--all", "--quiet", "--filter", f"label={LABEL}={LABEL_VALUE}").stdout.split()
    left_volumes = docker_cli("volume", "ls", "--quiet", "--filter", f"label={LABEL}={LABEL_VALUE}").stdout.split()
    assert not left and not left_volumes, f"left behind: containers {left}, volumes {left_volumes}"


@pytest.fixture
def shared_folder():
    """Makes new folders that are shared mount points of their own, as compose's rshared runs folder needs on the host
    (a systemd host shares / already; this test machine's / is private). Unmounted and removed afterwards."""
    made: list[Path] = []

    def make(prefix: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=prefix))
        made.append(path)
        os.chmod(path, 0o711)
        subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
        subprocess.run(["mount", "--make-shared", str(path)], check=True)
        return path

    yield make
    for path in made:
        subprocess.run(["umount", "--recursive", "--lazy", str(path)], check=False)
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class Started:
    """A container started as a compose service: its name, when it started, and its last log lines."""

    name: str
    started: float

    def logs(self) -> str:
        proc = docker_cli("logs", "--tail", "80", self.name, check=False)
        return proc.stdout + proc.stderr


def run_like_compose(service: dict, image: str, cleanup: dict, *, database_url: str, redis_url: str,
                     runs_root: Path, bundles: Path, settings: dict[str, str],
                     command: list[str] | None = None) -> Started:
    """Start ``image`` as compose's sandbox-host ``service`` is declared (pid, user, tmpfs, capabilities, security
    options, cgroup namespace, the same-path runs folder and its propagation, the Docker socket, host cgroups), on
    the host network and this test's database and Redis. ``runs_root`` must be a shared mount (``shared_folder``).

    The service's environment is kept, less what names compose's own services or is left to the operator
    (``${…}``); ``settings`` are added. On SQLite, which production refuses, the container runs in development
    mode on the same database file, shared by a bind mount."""
    environment = {key: value for key, value in service["environment"].items()
                   if key not in ("DATABASE_URL", "REDIS_URL") and "${" not in str(value)}
    environment |= {"GOVMARKET_SECRET_KEY": "x" * 32, "GOVMARKET_SANDBOX_RUNS": str(runs_root),
                    "GOVMARKET_BUNDLE_STORE": str(bundles), "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                    "GOVMARKET_RATELIMIT_STORAGE_URI": "memory://", "GOVMARKET_LOG_FORMAT": "text", **settings}
    runs_volume = next(v for v in service["volumes"] if "govmarket-sandbox/runs" in v)
    volumes = [f"{runs_root}:{runs_root}" + (":rshared" if runs_volume.endswith(":rshared") else ""),
               "/var/run/docker.sock:/var/run/docker.sock", "/sys/fs/cgroup:/sys/fs/cgroup:ro", f"{bundles}:{bundles}:ro"]
    if database_url.startswith("sqlite"):
        folder = database_url.removeprefix("sqlite:///").rsplit("/", 1)[0]
        environment["GOVMARKET_ENV"] = "development"
        volumes.append(f"{folder}:{folder}")
    name = f"govmarket-test-{uuid.uuid4().hex[:10]}"
    cleanup["containers"].append(name)
    args = ["run", "--detach", "--name", name, "--label", f"{LABEL}={LABEL_VALUE}", "--network", "host",
            "--pid", service["pid"], "--user", service["user"]]
    for path in service["tmpfs"]:
        args += ["--tmpfs", path]
    for cap in service.get("cap_add", []):
        args += ["--cap-add", cap]
    for option in service.get("security_opt", []):
        args += ["--security-opt", option.replace(":", "=", 1)]
    if service.get("cgroup"):
        args += ["--cgroupns", service["cgroup"]]
    for volume in volumes:
        args += ["--volume", volume]
    for key, value in environment.items():
        args += ["--env", f"{key}={value}"]
    started = time.monotonic()
    docker_cli(*args, image, *(command or service["command"]))
    return Started(name, started)
