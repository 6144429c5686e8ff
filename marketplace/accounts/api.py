from __future__ import annotations

from flask_smorest import Blueprint

from marketplace.accounts import services
from marketplace.accounts.schemas import ClientCreate, ClientCreated, ClientOut, MeOut, UserCreate
from marketplace.apidoc import secured

blp = Blueprint("accounts_api", __name__, url_prefix="/api", description="Accounts and API clients")


@blp.get("/me")
@blp.response(200, MeOut)
@secured(blp)
def me(actor):
    """Who the bearer token acts for."""
    return actor


@blp.post("/users")
@blp.arguments(UserCreate)
@blp.response(201, MeOut)
@secured(blp, "users:write")
def user_create(actor, args):
    return services.user_create(actor, **args)


@blp.get("/clients")
@blp.response(200, ClientOut(many=True))
@secured(blp)
def client_list(actor):
    """Your API clients."""
    return services.client_list(actor)


@blp.post("/clients")
@blp.arguments(ClientCreate)
@blp.response(201, ClientCreated)
@secured(blp)
def client_create(actor, args):
    """A new API client acting for you with a subset of your scopes; its secret is shown once."""
    client, secret = services.client_create(actor, name=args["name"], scopes=args["scopes"])
    return {"client_id": client.client_id, "name": client.name, "scopes": client.scopes, "revoked_at": None,
            "client_secret": secret}


@blp.delete("/clients/<client_id>")
@blp.response(204)
@secured(blp)
def client_revoke(actor, client_id):
    services.client_revoke(actor, client_id)
