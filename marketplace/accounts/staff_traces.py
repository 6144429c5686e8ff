"""What the staff rating signal needs to know of a vendor's staff, and no more (issue 13).

A vendor's staff rating their own apps is the one manipulation the ratings alone cannot show; the platform knows
it from two traces its logins leave, both kept per vendor (not per member) and forgotten ``STAFF_TRACE_DAYS``
after they were last seen:

- **networks** a vendor's members log in from (the office, a home they work from): a keyed hash (HMAC with the
  platform's secret key) of the address's /24 (IPv4) or /48 (IPv6) network — never an address, and nothing that
  says which member;
- **citizen accounts** that log in from a browser a vendor's members have logged in with: the browser carries the
  signed known-device cookie of the failed-login delay (``login_delay``), which names the staff accounts it
  logged in to (as digests of their email addresses). That is the staff member's own citizen account, or one
  they use on the work computer.

``marketplace.ratings`` reads them when a rating is given (``staff_traces_of``): a rating of a vendor's app from
one of its networks or linked citizen accounts goes to the moderators' queue with the signal ``staff``; it keeps
counting until a moderator hides it. Rotating the secret key makes the stored network hashes unmatched until
the staff log in again.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from core.extensions import db, dialect_insert
from core.roles import Role
from core.time import utcnow
from marketplace.accounts.models import StaffCitizen, StaffNetwork, User
from marketplace.vendors.models import Vendor

STAFF_TRACE_DAYS = 90


def account_digest(email: str) -> str:
    """How the known-device cookie names an account: a digest of its email address, not the address."""
    return hashlib.sha256((email or "").strip().lower().encode()).hexdigest()[:32]


def network_prefix(remote_addr: str | None) -> str:
    """The client's network: its /24 (IPv4) or /48 (IPv6), or "" for no valid address."""
    try:
        address = ipaddress.ip_address((remote_addr or "").strip())
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def network_hash(remote_addr: str | None, key: str) -> str:
    """The keyed hash the staff traces keep of the client's network ("" for no valid address)."""
    network = network_prefix(remote_addr)
    if not network or not key:
        return ""
    return hmac.new(key.encode(), f"staff-network\n{network}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class StaffTraces:
    """One vendor's staff traces seen within ``STAFF_TRACE_DAYS``."""

    networks: frozenset[str] = frozenset()
    citizens: frozenset[int] = frozenset()


def _seen(table: sa.Table, key: str, vendor_id: int, value, now: datetime) -> None:
    insert = dialect_insert(table).values(vendor_id=vendor_id, first_seen_at=now, last_seen_at=now, **{key: value})
    db.session.execute(insert.on_conflict_do_update(index_elements=["vendor_id", key],
                                                    set_={"last_seen_at": insert.excluded.last_seen_at}))


def staff_trace_record(user: User, *, network: str, browser_accounts: Iterable[str],
                       now: datetime | None = None) -> None:
    """Remember what a login says about vendor staff, then forget traces older than ``STAFF_TRACE_DAYS``.

    Called after every web login (``accounts.views.start_session``). A vendor member's login remembers
    ``network`` (``network_hash`` of the client address) for their vendor. A citizen's login remembers the citizen
    for every vendor one of whose active members this browser logged in to (``browser_accounts``: the digests the
    known-device cookie holds). Other logins remember nothing. Commits.
    """
    now = now or utcnow()
    if user.role == Role.VENDOR_MEMBER and user.vendor_id is not None and network:
        _seen(StaffNetwork.__table__, "network_hash", user.vendor_id, network, now)
    browser_accounts = set(browser_accounts)
    if user.role == Role.CITIZEN and browser_accounts:
        members = db.session.execute(sa.select(User.email, User.vendor_id).where(
            User.role == Role.VENDOR_MEMBER.value, User.active.is_(True)))
        for vendor_id in sorted({vendor_id for email, vendor_id in members if account_digest(email) in browser_accounts}):
            _seen(StaffCitizen.__table__, "citizen_id", vendor_id, user.id, now)
    cutoff = now - timedelta(days=STAFF_TRACE_DAYS)
    db.session.execute(sa.delete(StaffNetwork).where(StaffNetwork.last_seen_at < cutoff))
    db.session.execute(sa.delete(StaffCitizen).where(StaffCitizen.last_seen_at < cutoff))
    db.session.commit()


def staff_links_of_citizen(citizen_id: int, now: datetime | None = None) -> list[tuple[str, datetime, datetime]]:
    """The vendors whose staff a citizen account is linked to, within ``STAFF_TRACE_DAYS``: (vendor name, first
    seen, last seen), for the citizen's own view of what the platform holds about them (My data)."""
    cutoff = (now or utcnow()) - timedelta(days=STAFF_TRACE_DAYS)
    rows = db.session.execute(sa.select(Vendor.name, StaffCitizen.first_seen_at, StaffCitizen.last_seen_at)
                              .join(Vendor, Vendor.id == StaffCitizen.vendor_id)
                              .where(StaffCitizen.citizen_id == citizen_id, StaffCitizen.last_seen_at >= cutoff)
                              .order_by(StaffCitizen.last_seen_at.desc()))
    return [(name, first, last) for name, first, last in rows]


def staff_traces_of(vendor_id: int, now: datetime) -> StaffTraces:
    """The vendor's staff networks and linked citizen accounts seen within ``STAFF_TRACE_DAYS`` before ``now``."""
    cutoff = now - timedelta(days=STAFF_TRACE_DAYS)
    networks = db.session.scalars(sa.select(StaffNetwork.network_hash).where(
        StaffNetwork.vendor_id == vendor_id, StaffNetwork.last_seen_at >= cutoff))
    citizens = db.session.scalars(sa.select(StaffCitizen.citizen_id).where(
        StaffCitizen.vendor_id == vendor_id, StaffCitizen.last_seen_at >= cutoff))
    return StaffTraces(frozenset(networks), frozenset(citizens))
