"""The citizen side of the market: life events and search, transactions, ratings, complaints, department
analytics, and the marketplace's SettlementSource for billing.

``register`` is the one call ``marketplace.components`` makes for all of it.
"""

from __future__ import annotations


def register(app, api) -> None:
    """Tables, REST APIs, web pages, and billing's settlement source."""
    from billing.source import set_settlement_source
    from marketplace.billing_source import MarketplaceSettlementSource
    from marketplace.catalogue import models as _catalogue  # noqa: F401  (life events)
    from marketplace.catalogue import statistics as _statistics  # noqa: F401  (kept in step with every rating write)
    from marketplace.complaints import models as _complaints  # noqa: F401
    from marketplace.ratings import models as _ratings  # noqa: F401
    from marketplace.transactions import models as _transactions  # noqa: F401

    set_settlement_source(app, MarketplaceSettlementSource())
    _register_web(app, api)


def _register_web(app, api) -> None:
    from marketplace.analytics import api as analytics_api
    from marketplace.catalogue import citizen_api
    from marketplace.complaints import api as complaints_api
    from marketplace.ratings import api as ratings_api
    from marketplace.transactions import api as transactions_api

    for blueprint in (citizen_api.blp, transactions_api.blp, ratings_api.blp, complaints_api.blp, analytics_api.blp):
        api.register_blueprint(blueprint)
    from marketplace.citizen import views

    app.register_blueprint(views.bp)
