"""The Docker backend: the runtime rootfs imported as an image, run with no network, a read-only root,
a size-limited noexec ``/tmp``, memory == memory+swap, a pids limit, a CPU quota, every capability
dropped, no-new-privileges and the unprivileged sandbox uid; labelled so a sweeper finds orphans.

The worker may itself run in a container (a sandbox host running the platform image with the Docker socket,
docs/operations.md "Sandbox hosts"). These must then hold, and ``start`` refuses (ServiceUnavailable, an
infrastructure error, never a verdict against the app) when they do not:

- The folders it bind-mounts into the sandbox must be at the same path on the host, because dockerd resolves a
  bind mount's source on the host: a same-path bind mount of ``GOVMARKET_SANDBOX_RUNS``. Otherwise dockerd would
  create an empty folder on the host and every app would fail to start for a reason not its own. The run's
  size-capped areas (``sandbox.mounts``) are tmpfs mounts the worker makes in that folder: it needs CAP_SYS_ADMIN
  for them, and the folder bind-mounted with ``rshared`` propagation from a shared mount on the host, so that
  dockerd sees them (otherwise the app would write to the host's disk under them).
- It must see the sandbox's processes as the host does (``pid: host``): the harness vets the peer of ``app.sock``
  by the pid SO_PEERCRED reports (``owns_process``), the kernel reports 0 for a peer in a pid namespace the
  worker cannot see, and the owner keys on sandboxes and run folders (pid + start time) must be unique on the
  host, or two workers on one host would sweep each other's sandboxes. Neither grants the worker anything new: it holds
  the Docker socket, which is root on the host; the apps stay in their own pid namespaces and see nothing of it.
- It reads an app container's refused forks and CPU time from the host's cgroup tree (v1 or v2, ``sandbox.cgroups``),
  mounted read-only at the same path and seen from the host's cgroup namespace (compose ``cgroup: host``).
"""

from __future__ import annotations

from pathlib import Path

from core.errors import ServiceUnavailable
from sandbox import cgroups, mounts
from sandbox.backends import (
    LABEL,
    OWNER_LABEL,
    RUN_LABEL,
    CapturedOutput,
    CpuTimes,
    ResourceEvents,
    SandboxSpec,
    owner_alive,
    owner_key,
)
from sandbox.runtime import SANDBOX_UID, RuntimeImage

LOG_CONFIG = {"type": "json-file", "config": {"max-size": "1m", "max-file": "1"}}  # bounded on the host's disk too


def _client():
    import docker

    try:
        client = docker.from_env(timeout=30)
        client.ping()
        return client
    except Exception as exc:
        raise ServiceUnavailable(f"the Docker engine does not answer ({exc}); start dockerd or use the bwrap backend") from exc


def own_container_id() -> str | None:
    """The id of the Docker container this process runs in (from the engine's /etc/hostname bind mount), or None."""
    try:
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) > 4 and fields[4] == "/etc/hostname" and "/containers/" in fields[3]:
                    candidate = fields[3].rsplit("/containers/", 1)[1].split("/", 1)[0]
                    if len(candidate) == 64 and all(c in "0123456789abcdef" for c in candidate):
                        return candidate
    except OSError:
        pass
    return None


def host_path_problem(path: Path, mounts: list[dict]) -> str | None:
    """Why dockerd (which resolves bind sources on the host) would not find ``path`` of this container, or None."""
    path = Path(path).resolve()
    best: dict | None = None
    for mount in mounts:
        dest = Path(mount.get("Destination", "/"))
        if (path == dest or dest in path.parents) and (best is None or len(str(dest)) > len(best["Destination"])):
            best = mount
    if best is None:
        return f"{path} is inside this container's own filesystem"
    if best.get("Type") != "bind" or best.get("Source") != best["Destination"]:
        return (f"{path} is on a {best.get('Type')} mount from {best.get('Source')} at {best['Destination']}, "
                "not a bind mount of the same host path")
    return None


