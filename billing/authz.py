"""Who may do what in billing: one rule per use case, named like the service function it guards.

The platform itself (``core.auth.SYSTEM``, or ``None``: scheduled jobs, the operator's CLI, the
demo seeder) may do everything. Finance settles; auditors read the ledger and reports; a vendor sees
only its own statement.
"""

from __future__ import annotations

from core.auth import SystemActor, require_role
from core.errors import Forbidden
from core.roles import Role


def platform(actor) -> bool:
    return actor is None or isinstance(actor, SystemActor)


FINANCE = (Role.FINANCE,)
READERS = (Role.FINANCE, Role.AUDITOR)


def usage_record(actor) -> None:
    # Usage is reported by the platform (transaction completion), its operators' automation or finance
    # (reconciliations); never by the vendors who are paid on it.
    if not platform(actor):
        require_role(actor, Role.ADMIN, Role.FINANCE, action="report usage")


def usage_flag(actor) -> None:
    if not platform(actor):
        require_role(actor, *FINANCE, action="flag usage events")


def settlement_preview(actor) -> None:
    if not platform(actor):
        require_role(actor, *FINANCE, action="preview a settlement")


def settlement_post(actor) -> None:
    if not platform(actor):
        require_role(actor, *FINANCE, action="post a settlement")


def quarter_close(actor) -> None:
    if not platform(actor):
        require_role(actor, *FINANCE, action="close a quarter")


def quarters_list(actor) -> None:
    if not platform(actor):
        require_role(actor, *READERS, action="see the financial quarters")


def settlement_run_get(actor) -> None:
    if not platform(actor):
        require_role(actor, *READERS, action="see settlement runs")


def ledger_verify(actor) -> None:
    if not platform(actor):
        require_role(actor, *READERS, action="verify the ledger")


def ledger_read(actor) -> None:
    if not platform(actor):
        require_role(actor, *READERS, action="read the ledger")


def ledger_reverse(actor) -> None:
    if not platform(actor):
        require_role(actor, *FINANCE, action="reverse a journal entry")


def finance_report(actor) -> None:
    if not platform(actor):
        require_role(actor, *READERS, action="see the finance report")


def payout_file(actor) -> None:
    if not platform(actor):
        require_role(actor, *READERS, action="download the payout file")


def payee_set(actor) -> None:
    """Where a vendor is paid is finance's to register (from the vendor's contract), and the platform's CLI."""
    if not platform(actor):
        require_role(actor, *FINANCE, action="register a vendor's payee account")


def vendor_statement(actor, vendor_id: int) -> None:
    if platform(actor):
        return
    if str(actor.role) in {str(r) for r in READERS}:
        return
    require_role(actor, Role.VENDOR_MEMBER, Role.FINANCE, Role.AUDITOR, action="see a vendor statement")
    if actor.vendor_id != vendor_id:
        raise Forbidden(f"you may see only your own vendor's statement (vendor {actor.vendor_id}), not vendor {vendor_id}")


def transparency_report(actor) -> None:
    """Public: anyone, signed in or not."""
