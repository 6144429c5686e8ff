"""Registers every part of the platform on the app: blueprints, CLI groups, plugged-in Protocols.

Each package adds itself here with one line; ``create_app`` calls ``register`` once.
"""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api


def register(app: Flask, api: Api) -> None:
    import core.audit  # noqa: F401  (the audit table belongs to every deployment)
    from billing import init_app as init_billing
    init_billing(app, api)  # billing: tables, API, finance pages, CLI
    # The marketplace: OAuth server and actor resolver first, then its APIs, pages and commands.
    from marketplace import health, observability, security_headers
    from marketplace.accounts import api as accounts_api
    from marketplace.accounts import models as _accounts  # noqa: F401
    from marketplace.accounts import oauth
    from marketplace.accounts import views as accounts_views
    from marketplace.audit import api as audit_api
    from marketplace.catalogue import api as catalogue_api
    from marketplace.catalogue import models as _catalogue  # noqa: F401
    from marketplace.cli import marketplace_commands
    from marketplace.demo.cli import demo_cli
    from marketplace.home import views as home_views
    from marketplace.orders import api as orders_api
    from marketplace.orders import models as _orders  # noqa: F401
    from marketplace.vendors import api as vendors_api
    from marketplace.vendors import models as _vendors  # noqa: F401

    oauth.init_app(app)
    from marketplace.identity import init_app as init_identity
    init_identity(app, api)  # identity: citizen login, consent, identity JWT and JWKS, access log
    observability.init_app(app)
    security_headers.init_app(app)  # CSP, nosniff, referrer policy, no framing on every platform response
    for blueprint in (accounts_api.blp, catalogue_api.blp, orders_api.blp, vendors_api.blp, audit_api.blp):
        api.register_blueprint(blueprint)
    from marketplace.audit import views as audit_views
    from marketplace.catalogue import views as catalogue_views
    from marketplace.orders import views as orders_views
    from marketplace.vendors import views as vendors_views
    for blueprint in (health.bp, accounts_views.bp, home_views.bp, catalogue_views.bp, orders_views.bp,
                      vendors_views.bp, audit_views.bp):
        app.register_blueprint(blueprint)
    for command in marketplace_commands:
        app.cli.add_command(command)
    app.cli.add_command(demo_cli)
    from marketplace.citizen import register as register_citizen
    register_citizen(app, api)  # citizens: life events, search, transactions, ratings, complaints, analytics
    from marketplace.gateway import init_app as init_gateway
    init_gateway(app)  # app gateway: launch codes, app origins, proxy to served instances, department calls
    from sandbox import models as _sandbox  # noqa: F401
    from sandbox.cli import sandbox_cli
    app.cli.add_command(sandbox_cli)
    from mockdata.cli import cli as mockdata_cli
    app.cli.add_command(mockdata_cli, "mockdata")
