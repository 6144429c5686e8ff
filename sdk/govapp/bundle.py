"""`govapp package`: the app's manifest, its source and wheels for every dependency, as one reproducible .tar.gz.

The sandbox has no network, so `wheels/` must hold every distribution the app imports — govapp-sdk itself
included — for the sandbox's runtime (CPython of `runtime` on manylinux). The archive is reproducible:
entries sorted, fixed mtimes, uid/gid 0, normalised modes, a gzip header without time or name; packaging
the same folder twice gives the same bytes (and the same sha256 the platform stores it under).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["BundleError", "Manifest", "build_bundle", "collect_sources", "load_manifest"]

# 1980-01-01, the earliest time a zip (wheel) can hold; used for every entry.
FIXED_MTIME = 315532800
MANIFEST = "govapp.toml"
EXCLUDED_DIRS = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "env", "dist", "build", "wheels",
                 ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox", ".idea", ".vscode", "node_modules"}
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".tar.gz", ".whl", ".swp")
EXCLUDED_NAMES = {".DS_Store", "Thumbs.db", ".env"}
REQUIRED_KEYS = ("name", "version", "order", "entrypoint", "runtime", "scopes")
_SDK_REQUIREMENT = re.compile(r"^\s*govapp[-_]sdk\b", re.IGNORECASE)


class BundleError(Exception):
    """The app folder cannot be packaged; the message says what to change."""


@dataclass(frozen=True)
class Manifest:
    """An app's `govapp.toml`: its name, version, the order it answers, the WSGI entrypoint (`module:app`), the
    runtime and the department scopes it declares. `load_manifest` reads and checks one."""
    name: str
    version: str
    order: str
    entrypoint: str
    runtime: str
    scopes: list[str]
    raw: dict

    @property
    def python_version(self) -> str:
        return self.runtime.removeprefix("python")

    @property
    def fields(self) -> list[str]:
        """The citizen's department data the app reads: `fields` (required) then `optional_fields`."""
        declared = self.required_fields
        return declared + [str(f) for f in (self.raw.get("optional_fields") or []) if str(f) not in declared]

    @property
    def required_fields(self) -> list[str]:
        """The department data the app cannot work without (`fields`); a citizen may withhold the optional ones."""
        return [str(f) for f in (self.raw.get("fields") or [])]