class DockerSandbox:
    def __init__(self, spec: SandboxSpec, container, output: CapturedOutput, hierarchy: cgroups.Hierarchy | None):
        self.id = spec.run_id
        self.spec = spec
        self.container = container
        self._output = output
        self._stopped = False
        self._exit: int | None = None
        container.reload()
        pid = container.attrs["State"].get("Pid") or 0
        # The container's own cgroup, for what the engine does not report: refused forks, CPU time (v1 or v2).
        self._cgroup = cgroups.of_process(pid, hierarchy) if pid and hierarchy is not None else None
        if pid:
            self._check_visible(pid)

    def _check_visible(self, pid: int) -> None:
        """Refuse unless this process sees the sandbox's processes and cgroup (a worker in a container)."""
        problem = None
        if not self.owns_process(pid):
            problem = (f"this worker does not see the sandbox's process {pid} (another pid namespace), so it cannot vet "
                       "the peer of app.sock; run it in the host's pid namespace (compose `pid: host`, "
                       "docker run --pid host)")
        elif self._cgroup is None or not (self._cgroup.dirs["pids"] / "pids.events").exists():
            where = self._cgroup.dirs["pids"] if self._cgroup is not None else f"of process {pid}"
            problem = (f"this worker does not see the host's cgroup {where}, so it cannot tell when the pids limit "
                       "refused a fork; mount the host's /sys/fs/cgroup read-only at the same path, in the host's "
                       "cgroup namespace (compose `cgroup: host`)")
        if problem is None:
            return
        self.container.reload()
        state = self.container.attrs["State"]
        if state.get("Running") and state.get("Pid") == pid:  # not just a sandbox that has already exited
            raise ServiceUnavailable(problem)

    def poll(self) -> int | None:
        if self._exit is not None:
            return self._exit
        try:
            self.container.reload()
        except Exception:
            return -1
        state = self.container.attrs["State"]
        if state.get("Running") or state.get("Status") in ("created", "restarting"):
            return None
        self._exit = int(state.get("ExitCode", -1))
        return self._exit

    def wait(self, timeout: float) -> int | None:
        import requests

        try:
            result = self.container.wait(timeout=timeout)
            return int(result.get("StatusCode", -1))
        except (requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout):
            return None

    def events(self) -> ResourceEvents:
        counted = self._cgroup.accounting() if self._cgroup is not None else None
        exit_code = self.poll()
        oom = bool(self.container.attrs["State"].get("OOMKilled")) or bool(counted and counted.oom_kills)
        return ResourceEvents(oom_killed=oom, pids_limited=bool(counted and counted.pids_refused), exit_code=exit_code,
                              cpu_seconds=counted.cpu_seconds if counted is not None else None)

    def cpu_times(self) -> CpuTimes:
        if self._cgroup is None:
            return CpuTimes(None, 0.0)
        return CpuTimes(self._cgroup.accounting().cpu_seconds, self._cgroup.runnable_seconds())

    def output(self) -> CapturedOutput:
        return self._output

    def owns_process(self, pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/cgroup") as fh:
                text = fh.read()
        except OSError:
            return False
        # cgroup v1: the pids hierarchy; v2: the unified one ("0::path"). The path names the container's id.
        return any(line.count(":") >= 2 and line.split(":", 2)[1] in ("pids", "")
                   and self.container.id in line.split(":", 2)[2] for line in text.splitlines())

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            self.container.remove(force=True)
        except Exception as exc:
            import docker.errors

            if not isinstance(exc, docker.errors.NotFound):
                raise
        self._output.join()


class DockerBackend:
    name = "docker"

    def __init__(self, image: RuntimeImage):
        self.image = image
        self.client = None
        self._own_mounts: list[dict] | None = None  # this worker's container's mounts, when it runs in one

    def image_hash(self) -> str:
        return self.image.hash

    def check(self) -> None:
        import docker.errors

        client = _client()
        info = client.info()
        missing = [k for k in ("MemoryLimit", "SwapLimit", "PidsLimit", "CpuCfsQuota") if not info.get(k)]
        if missing:
            raise ServiceUnavailable(f"this Docker engine cannot enforce {', '.join(missing)}; the docker backend will "
                                     "not run apps without memory, swap, pids and CPU limits")
        try:
            client.images.get(self.image.docker_tag)
        except docker.errors.ImageNotFound as exc:
            raise ServiceUnavailable(f"the runtime image {self.image.docker_tag} is not in Docker; run "
                                     "`govmarket sandbox build-runtime`") from exc
        own = own_container_id()
        if own is not None:
            try:
                attrs = client.api.inspect_container(own)
            except docker.errors.NotFound:  # another engine's container (docker in docker): paths are its own
                attrs = None
            if attrs is not None:
                # Before anything else (the sweep judges sandboxes by their owner's pid): refuse outside the host's
                # pid namespace, where owner keys would collide and other workers' live sandboxes look orphaned.
                if (attrs.get("HostConfig") or {}).get("PidMode") != "host":
                    raise ServiceUnavailable("this sandbox worker runs in a container with its own pid namespace; run "
                                             "it with the host's (compose `pid: host`, docker run --pid host): it "
                                             "vets app sockets and sweeps orphans by host process ids")
                self._own_mounts = attrs.get("Mounts") or []
        self.client = client

    def start(self, spec: SandboxSpec) -> DockerSandbox:
        import docker.types

        if self.client is None:
            self.check()
        if self._own_mounts is not None:
            for mount in spec.mounts:
                problem = host_path_problem(mount.host, self._own_mounts)
                if problem is None and mounts.shared(mount.host) is False:
                    problem = (f"{mount.host} is a mount of this container that does not propagate to the host (the "
                               "runs folder must be bind-mounted with propagation rshared from a shared mount)")
                if problem:
                    raise ServiceUnavailable(
                        f"the Docker engine would not find {mount.host} on the host: {problem}. A sandbox worker in a "
                        "container needs GOVMARKET_SANDBOX_RUNS bind-mounted from the same host path "
                        "(compose.yaml: /var/lib/govmarket-sandbox/runs:/var/lib/govmarket-sandbox/runs)")
        limits = spec.limits
        container = self.client.containers.create(  # type: ignore[union-attr]
            self.image.docker_tag,
            command=list(spec.argv),
            name=f"govmarket-{owner_key()}-{spec.run_id}",  # run ids repeat across databases; owner keys do not
            hostname="sandbox",
            user=f"{SANDBOX_UID}:{SANDBOX_UID}",
            environment=dict(spec.env),
            working_dir=spec.workdir,
            network_mode="none",
            read_only=True,
            tmpfs={"/tmp": f"rw,noexec,nosuid,nodev,size={limits.tmp_bytes}"},  # noqa: S108  (inside the container)
            mem_limit=limits.memory_bytes,
            memswap_limit=limits.memory_bytes,
            pids_limit=limits.pids,
            nano_cpus=int(limits.cpus * 1e9),
            cap_drop=["ALL"],
            ulimits=[docker.types.Ulimit(name="nofile", soft=limits.open_files, hard=limits.open_files)],
            security_opt=["no-new-privileges:true"],
            ipc_mode="private",
            init=False,
            volumes={str(m.host): {"bind": m.target, "mode": "rw" if m.writable else "ro"} for m in spec.mounts},
            labels={LABEL: "1", OWNER_LABEL: owner_key(), RUN_LABEL: spec.run_id},
            log_config=LOG_CONFIG,
        )
        host = container.attrs["HostConfig"]
        applied = (host.get("Memory"), host.get("MemorySwap"), host.get("PidsLimit"), host.get("NanoCpus"),
                   host.get("ReadonlyRootfs"), host.get("NetworkMode"),
                   [(u.get("Name"), u.get("Soft"), u.get("Hard")) for u in host.get("Ulimits") or []])
        wanted = (limits.memory_bytes, limits.memory_bytes, limits.pids, int(limits.cpus * 1e9), True, "none",
                  [("nofile", limits.open_files, limits.open_files)])
        if applied != wanted:
            container.remove(force=True)
            raise ServiceUnavailable(f"Docker did not apply the sandbox limits (asked {wanted}, got {applied}); refusing")
        output = CapturedOutput(limits.log_keep_bytes)
        try:
            container.start()
            # Attached to the container's stdio, not following its log file: that file is capped at 1 MiB and
            # rotates under a flood, and a follower of it stopped there (the "output" verdict was then missed).
            output.follow(container.attach(stdout=True, stderr=True, stream=True, logs=True))
            return DockerSandbox(spec, container, output, cgroups.detect())
        except Exception:
            container.remove(force=True)
            raise

    def sweep(self) -> list[str]:
        client = self.client or _client()
        removed = []
        for container in client.containers.list(all=True, filters={"label": LABEL}):
            owner = container.labels.get(OWNER_LABEL, "")
            if owner_alive(owner):
                continue
            container.remove(force=True)
            removed.append(f"container {container.name}")
        return removed
