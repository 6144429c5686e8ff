"""The runtime image: one Debian rootfs with CPython, built offline from Debian packages, once.

The bubblewrap backend binds the rootfs read-only as ``/``; the Docker backend runs the same tree,
imported as an image tagged with the tree's content hash. That hash goes into every report, so a run
can be reproduced on exactly the same interpreter and libraries.

The rootfs lives outside the repository (default ``~/.cache/govmarket/runtime/rootfs``, setting
``GOVMARKET_RUNTIME_ROOTFS``), so a fresh clone on the same machine reuses it.

The imported image carries the full hash and the Python version as labels, so a sandbox worker that runs in a
container, with only the Docker socket, can use the image without the rootfs (``GOVMARKET_RUNTIME_IMAGE``,
``docker_image``) and still name the exact runtime in its reports.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from core.errors import ServiceUnavailable
from core.time import utcnow

log = logging.getLogger(__name__)

SUITE = "bookworm"
PACKAGES = ("python3", "python3-pip")
IMAGE_REPOSITORY = "govmarket-runtime"
HASH_LABEL = "org.govmarket.runtime.hash"
PYTHON_LABEL = "org.govmarket.runtime.python"
SANDBOX_UID = 10001  # the unprivileged user apps run as, on the host and inside the sandbox
DEPT_UID = 10002  # the unprivileged user the certification's simulated department service runs as, on the host
MOUNT_POINTS = ("app", "deps", "run/govapp")
PYTHON = "/usr/bin/python3"


@dataclass(frozen=True)
class RuntimeImage:
    rootfs: Path | None  # None: known only as the Docker image (docker_image), usable by the docker backend alone
    hash: str  # sha256 over the tree: paths, types, modes, owners, contents, link targets
    python: str

    @property
    def docker_tag(self) -> str:
        return f"{IMAGE_REPOSITORY}:{self.hash[:16]}"


def _meta_path(rootfs: Path) -> Path:
    return rootfs.with_name(rootfs.name + ".json")


def tree_hash(root: Path) -> str:
    """A content hash of a directory tree that does not depend on timestamps or directory order."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            st = path.lstat()
            rel = str(path.relative_to(root)).encode()
            digest.update(b"%s\0%o\0%d:%d\0" % (rel, st.st_mode, st.st_uid, st.st_gid))
            if stat.S_ISLNK(st.st_mode):
                digest.update(os.readlink(path).encode() + b"\0")
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as fh:
                    digest.update(hashlib.file_digest(fh, "sha256").digest())
    return digest.hexdigest()


def load(rootfs: str | os.PathLike) -> RuntimeImage:
    """The built runtime at ``rootfs``; ServiceUnavailable when it has not been built."""
    rootfs = Path(rootfs)
    meta = _meta_path(rootfs)
    if not (rootfs / "usr" / "bin" / "python3").exists() or not meta.is_file():
        raise ServiceUnavailable(
            f"the sandbox runtime is not built at {rootfs}; run `govmarket sandbox build-runtime` "
            "(or `make runtime`), or point GOVMARKET_RUNTIME_ROOTFS at a built one")
    data = json.loads(meta.read_text())
    return RuntimeImage(rootfs=rootfs, hash=data["hash"], python=data["python"])


