"""Who may do what in billing: one rule per use case, named like the service function it guards.

``actor is None`` is the platform itself (scheduled jobs, the operator's CLI): allowed everything
except reading a vendor's data on a vendor's behalf, which needs no special case.
Finance settles; auditors read the ledger and reports; a vendor sees only its own statement.
"""

from __future__ import annotations

from core.auth import require_role
from core.errors import Forbidden
from core.roles import Role

FINANCE = (Role.FINANCE,)
READERS = (Role.FINANCE, Role.AUDITOR)


def usage_record(actor) -> None:
    # Usage is reported by the platform (transaction completion) or its operators' automation; never by
    # the vendors who are paid on it.
    if actor is not None:
        require_role(actor, Role.ADMIN, action="report usage")


def usage_flag(actor) -> None:
    if actor is not None:
        require_role(actor, *FINANCE, action="flag usage events")


def settlement_preview(actor) -> None:
    if actor is not None:
        require_role(actor, *FINANCE, action="preview a settlement")


def settlement_post(actor) -> None:
    if actor is not None:
        require_role(actor, *FINANCE, action="post a settlement")


def quarter_close(actor) -> None:
    if actor is not None:
        require_role(actor, *FINANCE, action="close a quarter")


def quarters_list(actor) -> None:
    if actor is not None:
        require_role(actor, *READERS, action="see the financial quarters")


def settlement_run_get(actor) -> None:
    if actor is not None:
        require_role(actor, *READERS, action="see settlement runs")


def ledger_verify(actor) -> None:
    if actor is not None:
        require_role(actor, *READERS, action="verify the ledger")


def ledger_read(actor) -> None:
    if actor is not None:
        require_role(actor, *READERS, action="read the ledger")


def ledger_reverse(actor) -> None:
    if actor is not None:
        require_role(actor, *FINANCE, action="reverse a journal entry")


def finance_report(actor) -> None:
    if actor is not None:
        require_role(actor, *READERS, action="see the finance report")


def payout_file(actor) -> None:
    if actor is not None:
        require_role(actor, *READERS, action="download the payout file")


def vendor_statement(actor, vendor_id: int) -> None:
    if actor is None:
        return
    if str(actor.role) in {str(r) for r in READERS}:
        return
    require_role(actor, Role.VENDOR_MEMBER, Role.FINANCE, Role.AUDITOR, action="see a vendor statement")
    if actor.vendor_id != vendor_id:
        raise Forbidden(f"you may see only your own vendor's statement (vendor {actor.vendor_id}), not vendor {vendor_id}")


def transparency_report(actor) -> None:
    """Public: anyone, signed in or not."""
