"""`govmarket demo seed`: the demo dataset `make run` starts with. Idempotent: running it again adds only what is
missing, and quickly once everything exists."""

from __future__ import annotations

import time
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from billing.calendar import CHINA
from marketplace.demo.base import STAFF, vendor_email, vendor_of
from marketplace.demo.data import DEMO_PASSWORD, SAMPLE_APPS, VENDORS
from marketplace.demo.seed import DEFAULT_CITIZENS, SeedResult, seed


@click.group("demo", help="The demo dataset.")
def demo_cli():
    pass


@demo_cli.command("seed")
@click.option("--citizens", default=DEFAULT_CITIZENS, show_default=True,
              help="How many citizens use the sample apps in the past quarter.")
@click.option("--base-only", is_flag=True,
              help="Only departments, items, orders, vendors and accounts: no apps, history or settlement.")
@click.option("--url", default=None, help="The platform's address to print (default: the ISSUER setting).")
@with_appcontext
def seed_command(citizens: int, base_only: bool, url: str | None):
    """Seed the demo: orders, six sample apps certified in the sandbox, a quarter of citizens' activity, settled;
    then print where to look and the login of every role."""
    started = time.perf_counter()
    result = seed(citizens=citizens, story=not base_only, echo=click.echo)
    click.echo(f"Demo ready in {time.perf_counter() - started:.1f} s.")
    print_guide(result, (url or current_app.config["ISSUER"]).rstrip("/"), story=not base_only)


def print_guide(result: SeedResult, base: str, *, story: bool) -> None:
    past, current = result.when.past.code, result.when.current.code
    settled = result.settled
    click.echo(f"\nOpen Government App Market — {base}/")
    click.echo(f"Every account's password: {DEMO_PASSWORD}\n")
    rows = [
        ("admin", "admin@govmarket.example.cn",
         f"{base}/feedback: reported ratings to moderate · {base}/audit: the audit log"),
        ("finance", "finance@govmarket.example.cn",
         f"{base}/finance: the {'settled' if settled else 'unsettled'} quarter {past} (report, ledger, payouts) "
         f"and the open {current}"),
        ("auditor", "auditor@govmarket.example.cn",
         f"{base}/finance/ledger: the hash-chained ledger · {base}/finance/quarters/{past}/report"),
    ]
    for code, email in STAFF.items():
        rows.append(("department_staff", email,
                     f"{base}/orders and {base}/apps: your order's competing apps and their certification reports"
                     f" · {base}/feedback: complaints ({code})"))
    for key, name, _code in VENDORS:
        vendor = vendor_of(key)
        sample = next(a for a in SAMPLE_APPS if a.vendor == key)
        app = result.apps.get(sample.folder)
        if not story or app is None:
            rows.append(("vendor_member", vendor_email(key), f"{base}/apps ({name.split()[0]})"))
            continue
        live = sample.folder in result.published
        version = app.versions[-1].id if app.versions else "N"
        what = (f"{sample.name} published · {base}/finance/vendors/{vendor.id}/statement: its payments"
                if live else f"{sample.name} failed certification; its report: GET {base}/api/versions/"
                             f"{version}/report (bearer token of an API client made at {base}/account/clients)")
        rows.append(("vendor_member", vendor_email(key), f"{base}/apps/{app.id}: {what}"))
    rows.append(("citizen", "citizen@example.cn",
                 f"{base}/my/cases: a completed case, its rating, an answered complaint" if story else f"{base}/services"))
    width = max(len(email) for _role, email, _what in rows)
    for role, email, what in rows:
        click.echo(f"  {role:<17} {email:<{width}}  → {what}")
    click.echo(f"  {'citizen personas':<17} {'(no password)':<{width}}  → {base}/identity/personas: log in as a mock "
               "person, open an app, consent, apply")
    click.echo(f"  {'everyone':<17} {'(no login)':<{width}}  → {base}/services: the catalogue · "
               f"{base}/transparency/{past}: usage, ratings and payouts per app")
    if story and result.published:
        domain = current_app.config["APPS_DOMAIN"]
        click.echo("\nApp origins (each app on its own origin, opened from its catalogue page):")
        for sample in SAMPLE_APPS:
            if sample.folder in result.published:
                click.echo(f"  {sample.name:<6} http://{sample.folder}.{domain}/")
    if story:
        first = result.when.past.starts_at.astimezone(CHINA).date()
        last = (result.when.past.ends_at - timedelta(seconds=1)).astimezone(CHINA).date()
        click.echo(f"\nThe past quarter {past} ran {first} – {last} (China time); {current} is open.")
