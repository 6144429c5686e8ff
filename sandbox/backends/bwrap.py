"""The bubblewrap backend: every namespace unshared (network included), a new session, a cleared
environment, the runtime rootfs bound read-only as ``/``, a size-limited noexec ``/tmp``, a seccomp filter
modelled on Docker's default profile; and cgroup limits (v1 or v2, ``sandbox.cgroups``) for memory (+swap),
pids and CPU on a cgroup the whole process tree is born into.

The worker must be root: it drops to the unprivileged sandbox uid (setpriv, no new privileges, empty
capability sets) before bwrap runs, so the app is that uid on the host too; bwrap then creates an
unprivileged user namespace and forbids nested ones (``--disable-userns``). Root is also what mounts the
run's size-capped areas (``sandbox.areas``) and the sandbox's private ``/tmp``.

Nothing of the host shows inside: bwrap reads its arguments (which name host paths) from a file descriptor
(``--args``) and runs with an empty environment, so the sandbox's pid 1 — bubblewrap's own init, which the
app can see — has neither host paths in its command line nor host variables in its environment; the rootfs
and ``/tmp`` are mounted in a private mount namespace, and the filter refuses ``ptrace`` of anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

from core.errors import ServiceUnavailable
from sandbox import cgroups, seccomp
from sandbox.backends import (
    CapturedOutput,
    CpuTimes,
    ProcessSandbox,
    ResourceEvents,
    SandboxSpec,
    owner_alive,
    owner_key,
)
from sandbox.runtime import SANDBOX_UID, RuntimeImage

# Run by /bin/sh in the sandbox's private mount namespace, as root: join the cgroups (so bwrap and all it starts
# are born inside them), bind the rootfs onto a mount point in the run directory (the sandbox uid may not
# traverse root's home), mount the sandbox's own /tmp (noexec; bwrap's --tmpfs has no such option), then exec
# the rest. Arguments: the number of cgroup.procs files, the files, rootfs source, rootfs mount point, /tmp
# mount point, /tmp size in bytes, the command.
PREPARE = """set -e
n=$1; shift
while [ "$n" -gt 0 ]; do echo $$ > "$1"; shift; n=$((n - 1)); done
mount --bind "$1" "$2"
mount -t tmpfs -o "size=$4,nr_inodes=4096,mode=1777,noexec,nosuid,nodev" govapp-tmp "$3"
shift 4
exec "$@"
"""


class BwrapSandbox(ProcessSandbox):
    def __init__(self, spec: SandboxSpec, cgroup: cgroups.Cgroup, proc: subprocess.Popen, output: CapturedOutput):
        super().__init__(spec.run_id, proc, output)
        self.spec = spec
        self.cgroup = cgroup

    def events(self) -> ResourceEvents:
        counted = self.cgroup.accounting()
        return ResourceEvents(oom_killed=counted.oom_kills > 0, pids_limited=counted.pids_refused > 0,
                              exit_code=self.proc.poll(), cpu_seconds=counted.cpu_seconds)

    def cpu_times(self) -> CpuTimes:
        return CpuTimes(self.cgroup.accounting().cpu_seconds, self.cgroup.runnable_seconds())

    def owns_process(self, pid: int) -> bool:
        return self.cgroup.owns(pid)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.proc.poll() is None:
            # Kill the sandbox from the inside out: bwrap's own process (our child) reaps its namespace's init and
            # exits, so no zombie is left to a host init that may not reap.
            self.cgroup.kill(spare=self.proc.pid)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)
        self.cgroup.remove()
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


class BwrapBackend:
    name = "bwrap"

    def __init__(self, image: RuntimeImage, cgroup_root=cgroups.ROOT):
        self.image = image
        self.cgroup_root = cgroup_root
        self.hierarchy: cgroups.Hierarchy | None = None
        self.bwrap = shutil.which("bwrap") or "/usr/bin/bwrap"
        self.tools = {name: shutil.which(name) or f"/usr/bin/{name}" for name in ("setpriv", "unshare", "prlimit", "env")}
        _become_subreaper()

    def image_hash(self) -> str:
        return self.image.hash

    def check(self) -> None:
        if not os.path.exists(self.bwrap):
            raise ServiceUnavailable("bubblewrap is not installed; apt-get install bubblewrap or use the docker backend")
        if os.geteuid() != 0:
            raise ServiceUnavailable(
                f"the bwrap backend runs as root (this worker is uid {os.geteuid()}): it mounts each run's size-capped "
                "areas and drops every sandbox to an unprivileged uid — run the sandbox worker as root or use docker")
        missing = [path for path in self.tools.values() if not os.path.exists(path)]
        if missing:
            raise ServiceUnavailable(f"{', '.join(missing)} (util-linux) missing: they drop the sandbox to an "
                                     "unprivileged uid and set its limits")
        hierarchy = cgroups.detect(self.cgroup_root)
        if hierarchy is None:
            raise ServiceUnavailable(f"{cgroups.describe_missing(self.cgroup_root)}; the bwrap backend will not run apps "
                                     "without memory, pids and CPU limits — mount them or use the docker backend")
        base = self.cgroup_root if hierarchy.version == 2 else self.cgroup_root / "memory"
        if not os.access(base, os.W_OK):
            raise ServiceUnavailable(
                f"{base} is not writable by this worker; the bwrap backend needs to create cgroups to limit apps — "
                "delegate the cgroup (v2: a writable subtree with memory, pids and cpu) or use docker")
        try:
            seccomp.program()
        except (ImportError, OSError, RuntimeError) as exc:
            raise ServiceUnavailable(f"the seccomp filter cannot be compiled ({exc}); install libseccomp2") from exc
        self.hierarchy = hierarchy

    def _bwrap_args(self, spec: SandboxSpec, rootfs: str, tmp: str, seccomp_fd: int) -> list[str]:
        args = ["--unshare-all", "--unshare-user", "--disable-userns", "--new-session", "--die-with-parent",
                "--clearenv", "--cap-drop", "ALL", "--hostname", "sandbox",
                "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
                "--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev",
                "--bind", tmp, "/tmp",  # noqa: S108  (inside the sandbox)
                "--seccomp", str(seccomp_fd)]
        for mount in spec.mounts:
            args += ["--bind" if mount.writable else "--ro-bind", str(mount.host), mount.target]
        for key, value in spec.env.items():
            args += ["--setenv", key, value]
        return [*args, "--chdir", spec.workdir]

    def start(self, spec: SandboxSpec) -> BwrapSandbox:
        if self.hierarchy is None:
            self.check()
        assert self.hierarchy is not None
        limits = spec.limits
        cgroup = cgroups.create(self.hierarchy, f"{owner_key()}-{spec.run_id}-{uuid.uuid4().hex[:6]}",
                                memory_bytes=limits.memory_bytes, pids=limits.pids, cpus=limits.cpus)
        rootfs, tmp = spec.host_dir / "rootfs", spec.host_dir / f"tmp-{spec.run_id}"
        rootfs.mkdir(mode=0o755, exist_ok=True)
        tmp.mkdir(mode=0o755, exist_ok=True)
        # bwrap's options name host paths: they go through a file descriptor, not its command line (which holds
        # only the command run inside).
        filter_fd = seccomp.memfd()
        args_fd = os.memfd_create("govmarket-bwrap-args", 0)
        os.write(args_fd, b"\0".join(a.encode() for a in self._bwrap_args(spec, str(rootfs), str(tmp), filter_fd)) + b"\0")
        os.lseek(args_fd, 0, os.SEEK_SET)
        procs = [str(p) for p in cgroup.procs_files()]
        argv = [self.tools["unshare"], "--mount", "--propagation", "private", "/bin/sh", "-c", PREPARE,
                "govmarket-sandbox", str(len(procs)), *procs, str(self.image.rootfs), str(rootfs), str(tmp),
                str(limits.tmp_bytes),
                self.tools["setpriv"], f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
                self.tools["prlimit"], f"--nofile={limits.open_files}:{limits.open_files}", "--",
                self.tools["env"], "-i", self.bwrap, "--args", str(args_fd), "--", *spec.argv]
        output = CapturedOutput(limits.log_keep_bytes)
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,  # noqa: S603
                                    stderr=subprocess.STDOUT, start_new_session=True, env={"PATH": "/usr/bin:/bin"},
                                    cwd="/", pass_fds=(args_fd, filter_fd))
        except OSError as exc:
            cgroup.remove()
            raise ServiceUnavailable(f"could not start bubblewrap: {exc}") from exc
        finally:
            os.close(args_fd)
            os.close(filter_fd)
        output.follow_pipe(proc.stdout)  # type: ignore[arg-type]
        return BwrapSandbox(spec, cgroup, proc, output)

    def sweep(self) -> list[str]:
        hierarchy = self.hierarchy or cgroups.detect(self.cgroup_root)
        if hierarchy is None:
            return []
        return cgroups.sweep(hierarchy, owner_alive)
