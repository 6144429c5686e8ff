"""``govmarket gateway …``: sweep the orphans a dead serving process left behind."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from marketplace.gateway import instances

gateway_cli = AppGroup("gateway", help="The app gateway and the served app instances of this host.")


@gateway_cli.command("sweep")
def sweep() -> None:
    """Remove sandboxes and run directories whose serving or worker process is gone."""
    registry = instances.registry(current_app._get_current_object())
    removed = registry.sweep()
    for entry in removed:
        click.echo(f"removed {entry}")
    click.echo(f"{len(removed)} orphan(s) removed on the {registry.backend().name} backend")
