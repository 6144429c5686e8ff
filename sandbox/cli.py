"""``govmarket sandbox …``: build the runtime image, sweep orphaned sandboxes, run the certification worker."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from sandbox import runtime

sandbox_cli = AppGroup("sandbox", help="Sandbox runtime image, sweeping and certification workers.")


@sandbox_cli.command("build-runtime")
@click.option("--force", is_flag=True, help="Rebuild even when a built runtime is present.")
@click.option("--no-docker", is_flag=True, help="Do not import the rootfs into Docker.")
def build_runtime(force: bool, no_docker: bool) -> None:
    """Build the runtime rootfs offline from Debian packages (once) and import it into Docker."""
    image = runtime.build(current_app.config["RUNTIME_ROOTFS"], force=force, echo=click.echo)
    click.echo(f"rootfs {image.rootfs} (Python {image.python}) hash {image.hash}")
    if no_docker:
        return
    import docker

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as exc:
        raise click.ClickException(f"Docker does not answer ({exc}); start it (scripts/ensure-services.sh) "
                                   "or pass --no-docker") from exc
    click.echo(f"docker image {runtime.docker_import(image, client)}")


@sandbox_cli.command("sweep")
def sweep_command() -> None:
    """Remove orphaned sandboxes (containers, cgroups, run directories) and fail runs their dead worker left."""
    from sandbox.tasks import sweep

    for line in sweep() or ["nothing to sweep"]:
        click.echo(line)


@sandbox_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker_command(burst: bool) -> None:
    """Sweep what a previous worker left, then run certification jobs from the RQ queue `sandbox`, sweeping again
    every GOVMARKET_WORKER_MAINTENANCE_SECONDS and riding out Redis restarts (core/worker.py)."""
    from core.worker import run_worker
    from sandbox.tasks import maintain

    for line in maintain():
        click.echo(f"swept: {line}")
    config = current_app.config
    run_worker(["sandbox"], redis_url=config["REDIS_URL"], outage_seconds=config["REDIS_OUTAGE_SECONDS"],
               maintenance_seconds=config["WORKER_MAINTENANCE_SECONDS"], burst=burst, hooks=[maintain])
