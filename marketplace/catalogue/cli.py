"""Operator commands for the catalogue: `govmarket departments create`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from core.auth import SYSTEM
from core.errors import DomainError
from marketplace.catalogue import services


@click.group("departments", help="Create departments.")
def departments_cli():
    pass


@departments_cli.command("create")
@click.option("--code", required=True, help="Short code, e.g. market-regulation")
@click.option("--name", required=True, help="Name in Chinese, e.g. 市场监督管理局")
@click.option("--name-en", default="")
@click.option("--description", default="")
@with_appcontext
def create_department(code, name, name_en, description):
    try:
        dept = services.department_create(SYSTEM, code=code, name=name, name_en=name_en, description=description)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"created department {dept.id} {dept.code} {dept.name}")
