"""The Docker backend: the runtime rootfs imported as an image, run with no network, a read-only root,
a size-limited noexec ``/tmp``, memory == memory+swap, a pids limit, a CPU quota, every capability
dropped, no-new-privileges and the unprivileged sandbox uid; labelled so a sweeper finds orphans."""

from __future__ import annotations

from pathlib import Path

from core.errors import ServiceUnavailable
from sandbox.backends import LABEL, OWNER_LABEL, RUN_LABEL, CapturedOutput, ResourceEvents, SandboxSpec, owner_alive, owner_key
from sandbox.runtime import SANDBOX_UID, RuntimeImage

CGROUP_ROOT = Path("/sys/fs/cgroup")
LOG_CONFIG = {"type": "json-file", "config": {"max-size": "1m", "max-file": "1"}}  # bounded on the host's disk too


def _client():
    import docker

    try:
        client = docker.from_env(timeout=30)
        client.ping()
        return client
    except Exception as exc:
        raise ServiceUnavailable(f"the Docker engine does not answer ({exc}); start dockerd or use the bwrap backend") from exc


class DockerSandbox:
    def __init__(self, spec: SandboxSpec, container, output: CapturedOutput):
        self.id = spec.run_id
        self.spec = spec
        self.container = container
        self._output = output
        self._stopped = False
        self._pids_cgroup: Path | None = None
        self._exit: int | None = None
        container.reload()
        pid = container.attrs["State"].get("Pid") or 0
        try:
            with open(f"/proc/{pid}/cgroup") as fh:
                for line in fh.read().splitlines():
                    _n, ctrl, path = line.split(":", 2)
                    if ctrl == "pids":
                        self._pids_cgroup = CGROUP_ROOT / "pids" / path.lstrip("/")
        except OSError:
            pass

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
        pids = False
        if self._pids_cgroup is not None:
            try:
                pids = int((self._pids_cgroup / "pids.events").read_text().split()[1]) > 0
            except (OSError, IndexError, ValueError):
                pass
        exit_code = self.poll()
        oom = bool(self.container.attrs["State"].get("OOMKilled"))
        if not oom and self._pids_cgroup is not None:
            memory = CGROUP_ROOT / "memory" / self._pids_cgroup.relative_to(CGROUP_ROOT / "pids")
            try:
                oom = any(line.startswith("oom_kill ") and int(line.split()[1]) > 0
                          for line in (memory / "memory.oom_control").read_text().splitlines())
            except OSError:
                pass
        return ResourceEvents(oom_killed=oom, pids_limited=pids, exit_code=exit_code)

    def output(self) -> CapturedOutput:
        return self._output

    def owns_process(self, pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/cgroup") as fh:
                text = fh.read()
        except OSError:
            return False
        return any(line.split(":", 2)[1] == "pids" and self.container.id in line.split(":", 2)[2]
                   for line in text.splitlines())

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
        self.client = client

    def start(self, spec: SandboxSpec) -> DockerSandbox:
        if self.client is None:
            self.check()
        limits = spec.limits
        container = self.client.containers.create(  # type: ignore[union-attr]
            self.image.docker_tag,
            command=list(spec.argv),
            name=f"govmarket-{spec.run_id}",
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
            security_opt=["no-new-privileges:true"],
            ipc_mode="private",
            init=False,
            volumes={str(m.host): {"bind": m.target, "mode": "rw" if m.writable else "ro"} for m in spec.mounts},
            labels={LABEL: "1", OWNER_LABEL: owner_key(), RUN_LABEL: spec.run_id},
            log_config=LOG_CONFIG,
        )
        host = container.attrs["HostConfig"]
        applied = (host.get("Memory"), host.get("MemorySwap"), host.get("PidsLimit"), host.get("NanoCpus"),
                   host.get("ReadonlyRootfs"), host.get("NetworkMode"))
        wanted = (limits.memory_bytes, limits.memory_bytes, limits.pids, int(limits.cpus * 1e9), True, "none")
        if applied != wanted:
            container.remove(force=True)
            raise ServiceUnavailable(f"Docker did not apply the sandbox limits (asked {wanted}, got {applied}); refusing")
        output = CapturedOutput(limits.log_keep_bytes)
        try:
            container.start()
            output.follow(container.logs(stream=True, follow=True, stdout=True, stderr=True))
        except Exception:
            container.remove(force=True)
            raise
        return DockerSandbox(spec, container, output)

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
