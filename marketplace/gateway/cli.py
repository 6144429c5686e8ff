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
@click.option("--advertise", default=None, metavar="URL",
              help="http(s)://host:port the web processes reach this host at: announce it in the Redis registry "
                   "while healthy [default: GOVMARKET_SERVING_ADVERTISE_URL].")
def serve_command(bind: str, threads: int, advertise: str | None) -> None:
    """Run the serving host: the published apps' instances, for the web processes' gateway (GOVMARKET_SERVING_URL
    there; both need GOVMARKET_SERVING_SECRET). Runs on sandbox hosts only, set up like a sandbox worker.
    https with GOVMARKET_SERVING_TLS_CERT/KEY, mutual TLS with GOVMARKET_SERVING_TLS_CA too."""
    app = current_app._get_current_object()
    try:
        serve(app, bind, threads, advertise or app.config["SERVING_ADVERTISE_URL"])
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
