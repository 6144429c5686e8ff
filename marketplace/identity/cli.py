"""`govmarket identity …`: rotate the signing key, register OpenID Connect relying parties, show the JWKS."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from core.auth import SYSTEM
from marketplace.identity import keys
from marketplace.identity.oidc_provider import oidc_client_create


@click.group("identity", help="Citizen identity: signing keys and OpenID Connect clients.")
def identity_cli() -> None:
    pass


@identity_cli.command("rotate-key")
@click.option("--grace-hours", type=click.IntRange(min=0), default=None,
              help="Keep the old public key in the JWKS this long (default: GOVMARKET_SIGNING_KEY_GRACE_HOURS).")
@with_appcontext
def rotate_key(grace_hours: int | None) -> None:
    """Retire the signing key and start signing with a new one."""
    key = keys.signing_key_rotate(SYSTEM, grace_hours=grace_hours)
    click.echo(f"now signing with {key.kid}")


@identity_cli.command("jwks")
@with_appcontext
def show_jwks() -> None:
    """Print the published JWKS (what /.well-known/jwks.json serves)."""
    click.echo(json.dumps(keys.jwks(), indent=2))


@identity_cli.command("oidc-client-add")
@click.option("--name", required=True, help="Who the relying party is, e.g. 'Market instance B'.")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True,
              help="Its callback, e.g. https://market.example.cn/identity/federated/callback (repeatable).")
@click.option("--id-token-alg", type=click.Choice(keys.ALGORITHMS), default=keys.ALGORITHM, show_default=True,
              help="How its ID tokens are signed (RS256 for relying parties that accept nothing else).")
@with_appcontext
def oidc_client_add(name: str, redirect_uris: tuple[str, ...], id_token_alg: str) -> None:
    """Register a relying party of this instance's OpenID Connect provider; prints its id and secret once."""
    client, secret = oidc_client_create(SYSTEM, name=name, redirect_uris=list(redirect_uris),
                                        id_token_alg=id_token_alg)
    click.echo(json.dumps({"client_id": client.client_id, "client_secret": secret}))
