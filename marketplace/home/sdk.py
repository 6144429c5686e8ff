"""The SDK, downloadable from the platform: the wheels of ``govapp-sdk`` and the suite format it needs
(``govapp-suite``), built once from the platform's own sources into the instance folder and served with their
versions, so a vendor installs exactly what the platform certifies with."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from core.errors import NotFound, ServiceUnavailable

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {"govapp-sdk": ROOT / "sdk", "govapp-suite": ROOT / "suite"}
_build_lock = threading.Lock()


@dataclass(frozen=True)
class Wheel:
    distribution: str
    version: str
    filename: str
    size: int


def versions() -> dict[str, str]:
    """The installed versions of the SDK distributions (what the platform itself runs)."""
    return {name: importlib.metadata.version(name) for name in SOURCES}


def wheels(instance_path: str) -> list[Wheel]:
    """The SDK's wheels for the installed versions, built on first use into ``<instance>/sdk/<version>/``.
    Raises ServiceUnavailable when the sources are not on this host (a platform installed from wheels)."""
    found = versions()
    folder = Path(instance_path) / "sdk" / "-".join(f"{n}-{v}" for n, v in sorted(found.items()))
    with _build_lock:
        if not folder.is_dir():
            missing = [str(p) for p in SOURCES.values() if not (p / "pyproject.toml").exists()]
            if missing:
                raise ServiceUnavailable(f"the SDK sources are not on this host ({', '.join(missing)}); "
                                         "the operator can copy the wheels into the instance's sdk folder")
            tmp = tempfile.mkdtemp(dir=instance_path, prefix=".sdk-build-")
            try:
                # Our own interpreter building our own source folders: no outside input reaches the command.
                subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",  # noqa: S603
                                "--no-build-isolation", "-w", tmp, *map(str, SOURCES.values())],
                               check=True, timeout=300, capture_output=True)
                folder.parent.mkdir(parents=True, exist_ok=True)
                Path(tmp).rename(folder)  # complete or absent: never half a build
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    result = []
    for path in sorted(folder.glob("*.whl")):
        name = path.name.split("-")[0].replace("_", "-")
        result.append(Wheel(name, found.get(name, "?"), path.name, path.stat().st_size))
    return result


def wheel_path(instance_path: str, filename: str) -> Path:
    """The file of one of ``wheels``; NotFound for any other name."""
    for wheel in wheels(instance_path):
        if wheel.filename == filename:
            folder = Path(instance_path) / "sdk" / "-".join(f"{n}-{v}" for n, v in sorted(versions().items()))
            return folder / filename
    raise NotFound(f"no SDK file {filename!r}; the SDK page lists the files")
