"""Authorization rules for identity use cases; each has the name of its service function."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from core.auth import require_role
from core.errors import Forbidden, NotFound
from core.roles import Role
from marketplace.identity.models import AccessLogEntry, DeletionRequest


def persona_login_allowed(settings: Mapping[str, Any]) -> bool:
    """Mock personas log in only in development, or where an operator switched them on outside
    production; never in production, whatever the flag says."""
    if settings.get("ENV") == "production":
        return False
    return settings.get("ENV") == "development" or bool(settings.get("PERSONA_LOGIN"))


def citizen_login_persona(settings: Mapping[str, Any]) -> None:
    if not persona_login_allowed(settings):
        raise Forbidden("logging in as a mock persona is only possible in development; "
                        "log in through the identity provider instead")


def _citizen(actor, action: str) -> None:
    require_role(actor, Role.CITIZEN, action=action)


def consent_status(actor) -> None:
    _citizen(actor, "give or check consent")


def consent_grant(actor) -> None:
    _citizen(actor, "share data with an app")


def consent_decline(actor) -> None:
    _citizen(actor, "decline sharing data with an app")


def consent_revoke(actor) -> None:
    _citizen(actor, "revoke a consent")


def consent_list(actor) -> None:
    _citizen(actor, "see your consents")


def identity_token_for(actor) -> None:
    _citizen(actor, "open an app as a citizen")


def access_log_list_scope(actor, citizen_id: int | None):
    """Citizens list their own log (Forbidden for anyone else's); admins and auditors audit anyone's, or the
    ``citizen_id`` they ask for."""
    require_role(actor, Role.CITIZEN, Role.ADMIN, Role.AUDITOR, action="read the data-access log")
    if str(actor.role) == Role.CITIZEN:
        if citizen_id not in (None, actor.id):
            raise Forbidden("citizens see only their own data-access log")
        citizen_id = actor.id
    return sa.true() if citizen_id is None else AccessLogEntry.user_id == citizen_id


def signing_key_rotate(actor) -> None:
    require_role(actor, Role.ADMIN, action="rotate the platform's signing key")


def oidc_client_create(actor) -> None:
    require_role(actor, Role.ADMIN, action="register OpenID Connect clients")


def my_data_export(actor) -> None:
    _citizen(actor, "download your data")


def deletion_request_create(actor) -> None:
    _citizen(actor, "ask an app's vendor to delete your data")


def deletion_request_list_scope(actor):
    """The deletion requests ``actor`` may list: a citizen's own, a vendor member's vendor's, all for admins."""
    require_role(actor, Role.CITIZEN, Role.VENDOR_MEMBER, Role.ADMIN, action="see deletion requests")
    if actor.role == Role.CITIZEN:
        return DeletionRequest.user_id == actor.id
    if actor.role == Role.VENDOR_MEMBER:
        return DeletionRequest.vendor_id == actor.vendor_id
    return sa.true()


def deletion_request_complete(actor, request) -> None:
    """Only a member of the vendor the request is addressed to closes it. For another vendor's member the request
    does not exist (404, as another vendor's app): a 403 would let request ids, and so citizens' requests to
    competitors, be counted."""
    require_role(actor, Role.VENDOR_MEMBER, action="close a deletion request")
    if actor.vendor_id != request.vendor_id:
        raise NotFound(f"deletion request {request.id} does not exist")
