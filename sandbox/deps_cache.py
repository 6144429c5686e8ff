"""Installed bundle dependencies kept on a serving host, so an app's instance starts without installing its wheels
again (docs/gateway.md, "Served instances").

The first start of a bundle installs its wheels inside the sandbox as always (pip, no network, the deps area's
caps), with their bytecode compiled; what pip wrote is then copied here, under the bundle's sha256 and the runtime
image's hash. Every later start of that bundle on this host — after idling out, a crash, a restart of the host —
copies it into the new run's deps area instead of running pip, and the app imports precompiled modules. What is
kept is exactly what a fresh install would produce (same wheels, same pip, same interpreter), and the app still
sees it only read-only.

Only plain files and folders are kept: an install that produced anything else (a link, a device) is not cached and
simply installs again next time. The folder is the host's own (mode 0700); at most ``entries`` bundles are kept,
the least recently used going first.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
import threading
from pathlib import Path

log = logging.getLogger(__name__)

ENTRIES = 32  # bundles kept per host; one entry is at most the deps area's cap (HarnessLimits.deps_bytes)


class DepsCache:
    """Installed deps by (bundle sha256, runtime image hash); thread-safe within one process, and safe between
    processes sharing the folder (an entry appears by one rename, complete or not at all)."""

    def __init__(self, root: Path, entries: int = ENTRIES):
        self.root = Path(root)
        self.entries = max(1, int(entries))
        self._lock = threading.Lock()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)

    @staticmethod
    def key(bundle_sha256: str, image_hash: str) -> str:
        if not (bundle_sha256.isalnum() and image_hash.isalnum()):
            raise ValueError("bundle and image hashes are hex digests")
        return f"{bundle_sha256}-{image_hash[:16]}"

    def restore(self, key: str, target: Path) -> bool:
        """Copy the kept deps of ``key`` into ``target`` (an empty deps area); False when none are kept."""
        entry = self.root / key
        if not entry.is_dir():
            return False
        try:
            shutil.copytree(entry, target, symlinks=True, dirs_exist_ok=True)  # copy2: mtimes kept, .pyc stay valid
        except OSError as exc:
            log.warning("serving: the kept deps %s could not be copied (%s); installing again", key, exc)
            for child in target.iterdir():  # leave the deps area as empty as it was for pip
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink()
            return False
        os.utime(entry)  # recently used
        return True

    def store(self, key: str, source: Path) -> bool:
        """Keep what an install wrote to ``source``; False (nothing kept) when it holds anything but plain files
        and folders. Evicts the least recently used entries beyond ``entries``."""
        entry = self.root / key
        if entry.is_dir():
            return True
        for path in source.rglob("*"):
            mode = path.lstat().st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                log.warning("serving: not keeping the deps of %s: %s is not a plain file or folder", key,
                            path.relative_to(source))
                return False
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".store-"))
        try:
            shutil.copytree(source, tmp, symlinks=True, dirs_exist_ok=True)
            try:
                tmp.rename(entry)
            except OSError:  # another process kept the same deps first
                return entry.is_dir()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._evict()
        return True

    def _evict(self) -> None:
        with self._lock:
            kept = sorted((p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                          key=lambda p: p.stat().st_mtime, reverse=True)
            for old in kept[self.entries:]:
                shutil.rmtree(old, ignore_errors=True)
                log.info("serving: dropped the kept deps %s (over %d entries)", old.name, self.entries)

    def keys(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
