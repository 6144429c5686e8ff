"""Fixtures for the sandbox tests: real backends (skipped locally, failing under CI when missing), bundles
built from the hostile test apps, and a check that nothing of a sandbox outlives its test."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from core.config import load_config
from core.errors import ServiceUnavailable
from core.storage import FileBlobStore
from sandbox.backends import owner_key
from sandbox.runtime import SANDBOX_UID
from tests.services import missing, require_bwrap, require_docker

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"
SDK = ROOT / "sdk" / "govapp"
BACKENDS = ("bwrap", "docker")


def sandbox_backend(name: str):
    from sandbox.backends import get_backend

    if name == "bwrap":
        require_bwrap()
    else:
        require_docker()
    config = load_config(str(ROOT / "instance"))
    try:
        return get_backend(name, config)
    except ServiceUnavailable as exc:
        missing(f"the {name} sandbox backend", exc.message)


@pytest.fixture(params=BACKENDS, scope="session")
def backend(request):
    return sandbox_backend(request.param)


def wheel(name: str, version: str, module_source: str) -> tuple[str, bytes]:
    """A minimal pure-Python wheel, built by hand."""
    filename = f"{name}-{version}-py3-none-any.whl"
    dist = f"{name}-{version}.dist-info"
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as zf:
        zf.writestr(f"{name}.py", module_source)
        zf.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        zf.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{dist}/RECORD", "")
    return filename, raw.getvalue()


def make_bundle(entrypoint: str, modules: dict[str, bytes], wheels: dict[str, bytes] | None = None,
                scopes: tuple[str, ...] = ("person.read",), fields: tuple[str, ...] = (),
                optional_fields: tuple[str, ...] = ()) -> bytes:
    manifest = (f'name = "hostile"\nversion = "1.0.0"\norder = "food-licence"\nentrypoint = "{entrypoint}"\n'
                f'runtime = "python3.11"\nscopes = {list(scopes)!r}\nfields = {list(fields)!r}\n'
                f'optional_fields = {list(optional_fields)!r}\n').replace("'", '"')
    entries = {"govapp.toml": manifest.encode(), "govapp/__init__.py": b"",
               "govapp/serve.py": (SDK / "serve.py").read_bytes(), **modules}
    for name, data in (wheels or {}).items():
        entries[f"wheels/{name}"] = data
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


@pytest.fixture
def store(tmp_path):
    return FileBlobStore(tmp_path / "bundles")


@pytest.fixture
def stored_bundle(store):
    def put(entrypoint: str, *module_names: str, wheels: dict[str, bytes] | None = None, extra: dict | None = None,
            scopes: tuple[str, ...] = ("person.read",), fields: tuple[str, ...] = (),
            optional_fields: tuple[str, ...] = ()) -> str:
        modules = {f"{m}.py": (APPS / f"{m}.py").read_bytes() for m in module_names}
        modules.update(extra or {})
        bundle = make_bundle(entrypoint, modules, wheels, scopes, fields, optional_fields)
        return store.put_stream(io.BytesIO(bundle), 10**8).sha256

    return put


@pytest.fixture
def runs_root(tmp_path_factory):
    # Short and traversable by the sandbox uid: unix socket paths are limited to 108 bytes.
    path = Path("/run/govmarket-sandbox-test") if os.geteuid() == 0 else tmp_path_factory.mktemp("runs")
    return path


def sandbox_processes() -> list[str]:
    """Processes of the sandbox uid that descend from this test process (bwrap sandboxes are its children, and an
    orphan is re-parented to it, a subreaper). Other engineers' test runs on the machine have their own; Docker's
    are the containerd shim's, and the container check below covers them."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,uid=,args="], capture_output=True, text=True)
    rows = [line.split(None, 3) for line in out.stdout.splitlines() if line.strip()]
    parent = {int(r[0]): int(r[1]) for r in rows}
    me = os.getpid()

    def mine(pid: int) -> bool:
        seen = 0
        while pid > 1 and seen < 64:
            if pid == me:
                return True
            pid, seen = parent.get(pid, 0), seen + 1
        return False

    return [" ".join(r) for r in rows if len(r) > 2 and int(r[2]) == SANDBOX_UID and mine(int(r[0]))]


@pytest.fixture
def no_leftovers(runs_root):
    """After the test: no process of the sandbox uid, no container, cgroup or run directory of this worker."""
    yield
    me = owner_key()
    assert sandbox_processes() == [], "a sandboxed process outlived its sandbox"
    for ctrl in ("memory", "pids", "cpu"):
        parent = Path("/sys/fs/cgroup") / ctrl / "govmarket"
        if parent.is_dir():
            assert not [p.name for p in parent.iterdir() if p.name.startswith(me)], f"cgroup left in {parent}"
    if runs_root.is_dir():
        assert not [p for p in runs_root.iterdir() if p.name.startswith(me)], "run directory left behind"
    try:
        import docker

        client = docker.from_env(timeout=10)
        left = client.containers.list(all=True, filters={"label": f"govmarket.owner={me}"})
        assert left == [], f"containers left: {[c.name for c in left]}"
    except docker.errors.DockerException:
        pass
