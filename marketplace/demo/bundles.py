"""The sample apps packaged with the SDK (`govapp package`), as a vendor would before uploading.

Packaging collects wheels from PyPI, so it is slow and needs the network; the bundles are kept in the instance
folder under a hash of what goes into them (the app's folder and the SDK's source), so later starts reuse them
and a changed app or SDK is packaged again."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from core.errors import ServiceUnavailable

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SKIPPED = {"__pycache__", "dist", "wheels", ".pytest_cache"}
PACKAGE_TIMEOUT_S = 600


def _tree_digest(digest, folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part in SKIPPED for part in rel.parts) or not path.is_file():
            continue
        digest.update(rel.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")


def source_hash(folder: str) -> str:
    """sha256 over the app's files and the SDK's source: what decides the bundle's contents."""
    digest = hashlib.sha256()
    _tree_digest(digest, EXAMPLES / folder)
    _tree_digest(digest, ROOT / "sdk" / "govapp")
    return digest.hexdigest()


def govapp_command() -> str:
    """The `govapp` CLI installed next to this Python (the venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("govapp")
    found = str(beside) if beside.exists() else shutil.which("govapp")
    if not found:
        raise ServiceUnavailable("the govapp CLI is not installed; run `make install` (it installs ./sdk[cli])")
    return found


def cached_bundle(cache_dir: Path, folder: str) -> Path:
    return cache_dir / f"{folder}-{source_hash(folder)[:16]}.tar.gz"


def package(cache_dir: Path, folder: str) -> tuple[Path, bool]:
    """The bundle of examples/<folder>: from the cache, or built with `govapp package` (True when built)."""
    target = cached_bundle(cache_dir, folder)
    if target.is_file():
        return target, False
    cache_dir.mkdir(parents=True, exist_ok=True)
    for stale in cache_dir.glob(f"{folder}-*.tar.gz"):  # an older build of a changed app or SDK
        stale.unlink()
    partial = target.with_suffix(f".{os.getpid()}.part")  # two processes may package the same app at once
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    try:
        result = subprocess.run([govapp_command(), "package", "--out", str(partial), str(EXAMPLES / folder)],  # noqa: S603
                                capture_output=True, text=True, timeout=PACKAGE_TIMEOUT_S, env=env, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ServiceUnavailable(f"`govapp package examples/{folder}` took over {PACKAGE_TIMEOUT_S} s; "
                                 "is PyPI reachable?") from exc
    if result.returncode != 0:
        raise ServiceUnavailable(f"`govapp package examples/{folder}` failed (it needs PyPI for the wheels the "
                                 f"first time):\n{(result.stderr or result.stdout)[-2000:]}")
    partial.replace(target)
    return target, True