def build(rootfs: str | os.PathLike, *, force: bool = False, echo=log.info) -> RuntimeImage:
    """Build the rootfs with debootstrap unless a built one is there; returns it. Needs root."""
    rootfs = Path(rootfs)
    if not force:
        try:
            return load(rootfs)
        except ServiceUnavailable:
            pass
    if os.geteuid() != 0:
        raise ServiceUnavailable("building the runtime needs root (debootstrap); run it as root once")
    if not shutil.which("debootstrap"):
        raise ServiceUnavailable("debootstrap is missing; run scripts/ensure-services.sh (apt-get install debootstrap)")
    rootfs.parent.mkdir(parents=True, exist_ok=True)
    work = rootfs.with_name(f".{rootfs.name}.build-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    started = time.monotonic()
    echo(f"debootstrap --variant=minbase {SUITE} into {work} (about a minute)")
    cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(work)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603  (fixed argv)
    if proc.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise ServiceUnavailable(f"debootstrap failed ({proc.returncode}): {proc.stdout[-1500:]}{proc.stderr[-1500:]}")
    _prepare(work)
    python = subprocess.run(  # noqa: S603  (fixed argv, our own fresh tree)
        ["/usr/sbin/chroot", str(work), "python3", "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True, text=True, check=True).stdout.strip()
    digest = tree_hash(work)
    old = rootfs.with_name(f".{rootfs.name}.old-{os.getpid()}")
    if rootfs.exists():
        os.rename(rootfs, old)
    os.rename(work, rootfs)
    shutil.rmtree(old, ignore_errors=True)
    meta = {"hash": digest, "python": python, "suite": SUITE, "packages": list(PACKAGES),
            "built_at": utcnow().isoformat(), "build_seconds": round(time.monotonic() - started, 1)}
    _meta_path(rootfs).write_text(json.dumps(meta, indent=2))
    echo(f"runtime built in {meta['build_seconds']} s: Python {python}, hash {digest}")
    return RuntimeImage(rootfs=rootfs, hash=digest, python=python)


def _prepare(root: Path) -> None:
    """Make the tree fit to be a read-only root: mount points, the sandbox user, no setuid, no caches."""
    for point in MOUNT_POINTS:
        (root / point).mkdir(parents=True, exist_ok=True)
    with open(root / "etc" / "passwd", "a") as fh:
        fh.write(f"govapp:x:{SANDBOX_UID}:{SANDBOX_UID}:sandboxed app:/tmp:/usr/sbin/nologin\n")
    with open(root / "etc" / "group", "a") as fh:
        fh.write(f"govapp:x:{SANDBOX_UID}:\n")
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (root / cache).glob("*"):
            if entry.is_file() and not entry.is_symlink():
                entry.unlink()
    # Defence in depth: no-new-privileges already neutralises setuid; without the bits there is nothing to probe.
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            st = path.lstat()
            if stat.S_ISREG(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
                os.chmod(path, st.st_mode & ~(stat.S_ISUID | stat.S_ISGID))


def docker_import(image: RuntimeImage, client) -> str:
    """Import the rootfs into Docker as ``govmarket-runtime:<hash>`` with the hash and Python version as labels,
    unless it is there with them (an image imported before the labels existed is imported again); returns the tag."""
    import docker.errors

    labels = {HASH_LABEL: image.hash, PYTHON_LABEL: image.python}
    try:
        found = client.images.get(image.docker_tag)
        if all((found.labels or {}).get(k) == v for k, v in labels.items()):
            return image.docker_tag
    except docker.errors.ImageNotFound:
        pass
    if image.rootfs is None:
        raise ServiceUnavailable(f"the runtime image {image.docker_tag} is not in Docker and there is no rootfs to import")
    tar = subprocess.Popen(["/usr/bin/tar", "--numeric-owner", "-C", str(image.rootfs), "-cf", "-", "."],  # noqa: S603
                           stdout=subprocess.PIPE)
    try:
        repository, tag = image.docker_tag.split(":")
        client.api.import_image(src=tar.stdout, repository=repository, tag=tag, stream_src=True,
                                changes=[f"LABEL {k}={v}" for k, v in labels.items()])
    finally:
        tar.stdout.close()
        if tar.wait() != 0:
            raise ServiceUnavailable(f"packing {image.rootfs} for docker import failed (tar exit {tar.returncode})")
    docker_image(image.docker_tag, client)  # raises if the import did not produce it, labelled
    return image.docker_tag


def docker_image(tag: str, client) -> RuntimeImage:
    """The runtime imported in Docker as ``tag`` (``govmarket-runtime:<first 16 of the hash>``), without its rootfs.

    The full hash comes from the image's label and must agree with the tag, so a report never names a runtime
    other than the one that ran; ServiceUnavailable when the image is missing, unlabelled or inconsistent."""
    import docker.errors

    how = ("import it with `govmarket sandbox build-runtime` where the rootfs is built and copy it to this "
           "Docker engine (`docker save TAG | docker load`); docs/operations.md, \"Sandbox hosts\"")
    repository, _, short = tag.partition(":")
    if repository != IMAGE_REPOSITORY or len(short) != 16:
        raise ServiceUnavailable(f"GOVMARKET_RUNTIME_IMAGE must be {IMAGE_REPOSITORY}:<16 hex digits of the runtime "
                                 f"hash>, as `govmarket sandbox build-runtime` prints it; got {tag!r}")
    try:
        labels = client.images.get(tag).labels or {}
    except docker.errors.ImageNotFound as exc:
        raise ServiceUnavailable(f"the runtime image {tag} is not in Docker; {how}") from exc
    digest, python = labels.get(HASH_LABEL, ""), labels.get(PYTHON_LABEL, "")
    if not digest or not python:
        raise ServiceUnavailable(f"the runtime image {tag} has no {HASH_LABEL}/{PYTHON_LABEL} labels (imported by an "
                                 f"older version); {how}")
    if not digest.startswith(short):
        raise ServiceUnavailable(f"the runtime image {tag} is labelled with hash {digest}, which its tag does not match")
    return RuntimeImage(rootfs=None, hash=digest, python=python)
