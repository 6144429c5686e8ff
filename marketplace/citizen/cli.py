"""Operator commands of the citizen read side: `govmarket statistics rebuild|check`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from marketplace.citizen.statistics import kept_statistics, raw_statistics, statistics_rebuild


@click.group("statistics", help="The catalogue's kept statistics (completed cases, ratings, handling time).")
def statistics_cli():
    pass


@statistics_cli.command("rebuild")
@with_appcontext
def rebuild_statistics():
    """Recompute every app's and service item's statistics from the raw cases and ratings (after a bulk import,
    or to repair them)."""
    rebuilt = statistics_rebuild()
    click.echo(f"rebuilt statistics of {rebuilt.apps} apps and {rebuilt.service_items} service items: "
               f"{rebuilt.completed} completed cases, {rebuilt.ratings} counted ratings")


@statistics_cli.command("check")
@with_appcontext
def check_statistics():
    """Compare the kept statistics with a recomputation from the raw rows; exit 1 and list every difference."""
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
