"""Accounts and roles: users, web login, API clients and the OAuth 2 authorization server."""