def load_manifest(app_dir: Path) -> Manifest:
    """Read and check govapp.toml."""
    path = app_dir / MANIFEST
    if not path.is_file():
        raise BundleError(f"{path} is missing: run `govapp init` or write it (name, version, order, entrypoint, runtime, scopes)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise BundleError(f"{path} is not valid TOML: {exc}") from exc
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise BundleError(f"{path} lacks {', '.join(missing)}")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", str(data["name"])):
        raise BundleError(f"{path}: name {data['name']!r} may hold only letters, digits, '.', '_' and '-'")
    if not re.fullmatch(r"\d+(\.\d+){0,3}([a-z0-9.+-]*)", str(data["version"])):
        raise BundleError(f"{path}: version {data['version']!r} must look like 1.0.0")
    if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*(\(\))?", str(data["entrypoint"])):
        raise BundleError(f"{path}: entrypoint {data['entrypoint']!r} must look like 'module:app'")
    if not re.fullmatch(r"python3\.\d+", str(data["runtime"])):
        raise BundleError(f"{path}: runtime {data['runtime']!r} must look like 'python3.11'")
    if not isinstance(data["scopes"], list) or not all(isinstance(s, str) for s in data["scopes"]):
        raise BundleError(f"{path}: scopes must be a list of department API scopes such as [\"person.read\"]")
    for key in ("fields", "optional_fields"):
        if not isinstance(data.get(key, []), list) or not all(isinstance(f, str) for f in data.get(key, [])):
            raise BundleError(f"{path}: {key} must be a list of department data fields such as [\"name\", \"address\"] "
                              "(docs/vendors.md lists them)")
    return Manifest(str(data["name"]), str(data["version"]), str(data["order"]), str(data["entrypoint"]),
                    str(data["runtime"]), list(data["scopes"]), data)


def collect_sources(app_dir: Path) -> list[Path]:
    """The app's files (relative, sorted), without caches, environments and build output.

    Refuses symlinks and anything that is not a regular file or directory: a bundle holds only what is
    inside the app folder.
    """
    root = app_dir.resolve()
    files: list[Path] = []
    for current, dirs, names in os.walk(root, followlinks=False):
        here = Path(current)
        for name in list(dirs):
            path = here / name
            if path.is_symlink():
                rel = path.relative_to(root)
                raise BundleError(f"{rel} is a symbolic link; bundles may not contain links — copy the files instead")
            if name in EXCLUDED_DIRS or name.endswith(".egg-info"):
                dirs.remove(name)
        dirs.sort()
        for name in sorted(names):
            path = here / name
            rel = path.relative_to(root)
            if name in EXCLUDED_NAMES or name.endswith(EXCLUDED_SUFFIXES):
                continue
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise BundleError(f"{rel} is a symbolic link; bundles may not contain links — copy the file instead")
            if not stat.S_ISREG(mode):
                raise BundleError(f"{rel} is not a regular file (socket, device or pipe); remove it from the app folder")
            files.append(rel)
    return sorted(files, key=lambda p: p.as_posix())


def sdk_source() -> str:
    """Where pip can build the running govapp-sdk from: the source folder this module was imported from (a
    checkout on PYTHONPATH must put its own SDK in the bundle, not the one installed beside it), else the installed
    distribution's local source folder or the wheel it came from."""
    running = Path(__file__).resolve().parents[1]
    project = running / "pyproject.toml"
    if project.is_file() and re.search(r'^name\s*=\s*"govapp-sdk"', project.read_text(), re.MULTILINE):
        return str(running)
    dist = metadata.distribution("govapp-sdk")
    direct = dist.read_text("direct_url.json")
    if direct:
        url = json.loads(direct).get("url", "")
        if url.startswith("file://"):
            path = Path(unquote(urlsplit(url).path))
            if path.exists():
                return str(path)
    override = os.environ.get("GOVAPP_SDK_WHEEL")
    if override and Path(override).is_file():
        return override
    raise BundleError("cannot find a source or wheel of the installed govapp-sdk to put in the bundle; "
                      "set GOVAPP_SDK_WHEEL to the govapp_sdk-*.whl you installed the SDK from")


def _can_build_in_place() -> bool:
    """True if this environment can build the SDK's wheel without fetching build tools (faster, offline)."""
    try:
        version = metadata.version("setuptools")
    except metadata.PackageNotFoundError:
        return False
    major, minor = (int(x) for x in re.findall(r"\d+", version)[:2])
    has_bdist_wheel = (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None
    return (major, minor) >= (77, 0) and has_bdist_wheel


def _platform_tags(arch: str) -> list[str]:
    # Debian's glibc is recent; accept every manylinux wheel down to manylinux2014.
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(39, 16, -1)]
    return [*tags, f"manylinux2014_{arch}"]


def _pip(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BundleError(f"pip {args[0]} failed:\n{(result.stderr or result.stdout)[-3000:]}")


def build_wheels(app_dir: Path, manifest: Manifest, dest: Path, *, arch: str = "x86_64",
                 pip_args: list[str] | None = None) -> list[str]:
    """Fill `dest` with wheels for govapp-sdk and everything in requirements.txt, for the sandbox's runtime."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(FIXED_MTIME), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    sdk_dir = dest.parent / "sdk-wheel"
    sdk_dir.mkdir()
    source = sdk_source()
    if source.endswith(".whl"):
        sdk_wheel = Path(source)
    else:
        isolation = ["--no-build-isolation"] if _can_build_in_place() else []
        # Build from a private copy: pip builds in the source tree, and two packagings at once (or a read-only
        # install) would share or fail on its build/ folder.
        private = dest.parent / "sdk-src"
        shutil.copytree(source, private, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
        _pip(["wheel", "--no-deps", *isolation, "--wheel-dir", str(sdk_dir), str(private)], env)
        sdk_wheel = next(sdk_dir.glob("*.whl"))
    requirements = []
    req_file = app_dir / "requirements.txt"
    if req_file.exists():
        for line in req_file.read_text(encoding="utf-8").splitlines():
            # govapp-sdk comes from the installed SDK, never from an index.
            if line.strip() and not line.lstrip().startswith("#") and not _SDK_REQUIREMENT.match(line):
                requirements.append(line.strip())
    filtered = dest.parent / "requirements.txt"
    filtered.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    args = ["download", "--dest", str(dest), "--only-binary=:all:", "--python-version", manifest.python_version,
            "--implementation", "cp", "--abi", "cp" + manifest.python_version.replace(".", ""), "--abi", "abi3",
            "--abi", "none"]
    for tag in _platform_tags(arch):
        args += ["--platform", tag]
    args += [*(pip_args or []), str(sdk_wheel), "-r", str(filtered)]
    _pip(args, env)
    return sorted(p.name for p in dest.glob("*.whl"))


def _add(tar: tarfile.TarFile, name: str, data: bytes | None, *, executable: bool = False) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if data is None:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
        return
    info.size = len(data)
    info.mode = 0o755 if executable else 0o644
    tar.addfile(info, io.BytesIO(data))


def write_archive(out: Path, entries: list[tuple[str, Path]]) -> str:
    """Write the reproducible .tar.gz of (archive name, file) entries; returns its sha256."""
    out.parent.mkdir(parents=True, exist_ok=True)
    entries = sorted(entries, key=lambda e: e[0])
    dirs: set[str] = set()
    for name, _ in entries:
        parts = name.split("/")[:-1]
        dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        items: list[tuple[str, Path | None]] = [(d, None) for d in dirs] + list(entries)
        for name, path in sorted(items, key=lambda e: e[0]):
            if path is None:
                _add(tar, name, None)
            else:
                _add(tar, name, path.read_bytes(), executable=bool(path.stat().st_mode & 0o111))
    with out.open("wb") as handle, gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return hashlib.sha256(out.read_bytes()).hexdigest()


def build_bundle(app_dir: Path, out: Path | None = None, *, arch: str = "x86_64",
                 pip_args: list[str] | None = None) -> tuple[Path, str, list[str]]:
    """Package `app_dir`; returns (bundle path, sha256, wheel file names)."""
    app_dir = app_dir.resolve()
    manifest = load_manifest(app_dir)
    sources = collect_sources(app_dir)
    module = manifest.entrypoint.split(":")[0].replace(".", "/")
    if not any(s.as_posix() in (f"{module}.py", f"{module}/__init__.py") for s in sources):
        raise BundleError(f"the entrypoint module {manifest.entrypoint.split(':')[0]!r} is not in {app_dir} "
                          f"(looked for {module}.py and {module}/__init__.py)")
    out = out or app_dir / "dist" / f"{manifest.name}-{manifest.version}.tar.gz"
    with tempfile.TemporaryDirectory(prefix="govapp-package-") as tmp:
        wheel_dir = Path(tmp) / "wheels"
        wheel_dir.mkdir()
        wheels = build_wheels(app_dir, manifest, wheel_dir, arch=arch, pip_args=pip_args)
        entries = [(s.as_posix(), app_dir / s) for s in sources]
        entries += [(f"wheels/{name}", wheel_dir / name) for name in wheels]
        digest = write_archive(out, entries)
    return out, digest, wheels
