"""Operator commands for the catalogue: `govmarket departments create`, `govmarket statistics rebuild|check`."""

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


@click.group("statistics", help="The catalogue's kept statistics (completed cases, ratings, handling time).")
def statistics_cli():
    pass


@statistics_cli.command("rebuild")
@with_appcontext
def rebuild_statistics():
    """Recompute every app's and service item's statistics from the raw cases and ratings (after a bulk import,
    or to repair them)."""
    from marketplace.catalogue.statistics import statistics_rebuild

    rebuilt = statistics_rebuild()
    click.echo(f"rebuilt statistics of {rebuilt.apps} apps and {rebuilt.service_items} service items: "
               f"{rebuilt.completed} completed cases, {rebuilt.ratings} counted ratings")


@statistics_cli.command("check")
@with_appcontext
def check_statistics():
    """Compare the kept statistics with a recomputation from the raw rows; exit 1 and list every difference."""
    from marketplace.catalogue.statistics import kept_statistics, raw_statistics

    (raw_apps, raw_items), (kept_apps, kept_items) = raw_statistics(), kept_statistics()
    differences = [f"app {a}: kept {kept_apps.get(a)}, raw rows give {raw_apps.get(a)}"
                   for a in sorted(set(raw_apps) | set(kept_apps)) if raw_apps.get(a) != kept_apps.get(a)]
    differences += [f"service item {i}: kept {kept_items.get(i)}, raw rows give {raw_items.get(i)}"
                    for i in sorted(set(raw_items) | set(kept_items)) if raw_items.get(i) != kept_items.get(i)]
    for line in differences:
        click.echo(line)
    if differences:
        raise click.ClickException(f"{len(differences)} statistics differ from the raw rows; "
                                   "run `govmarket statistics rebuild`")
    click.echo(f"statistics of {len(raw_apps)} apps and {len(raw_items)} service items match the raw rows")
