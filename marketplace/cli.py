"""The ``govmarket`` console script: Flask's CLI bound to our app factory."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup, with_appcontext


def _create():
    from marketplace.app import create_app

    return create_app()


cli = FlaskGroup(create_app=_create, help="Open Government App Market platform commands.")


def main() -> None:
    cli()


@click.command("worker")
@click.argument("queues", nargs=-1)
@with_appcontext
def worker_command(queues):
    """Run an RQ worker for QUEUES (default: sandbox default billing) inside the app context.

    Needs GOVMARKET_QUEUE_MODE=rq. Sandbox queues belong on hosts that hold the Docker socket. The worker rides out
    a Redis restart (core/worker.py); with the sandbox queue it also sweeps as `govmarket sandbox worker` does.
    """
    from flask import current_app

    from core.worker import run_worker

    if current_app.config["QUEUE_MODE"] != "rq":
        raise click.ClickException("set GOVMARKET_QUEUE_MODE=rq (and REDIS_URL) to run workers; "
                                   "the embedded default runs jobs in-process")
    names = list(queues) or ["sandbox", "default", "billing"]
    hooks = []
    if "sandbox" in names:
        from sandbox.tasks import maintain

        hooks.append(maintain)
    config = current_app.config
    run_worker(names, redis_url=config["REDIS_URL"], outage_seconds=config["REDIS_OUTAGE_SECONDS"],
               maintenance_seconds=config["WORKER_MAINTENANCE_SECONDS"], with_scheduler=True, hooks=hooks)


def _commands():
    from marketplace.accounts.cli import users_cli
    from marketplace.backup import backup_cli
    from marketplace.catalogue.cli import departments_cli, statistics_cli
    from marketplace.vendors.cli import vendors_cli

    return [users_cli, departments_cli, statistics_cli, vendors_cli, worker_command, backup_cli]


marketplace_commands = _commands()
