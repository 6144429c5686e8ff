"""The platform's packaging is honest: installed alone, from the lock, every one of its modules imports.

A scratch venv gets the platform (and the suite format it declares) built from the folders as wheels, with
only the distributions their pyproject.toml files declare, at the versions requirements/platform.txt locks.
Nothing from the development venv is visible: an import of something undeclared fails here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLATFORM_PACKAGES = ("core", "marketplace", "sandbox", "billing", "mockdata", "govsuite")

_IMPORT_ALL = """
import importlib, pkgutil, sys
failed = []
for name in sys.argv[1:]:
    package = importlib.import_module(name)
    for info in pkgutil.walk_packages(package.__path__, name + "."):
        if info.name.endswith(".__main__"):  # running it is `python -m`, not an import
            continue
        try:
            importlib.import_module(info.name)
        except Exception as exc:  # report every one, not only the first
            failed.append(f"{info.name}: {type(exc).__name__}: {exc}")
for name in ("govapp", "faker"):
    try:
        importlib.import_module(name)
        failed.append(f"{name} is installed although the platform does not declare it")
    except ModuleNotFoundError:
        pass
# Package data: the word lists mock data is generated from, the suite format's schema.
from mockdata.vocabulary import wordlists_sha256
from govsuite import suite_schema
suite_schema()
print(wordlists_sha256())
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def locked_versions(lock: Path) -> str:
    """The lock's `name==version ; marker` lines without hashes: pip constraints for a resolution of our own."""
    pins = re.findall(r"^([A-Za-z0-9_.\-]+==[^\s;\\]+(?:\s*;[^\\\n]+)?)", lock.read_text(), flags=re.MULTILINE)
    return "\n".join(pin.strip() for pin in pins) + "\n"


def test_the_lock_pins_every_distribution_with_hashes():
    for lock in ("platform.txt", "dev.txt"):
        text = (ROOT / "requirements" / lock).read_text()
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2] if text.startswith("#") else text)
        for entry in entries:
            if not entry.strip() or entry.lstrip().startswith("#"):
                continue
            assert re.match(r"^[A-Za-z0-9_.\-]+==\S+", entry), f"{lock}: not an exact pin: {entry[:80]}"
            assert "--hash=sha256:" in entry, f"{lock}: no hash for {entry.split()[0]}"
        assert not re.search(r"^-e |file:", text, flags=re.MULTILINE), f"{lock} names a local path"


def test_the_locks_agree_on_every_shared_version():
    def pins(name: str) -> dict[str, str]:
        text = locked_versions(ROOT / "requirements" / name)
        return {line.split(";")[0].strip(): line for line in text.splitlines()}

    platform, dev = pins("platform.txt"), pins("dev.txt")
    assert set(platform) <= set(dev), set(platform) - set(dev)


@pytest.mark.slow
def test_the_platform_alone_installs_from_the_lock_and_imports_every_module(tmp_path):
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(locked_versions(ROOT / "requirements" / "platform.txt"))
    # Build isolation would fetch the newest setuptools; the locked one builds our wheels instead.
    setuptools = next(line for line in constraints.read_text().splitlines() if line.startswith("setuptools=="))
    subprocess.run([python, "-m", "pip", "install", "-q", setuptools], check=True, cwd=tmp_path)
    # Built from a copy of the sources: setuptools keeps build/ in the tree it builds, and a stale build/lib
    # there would put modules that no longer exist (or miss new ones) into the wheel.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "*.egg-info", "instance", "node_modules", "mutants", "__pycache__"))
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-build-isolation", "-c", str(constraints),
                    str(source / "suite"), str(source)], check=True, cwd=tmp_path)
    subprocess.run([python, "-m", "pip", "check"], check=True, cwd=tmp_path)
    # Run outside the source tree, so every import comes from the installed wheels.
    result = subprocess.run([python, "-I", "-c", _IMPORT_ALL, *PLATFORM_PACKAGES], capture_output=True, text=True,
                            cwd=tmp_path, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    from mockdata.specs import CITIZENS_V1

    assert result.stdout.splitlines()[0] == CITIZENS_V1.wordlists_sha256

