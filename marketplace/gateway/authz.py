"""Who may use the gateway. Launching an app is for citizens; the rest is the platform acting on a code or
session the citizen's browser presents."""

from __future__ import annotations

from core.auth import require_role
from core.errors import Forbidden
from core.roles import Role


def app_launch(actor) -> None:
    require_role(actor, Role.CITIZEN, action="use an app")
    if not getattr(actor, "resident_id", None):
        raise Forbidden("apps serve real-name citizens; this account has no verified resident ID — log in again "
                        "through the identity provider")
