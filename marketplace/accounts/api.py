from __future__ import annotations

from flask import url_for
from flask_smorest import Blueprint

from marketplace.accounts import services
from marketplace.accounts.oauth import caller_scopes
from marketplace.accounts.schemas import ClientCreate, ClientCreated, ClientOut, MeOut, UserCreate
from marketplace.apidoc import created, location_of, secured

blp = Blueprint("accounts_api", __name__, url_prefix="/api", description="Accounts and API clients")


def _client_out(client, secret: str | None = None) -> dict:
    out = {"client_id": client.client_id, "name": client.name, "scopes": client.scopes,
           "revoked_at": client.revoked_at}
    if secret is not None:
        out["client_secret"] = secret
    return out


@blp.get("/me")
@blp.response(200, MeOut)
@secured(blp)
@blp.doc(operationId="me_get")
def me(actor):
    """Who the bearer token acts for."""
    return actor


@blp.post("/users")
@blp.arguments(UserCreate)
@blp.response(201, MeOut)
@secured(blp, "users:write")
def user_create(actor, args):
    """Create a user account (admins)."""
    return services.user_create(actor, **args)


@blp.get("/clients")
@blp.response(200, ClientOut(many=True))
@secured(blp)
def client_list(actor):
    """Your API clients."""
    return [_client_out(c) for c in services.client_list(actor)]


@blp.post("/clients")
@blp.arguments(ClientCreate)
@blp.response(201, ClientCreated)
@blp.doc(**location_of("client_get", {"client_id": "client_id"}, "client_rotate", "client_revoke"))
@secured(blp, "clients:write")
def client_create(actor, args):
    """Create an API client acting for you, with a subset of the calling token's scopes; its secret is shown once."""
    client, secret = services.client_create(actor, name=args["name"], scopes=args["scopes"], within=caller_scopes())
    return created(_client_out(client, secret), url_for("accounts_api.client_get", client_id=client.client_id))


@blp.get("/clients/<client_id>")
@blp.response(200, ClientOut)
@secured(blp)
def client_get(actor, client_id):
    """One of your API clients."""
    return _client_out(services.client_get(actor, client_id))


@blp.post("/clients/<client_id>/secret")
@blp.response(200, ClientCreated)
@secured(blp, "clients:write")
def client_rotate(actor, client_id):
    """Give one of your API clients a new secret (shown once); the old one stops working at once."""
    client, secret = services.client_rotate(actor, client_id, within=caller_scopes())
    return _client_out(client, secret)


@blp.delete("/clients/<client_id>")
@blp.response(204)
@secured(blp, "clients:write")
def client_revoke(actor, client_id):
    """Revoke one of your API clients and every token it holds."""
    services.client_revoke(actor, client_id)
