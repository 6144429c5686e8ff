"""The size-capped areas of a run: tmpfs mounts in its run directory, so that nothing an app writes lands on the
host's disk (where the database and the bundle store live).

A run has two places the app can write to that the host also reaches: its socket folder (``sock/``, at
``/run/govapp`` in the sandbox, where the app creates ``app.sock``) and, while its wheels install, ``deps/``.
Each is its own tmpfs with a size and an inode cap; ``sock/`` is also noexec. Both backends bind-mount them
from the host (bwrap directly; dockerd resolves the bind on the host, see ``sandbox.backends.docker``), so the
cap holds for either. Mounting takes root; a run that cannot have its areas is refused, never run uncapped.

A worker killed mid-run leaves its mounts behind; ``unmount_under`` (called by the sweep before it removes a
run directory) takes them away.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from core.errors import ServiceUnavailable


@dataclass(frozen=True)
class Usage:
    size_bytes: int
    used_bytes: int
    inodes: int
    used_inodes: int

    @property
    def full(self) -> bool:
        """No room left for another page or another file (what a write that hit the cap leaves behind)."""
        return self.size_bytes - self.used_bytes < 8192 or self.inodes - self.used_inodes < 2


def mount_tmpfs(path: Path, *, size_bytes: int, inodes: int, mode: int, uid: int = 0, noexec: bool = False) -> None:
    """Mount a fresh tmpfs on the (existing, empty) directory ``path``; ServiceUnavailable if it cannot be done."""
    options = [f"size={size_bytes}", f"nr_inodes={inodes}", f"mode={mode:o}", f"uid={uid}", f"gid={uid}", "nosuid",
               "nodev", *(["noexec"] if noexec else [])]
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "govapp-run", str(path)],  # noqa: S603,S607
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ServiceUnavailable(
            f"could not mount the size-capped area {path} ({proc.stderr.strip() or proc.returncode}); the sandbox worker "
            "must be root (in a container: CAP_SYS_ADMIN and the runs folder shared with the host, docs/operations.md "
            "\"Sandbox hosts\") — refusing to run an app that could fill the host's disk")


def usage(path: Path) -> Usage | None:
    """How full the filesystem at ``path`` is, or None if it cannot be read."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return Usage(st.f_blocks * st.f_frsize, (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_files,
                 st.f_files - st.f_ffree)


def mounts_under(path: Path) -> list[Path]:
    """Mount points at or below ``path`` (from /proc/self/mountinfo), deepest first."""
    root = os.path.realpath(path)
    points = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            point = line.split()[4].replace("\\040", " ")
            if point == root or point.startswith(root + "/"):
                points.append(Path(point))
    return sorted(set(points), key=lambda p: len(p.parts), reverse=True)


def shared(path: Path) -> bool | None:
    """Whether the mount at ``path`` propagates to its peers (``shared:N`` in mountinfo); None if ``path`` is not a
    mount point. A worker in a container needs its areas shared, or dockerd, on the host, would not see them."""
    point = os.path.realpath(path)
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split(" - ", 1)[0].split()
            if fields[4] == point:
                return any(f.startswith("shared:") for f in fields[6:])
    return None


def unmount_under(path: Path) -> list[str]:
    """Detach every mount at or below ``path`` (lazily: a socket still bound in one does not keep it); returns them."""
    done = []
    for point in mounts_under(path):
        proc = subprocess.run(["umount", "--lazy", str(point)], capture_output=True, check=False)  # noqa: S603,S607
        if proc.returncode == 0:
            done.append(str(point))
    return done
