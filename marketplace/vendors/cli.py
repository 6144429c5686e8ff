"""Operator commands for vendors: `govmarket vendors create`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from core.auth import SYSTEM
from core.errors import DomainError
from marketplace.vendors import services


@click.group("vendors", help="Register vendors.")
def vendors_cli():
    pass


@vendors_cli.command("create")
@click.option("--name", required=True)
@click.option("--credit-code", required=True, help="Unified social credit code (18 characters)")
@click.option("--email", default="")
@with_appcontext
def create_vendor(name, credit_code, email):
    try:
        vendor = services.vendor_create(SYSTEM, name=name, credit_code=credit_code, contact_email=email)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"created vendor {vendor.id} {vendor.name} {vendor.credit_code}")
