"""`govmarket worker`: an RQ worker for the platform's queues, inside the app context."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from core.worker import run_worker
from sandbox.tasks import maintain


@click.command("worker")
@click.argument("queues", nargs=-1)
@with_appcontext
def worker_command(queues):
    """Run an RQ worker for QUEUES (default: sandbox default billing) inside the app context.

    Needs GOVMARKET_QUEUE_MODE=rq. Sandbox queues belong on hosts that hold the Docker socket. The worker rides out
    a Redis restart (core/worker.py); with the sandbox queue it also sweeps as `govmarket sandbox worker` does.
    """
    if current_app.config["QUEUE_MODE"] != "rq":
        raise click.ClickException("set GOVMARKET_QUEUE_MODE=rq (and REDIS_URL) to run workers; "
                                   "the embedded default runs jobs in-process")
    names = list(queues) or ["sandbox", "default", "billing"]
    hooks = []
    if "sandbox" in names:
        hooks.append(maintain)
    config = current_app.config
    run_worker(names, redis_url=config["REDIS_URL"], outage_seconds=config["REDIS_OUTAGE_SECONDS"],
               maintenance_seconds=config["WORKER_MAINTENANCE_SECONDS"], with_scheduler=True, hooks=hooks)


def init_app(app: Flask) -> None:
    app.cli.add_command(worker_command)
