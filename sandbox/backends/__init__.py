"""Isolation backends behind one Protocol (ARCHITECTURE.md §5).

A backend starts one command from the runtime image with the given mounts, environment and limits,
and nothing else: no network, no capabilities, no way to gain privileges, a read-only root, and
memory, process-count and CPU limits that cover the whole process tree. A backend that cannot apply
its limits refuses with ServiceUnavailable rather than run untrusted code without them.

Every sandbox is labelled with its *owner* (the worker process that started it: pid plus start time),
so ``sweep`` can tell an orphan — whose owner is gone — from a sandbox another worker is still using.
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from core.errors import ServiceUnavailable

LABEL = "govmarket.sandbox"
OWNER_LABEL = "govmarket.owner"
RUN_LABEL = "govmarket.run"


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 256 * 1024 * 1024  # memory + swap: the same number, so swap cannot stretch it
    pids: int = 64
    cpus: float = 1.0
    tmp_bytes: int = 32 * 1024 * 1024
    open_files: int = 256  # RLIMIT_NOFILE: a threaded server under the pids limit needs far fewer
    log_keep_bytes: int = 64 * 1024  # stdout+stderr kept for the report
    log_flood_bytes: int = 8 * 1024 * 1024  # more than this is an "output" verdict


@dataclass(frozen=True)
class Mount:
    host: Path
    target: str
    writable: bool = False


@dataclass(frozen=True)
class SandboxSpec:
    run_id: str  # [a-z0-9-], unique per start
    host_dir: Path  # private to this run, traversable by the sandbox uid; the backend may create entries in it
    argv: tuple[str, ...]
    env: dict[str, str]
    mounts: tuple[Mount, ...]
    limits: Limits = field(default_factory=Limits)
    workdir: str = "/app"


@dataclass(frozen=True)
class ResourceEvents:
    oom_killed: bool  # the memory limit was hit and a process was killed
    pids_limited: bool  # a fork/clone was refused at the pids limit
    exit_code: int | None  # None while the main process runs
    cpu_seconds: float | None = None  # CPU time all its processes used so far (None: not accounted)


@dataclass(frozen=True)
class CpuTimes:
    used: float | None  # CPU time, from the cgroup's accounting (None: not accounted)
    runnable: float  # time its threads ran or waited to run, summed: a busy host or the quota does not hide a spin


class Sandbox(Protocol):
    id: str

    def poll(self) -> int | None: ...

    def wait(self, timeout: float) -> int | None: ...

    def events(self) -> ResourceEvents: ...

    def cpu_times(self) -> CpuTimes:
        """What its processes used of the CPU so far (cheap: read before and after each request)."""

    def output(self) -> CapturedOutput: ...

    def owns_process(self, pid: int) -> bool:
        """Whether host process ``pid`` runs inside this sandbox (used to vet a unix-socket peer)."""

    def stop(self) -> None:
        """Kill every process of the sandbox and remove it; idempotent."""


class SandboxBackend(Protocol):
    name: str

    def check(self) -> None:
        """Raise ServiceUnavailable unless this backend can run sandboxes with all its limits here."""

    def image_hash(self) -> str: ...

    def start(self, spec: SandboxSpec) -> Sandbox: ...

    def sweep(self) -> list[str]:
        """Remove sandboxes whose owner process is gone; return what was removed."""


class CapturedOutput:
    """Reads a sandbox's combined stdout/stderr on a thread: keeps the first ``keep`` bytes, counts the
    rest and drops it, so a flood can neither fill the host's memory or disk nor block the reader."""

    def __init__(self, keep: int):
        self.keep = keep
        self._head = bytearray()
        self.total = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def follow(self, chunks) -> None:
        def pump():
            try:
                for chunk in chunks:
                    self.add(chunk)
            except Exception:  # noqa: S110  (the stream ends when the sandbox is removed; what we have is kept)
                pass

        self._thread = threading.Thread(target=pump, name="sandbox-output", daemon=True)
        self._thread.start()

    def follow_pipe(self, pipe: IO[bytes]) -> None:
        self.follow(iter(lambda: pipe.read1(65536), b""))  # type: ignore[attr-defined]

    def add(self, chunk: bytes) -> None:
        with self._lock:
            room = self.keep - len(self._head)
            if room > 0:
                self._head += chunk[:room]
            self.total += len(chunk)

    def join(self, timeout: float = 2.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def text(self) -> str:
        with self._lock:
            text = self._head.decode("utf-8", errors="replace")
            if self.total > len(self._head):
                text += f"\n[… {self.total - len(self._head)} more bytes not kept]"
            return text


class ProcessSandbox:
    """What every sandbox that is one host child process (``subprocess.Popen``) shares: its exit status and its
    captured output. Backends add how they account resources, own processes and stop."""

    def __init__(self, run_id: str, proc: subprocess.Popen, output: CapturedOutput):
        self.id = run_id
        self.proc = proc
        self._output = output
        self._stopped = False

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def output(self) -> CapturedOutput:
        return self._output


def owner_key(pid: int | None = None) -> str:
    """``<pid>.<start time in clock ticks>`` of a process: unique on this host even when pids are reused."""
    pid = pid or os.getpid()
    with open(f"/proc/{pid}/stat") as fh:
        stat = fh.read()
    start = stat.rsplit(")", 1)[1].split()[19]
    return f"{pid}.{start}"


def owner_alive(key: str) -> bool:
    """Whether the process ``key`` names still runs. A killed worker whose parent died too stays a zombie until
    something reaps it (forever under an init that does not reap): a zombie runs nothing, so it is dead here."""
    pid_text, _, _start = key.partition(".")
    try:
        if owner_key(int(pid_text)) != key:
            return False
        with open(f"/proc/{int(pid_text)}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, ValueError, IndexError):
        return False


def get_backend(name: str, config: Any) -> SandboxBackend:
    """The backend named ``name`` ('bwrap' or 'docker'), checked: raises ServiceUnavailable when it cannot
    apply its limits on this machine."""
    from sandbox import runtime

    if name == "bwrap":
        from sandbox.backends.bwrap import BwrapBackend

        backend: SandboxBackend = BwrapBackend(runtime.load(config["RUNTIME_ROOTFS"]))
    elif name == "docker":
        from sandbox.backends.docker import DockerBackend, _client

        if config.get("RUNTIME_IMAGE"):  # a worker in a container: the imported image, no rootfs on disk
            backend = DockerBackend(runtime.docker_image(config["RUNTIME_IMAGE"], _client()))
        else:
            backend = DockerBackend(runtime.load(config["RUNTIME_ROOTFS"]))
    else:
        raise ServiceUnavailable(f"GOVMARKET_SANDBOX_BACKEND must be 'bwrap' or 'docker', got {name!r}")
    backend.check()
    return backend
