"""Billing: usage metering, the double-entry ledger, quarterly settlement and finance reports.

Imports only ``core``. What it needs from the marketplace (orders, apps, ratings) comes through the
``billing.source.SettlementSource`` Protocol, plugged in by the app factory.
"""

from __future__ import annotations


def init_app(app, api) -> None:
    """Register billing's tables, API blueprint, web pages and CLI commands on the app."""
    from billing import models  # noqa: F401  (tables known to the app and to Alembic autogenerate)

    try:
        from billing import api as billing_api, cli, views
    except ImportError:  # the package is assembled file by file; the tables come first
        return
    api.register_blueprint(billing_api.blp)
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.billing_cli)
    app.cli.add_command(cli.ledger_cli)
