"""``govmarket gateway …``: run the serving host; sweep the orphans a dead serving process left behind."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from marketplace.gateway import instances
from marketplace.gateway.serving_host import serve

gateway_cli = AppGroup("gateway", help="The app gateway and the served app instances of this host.")


@gateway_cli.command("sweep")
def sweep() -> None:
    """Remove sandboxes and run directories whose serving or worker process is gone."""
    registry = instances.registry(current_app._get_current_object())
    removed = registry.sweep()
    for entry in removed:
        click.echo(f"removed {entry}")
    click.echo(f"{len(removed)} orphan(s) removed on the {registry.backend().name} backend")


@gateway_cli.command("serve")
@click.option("--bind", default="0.0.0.0:8090", show_default=True, help="Address the web processes reach.")
@click.option("--threads", default=16, show_default=True, help="Requests served at a time.")
def serve_command(bind: str, threads: int) -> None:
    """Run the serving host: the published apps' instances, for the web processes' gateway (GOVMARKET_SERVING_URL
    there; both need GOVMARKET_SERVING_SECRET). Runs on sandbox hosts only, set up like a sandbox worker."""
    try:
        serve(current_app._get_current_object(), bind, threads)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
