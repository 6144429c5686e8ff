"""Authorization rules for identity use cases; each has the name of its service function."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.auth import require_role
from core.errors import Forbidden
from core.roles import Role


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


def access_log_list(actor, citizen_id: int | None) -> None:
    """Citizens see their own log; admins and auditors audit anyone's."""
    require_role(actor, Role.CITIZEN, Role.ADMIN, Role.AUDITOR, action="read the data-access log")
    if str(actor.role) == Role.CITIZEN and citizen_id not in (None, actor.id):
        raise Forbidden("citizens see only their own data-access log")


def signing_key_rotate(actor) -> None:
    require_role(actor, Role.ADMIN, action="rotate the platform's signing key")


def oidc_client_create(actor) -> None:
    require_role(actor, Role.ADMIN, action="register OpenID Connect clients")


def my_data_export(actor) -> None:
    _citizen(actor, "download your data")


def deletion_request_create(actor) -> None:
    _citizen(actor, "ask an app's vendor to delete your data")


def deletion_request_list(actor) -> None:
    """Citizens see their own requests; vendor members their vendor's; admins all."""
    require_role(actor, Role.CITIZEN, Role.VENDOR_MEMBER, Role.ADMIN, action="see deletion requests")


def deletion_request_complete(actor, request) -> None:
    """Only a member of the vendor the request is addressed to closes it."""
    require_role(actor, Role.VENDOR_MEMBER, action="close a deletion request")
    if actor.vendor_id != request.vendor_id:
        raise Forbidden("this deletion request is addressed to another vendor")
