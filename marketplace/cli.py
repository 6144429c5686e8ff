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

    Needs GOVMARKET_QUEUE_MODE=rq. Sandbox queues belong on hosts that hold the Docker socket.
    """
    from flask import current_app
    from rq import Worker

    job_queue = current_app.extensions["job_queue"]
    if current_app.config["QUEUE_MODE"] != "rq":
        raise click.ClickException("set GOVMARKET_QUEUE_MODE=rq (and REDIS_URL) to run workers; "
                                   "the embedded default runs jobs in-process")
    names = list(queues) or ["sandbox", "default", "billing"]
    worker = Worker([job_queue.queue(n) for n in names], connection=job_queue.redis)
    worker.work(with_scheduler=True)


def _commands():
    from marketplace.accounts.cli import users_cli
    from marketplace.backup import backup_cli
    from marketplace.catalogue.cli import departments_cli, statistics_cli
    from marketplace.vendors.cli import vendors_cli

    return [users_cli, departments_cli, statistics_cli, vendors_cli, worker_command, backup_cli]


marketplace_commands = _commands()
