"""Billing: usage metering, the double-entry ledger, quarterly settlement and finance reports.

Imports only ``core``. What it needs from the marketplace (orders, apps, ratings) comes through the
``billing.source.SettlementSource`` Protocol, plugged in by the app factory with
``billing.source.set_settlement_source(app, source)``.
"""

from __future__ import annotations


def init_app(app, api) -> None:
    """Register billing's tables, API blueprint, web pages and CLI commands on the app."""
    from billing import api as billing_api
    from billing import (
        cli,
        models,  # noqa: F401  (tables known to the app and to Alembic autogenerate)
        views,
    )

    api.register_blueprint(billing_api.blp)
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.billing_cli)
    app.cli.add_command(cli.ledger_cli)
