"""The bubblewrap backend: every namespace unshared (network included), a new session, a cleared
environment, the runtime rootfs bound read-only as ``/``, a size-limited ``/tmp``; and cgroup (v1)
limits for memory (+swap), pids and CPU on a cgroup the whole process tree is born into.

As root, the worker drops to the unprivileged sandbox uid (setpriv, no new privileges, empty
capability sets) before bwrap runs, so the app is that uid on the host too; bwrap then creates an
unprivileged user namespace and forbids nested ones (``--disable-userns``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

from core.errors import ServiceUnavailable
from sandbox.backends import (
    CapturedOutput,
    ProcessSandbox,
    ResourceEvents,
    SandboxSpec,
    owner_alive,
    owner_key,
)
from sandbox.runtime import SANDBOX_UID, RuntimeImage

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids", "cpu")
PARENT = "govmarket"
CFS_PERIOD_US = 100_000


def _write(path: Path, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


class BwrapSandbox(ProcessSandbox):
    def __init__(self, spec: SandboxSpec, cgroups: dict[str, Path], proc: subprocess.Popen, output: CapturedOutput):
        super().__init__(spec.run_id, proc, output)
        self.spec = spec
        self.cgroups = cgroups

    def events(self) -> ResourceEvents:
        oom = pids = False
        try:
            control = (self.cgroups["memory"] / "memory.oom_control").read_text()
            oom = any(line.split()[0] == "oom_kill" and int(line.split()[1]) > 0 for line in control.splitlines())
            pids = int((self.cgroups["pids"] / "pids.events").read_text().split()[1]) > 0
        except OSError:
            pass
        return ResourceEvents(oom_killed=oom, pids_limited=pids, exit_code=self.proc.poll())

    def owns_process(self, pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/cgroup") as fh:
                lines = fh.read().splitlines()
        except OSError:
            return False
        want = "/" + str(self.cgroups["pids"].relative_to(CGROUP_ROOT / "pids"))
        return any(line.split(":", 2)[1] == "pids" and line.split(":", 2)[2] == want for line in lines)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.proc.poll() is None:
            # Kill the sandbox from the inside out: bwrap's own process (our child) reaps its namespace's init and
            # exits, so no zombie is left to a host init that may not reap.
            _kill_members(self.cgroups, spare=self.proc.pid)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)
        _kill_and_remove(self.cgroups)
        _reap_orphans()
        self._output.join()


def _become_subreaper() -> None:
    # bwrap's namespace init can outlive bwrap's own process for a moment; as a subreaper the worker inherits it
    # and reaps it (_reap_orphans) instead of leaving a zombie to a host init that may never reap.
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _reap_orphans() -> None:
    """Reap zombies of the sandbox uid that were re-parented to this worker."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            if fields[0] == "Z" and int(fields[1]) == me and os.stat(f"/proc/{entry}").st_uid == SANDBOX_UID:
                os.waitpid(int(entry), os.WNOHANG)
        except (OSError, ChildProcessError, IndexError, ValueError):
            continue


def _kill_members(cgroups: dict[str, Path], spare: int) -> None:
    try:
        pids = [int(p) for p in (cgroups["pids"] / "cgroup.procs").read_text().split()]
    except OSError:
        return
    for pid in pids:
        if pid != spare:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _kill_and_remove(cgroups: dict[str, Path]) -> None:
    """SIGKILL every process in the sandbox's cgroups until they are empty, then remove them."""
    procs = cgroups["pids"] / "cgroup.procs" if "pids" in cgroups else None
    deadline = time.monotonic() + 10
    while procs is not None and time.monotonic() < deadline:
        try:
            pids = [int(p) for p in procs.read_text().split()]
        except OSError:
            break
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    for path in cgroups.values():
        for _ in range(50):
            try:
                path.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)


