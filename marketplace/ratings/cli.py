"""Operator commands of ratings: `govmarket ratings adjustments --quarter 2026Q4`.

Commands act as the platform itself (core.auth.SYSTEM); who may run them is who may run the shell."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from core.auth import SYSTEM
from marketplace.ratings.services import rating_adjustments


@click.group("ratings", help="Ratings: moderation that reaches the money.")
def ratings_cli():
    pass


@ratings_cli.command("adjustments")
@click.option("--quarter", "quarter_code", required=True, help="the quarter whose adjustments to list, e.g. 2026Q4")
@with_appcontext
def list_adjustments(quarter_code: str):
    """List the ratings of earlier quarters hidden after those quarters froze their counted ratings: they were
    paid, and finance adjusts for them in this quarter (docs/finance.md)."""
    found = rating_adjustments(SYSTEM, quarter_code)
    for a in found:
        click.echo(f"rating {a.rating_id}\tapp {a.app_id}\tvendor {a.vendor_id}\t{a.stars}★\t"
                   f"rated in {a.rated_quarter}, frozen {a.frozen_at:%Y-%m-%d %H:%M}, hidden "
                   f"{a.hidden_at:%Y-%m-%d %H:%M}: {a.reason}")
    click.echo(f"{len(found)} rating adjustments for {quarter_code}")
