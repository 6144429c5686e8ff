"""The platform: app factory, accounts and roles, catalogue, orders, vendors and apps, web UI and REST API."""