class BwrapBackend:
    name = "bwrap"

    def __init__(self, image: RuntimeImage):
        self.image = image
        self.bwrap = shutil.which("bwrap") or "/usr/bin/bwrap"
        self.setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        self.unshare = shutil.which("unshare") or "/usr/bin/unshare"
        _become_subreaper()

    def image_hash(self) -> str:
        return self.image.hash

    def check(self) -> None:
        if not os.path.exists(self.bwrap):
            raise ServiceUnavailable("bubblewrap is not installed; apt-get install bubblewrap or use the docker backend")
        for ctrl in CONTROLLERS:
            base = CGROUP_ROOT / ctrl
            if not (base / "cgroup.procs").exists():
                raise ServiceUnavailable(
                    f"the cgroup v1 '{ctrl}' controller is not mounted at {base}; the bwrap backend will not run apps "
                    "without memory, pids and CPU limits — mount it or use the docker backend")
            if not os.access(base, os.W_OK):
                raise ServiceUnavailable(
                    f"{base} is not writable by this worker (uid {os.geteuid()}); the bwrap backend needs to create "
                    "cgroups to limit apps — run the sandbox worker as root, delegate the cgroup, or use docker")
        if os.geteuid() == 0 and not (os.path.exists(self.setpriv) and os.path.exists(self.unshare)):
            raise ServiceUnavailable("setpriv/unshare (util-linux) are missing; they drop the sandbox to an unprivileged uid")

    def _make_cgroups(self, spec: SandboxSpec) -> dict[str, Path]:
        name = f"{owner_key()}-{spec.run_id}-{uuid.uuid4().hex[:6]}"
        limits = spec.limits
        cgroups: dict[str, Path] = {}
        try:
            for ctrl in CONTROLLERS:
                path = CGROUP_ROOT / ctrl / PARENT / name
                path.mkdir(parents=True)
                cgroups[ctrl] = path
            mem = cgroups["memory"]
            _write(mem / "memory.limit_in_bytes", str(limits.memory_bytes))
            if (mem / "memory.memsw.limit_in_bytes").exists():
                _write(mem / "memory.memsw.limit_in_bytes", str(limits.memory_bytes))
            _write(mem / "memory.swappiness", "0")
            _write(cgroups["pids"] / "pids.max", str(limits.pids))
            _write(cgroups["cpu"] / "cpu.cfs_period_us", str(CFS_PERIOD_US))
            _write(cgroups["cpu"] / "cpu.cfs_quota_us", str(int(limits.cpus * CFS_PERIOD_US)))
            applied = (int((mem / "memory.limit_in_bytes").read_text()),
                       (cgroups["pids"] / "pids.max").read_text().strip(),
                       int((cgroups["cpu"] / "cpu.cfs_quota_us").read_text()))
            if applied[0] > limits.memory_bytes or applied[1] != str(limits.pids) or applied[2] <= 0:
                raise ServiceUnavailable(f"the kernel did not apply the sandbox limits (read back {applied}); refusing to run")
        except OSError as exc:
            _kill_and_remove(cgroups)
            raise ServiceUnavailable(f"could not create the sandbox cgroups ({exc}); refusing to run without limits") from exc
        return cgroups

    def _argv(self, spec: SandboxSpec, uid: int, rootfs: Path) -> list[str]:
        args = [self.bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--new-session",
                "--die-with-parent", "--clearenv", "--cap-drop", "ALL", "--hostname", "sandbox",
                "--uid", str(uid), "--gid", str(uid),
                "--ro-bind", str(rootfs), "/", "--proc", "/proc", "--dev", "/dev",
                "--size", str(spec.limits.tmp_bytes), "--tmpfs", "/tmp"]  # noqa: S108  (inside the sandbox)
        for mount in spec.mounts:
            args += ["--bind" if mount.writable else "--ro-bind", str(mount.host), mount.target]
        for key, value in spec.env.items():
            args += ["--setenv", key, value]
        args += ["--chdir", spec.workdir, "--", *spec.argv]
        return args

    def start(self, spec: SandboxSpec) -> BwrapSandbox:
        cgroups = self._make_cgroups(spec)
        procs = [str(cgroups[c] / "cgroup.procs") for c in CONTROLLERS]
        if os.geteuid() == 0:
            # The rootfs may sit where the sandbox uid cannot traverse (root's ~/.cache): bind it onto a mount
            # point in the run's own directory, inside a private mount namespace that dies with the sandbox —
            # nothing is mounted on the host. Then drop to the sandbox uid with no capabilities at all.
            uid = SANDBOX_UID
            rootfs = spec.host_dir / "rootfs"
            rootfs.mkdir(mode=0o755, exist_ok=True)
            argv = [self.unshare, "--mount", "--propagation", "private", "/bin/sh", "-c",
                    'set -e; for p in "$1" "$2" "$3"; do echo $$ > "$p"; done; mount --bind "$4" "$5"; shift 5; exec "$@"',
                    "govmarket-sandbox", *procs, str(self.image.rootfs), str(rootfs),
                    self.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                    "--bounding-set=-all", "--no-new-privs", "--"]
        else:
            uid, rootfs = os.geteuid(), self.image.rootfs
            argv = ["/bin/sh", "-c", 'set -e; for p in "$1" "$2" "$3"; do echo $$ > "$p"; done; shift 3; exec "$@"',
                    "govmarket-sandbox", *procs]
        # The shell joins the cgroups first, so bwrap and everything it starts are born inside them.
        argv += self._argv(spec, uid, rootfs)
        output = CapturedOutput(spec.limits.log_keep_bytes)
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,  # noqa: S603
                                    stderr=subprocess.STDOUT, start_new_session=True, env={"PATH": "/usr/bin:/bin"})
        except OSError as exc:
            _kill_and_remove(cgroups)
            raise ServiceUnavailable(f"could not start bubblewrap: {exc}") from exc
        output.follow_pipe(proc.stdout)  # type: ignore[arg-type]
        return BwrapSandbox(spec, cgroups, proc, output)

    def sweep(self) -> list[str]:
        removed = []
        parents = {ctrl: CGROUP_ROOT / ctrl / PARENT for ctrl in CONTROLLERS}
        names = set()
        for path in parents.values():
            if path.is_dir():
                names |= {p.name for p in path.iterdir() if p.is_dir()}
        for name in sorted(names):
            if owner_alive(name.split("-", 1)[0]):
                continue
            _kill_and_remove({ctrl: parents[ctrl] / name for ctrl in CONTROLLERS})
            removed.append(f"cgroup {PARENT}/{name}")
        return removed
