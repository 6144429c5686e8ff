"""Operator commands for accounts: `govmarket users create`, `govmarket users create-client`."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from core.auth import SYSTEM
from core.errors import DomainError
from core.extensions import db
from marketplace.accounts import services
from marketplace.accounts.models import User
from marketplace.catalogue.services import department_get


@click.group("users", help="Create users and API clients.")
def users_cli():
    pass


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--role", required=True, type=click.Choice(["citizen", "department_staff", "vendor_member", "finance",
                                                          "auditor", "admin"]))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--department", "department", default=None, help="Department code (department_staff)")
@click.option("--vendor", "vendor", default=None, type=int, help="Vendor id (vendor_member)")
@click.option("--resident-id", default=None, help="Resident ID number (citizens)")
@with_appcontext
def create_user(email, display_name, role, password, department, vendor, resident_id):
    """Create a user with one role."""
    try:
        department_id = department_get(department).id if department else None
        user = services.user_create(SYSTEM, email=email, display_name=display_name, role=role, password=password,
                                    department_id=department_id, vendor_id=vendor, resident_id=resident_id)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"created user {user.id} {user.email} ({user.role})")


@users_cli.command("create-client")
@click.option("--email", required=True, help="The user the client acts for")
@click.option("--name", required=True)
@click.option("--scope", "scopes", multiple=True, required=True)
@with_appcontext
def create_client(email, name, scopes):
    """Create an API client for a user and print its id and secret (shown once)."""
    user = db.session.scalar(sa.select(User).where(User.email == email.lower()))
    if user is None:
        raise click.ClickException(f"no user with email {email}")
    try:
        client, secret = services.client_create(user, name=name, scopes=list(scopes))
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"client_id={client.client_id}\nclient_secret={secret}")
