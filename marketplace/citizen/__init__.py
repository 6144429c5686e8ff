"""The citizen-facing read side, above the domains it reads: the catalogue as citizens see it (search, life events,
an item's apps side by side, recommendations), the kept statistics those pages read, and the citizen pages.
"""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from marketplace.citizen import api as citizen_api
from marketplace.citizen import cli, models, page_cache, statistics, views  # noqa: F401  (models: the tables)
from marketplace.transactions import services as transactions


def init_app(app: Flask, api: Api) -> None:
    """The citizen catalogue API and pages, `govmarket statistics`; every completed case counts in the statistics
    (rating writes are seen by ``statistics``' session hooks, registered when it is imported)."""
    api.register_blueprint(citizen_api.blp)
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.statistics_cli)
    transactions.case_completed.connect(statistics.case_completed)
    page_cache.catalogue_changed.connect(page_cache.invalidate)  # the catalogue pages' kept parts
