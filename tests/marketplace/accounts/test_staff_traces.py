"""The traces staff logins leave for the staff rating signal: only what the rule needs (a keyed hash of a network,
never an address; no member named), only for vendor members and the citizen accounts in their browsers, and
forgotten after ``STAFF_TRACE_DAYS``."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import sqlalchemy as sa

from core.extensions import db
from core.time import utcnow
from tests.marketplace.webpages import PASSWORD, submit


def _user(world, name):
    from marketplace.accounts.models import User

    return db.session.get(User, world.ids[name])


def test_a_vendor_members_login_keeps_a_keyed_hash_of_its_network_and_nothing_else(app, world, client):
    from marketplace.accounts.models import StaffNetwork
    from marketplace.accounts.staff_traces import network_hash, network_prefix

    submit(client, "/login", {"email": "vendor_a@test.example.cn", "password": PASSWORD},
           environ_base={"REMOTE_ADDR": "203.0.113.7"})
    submit(client, "/login", {"email": "staff_a@test.example.cn", "password": PASSWORD},
           environ_base={"REMOTE_ADDR": "192.0.2.1"})  # department staff leave no trace
    (row,) = db.session.scalars(sa.select(StaffNetwork)).all()
    assert row.vendor_id == world.ids["org_a"]
    assert row.network_hash == network_hash("203.0.113.200", app.config["SECRET_KEY"])  # the /24, not the address
    stored = " ".join(str(v) for v in db.session.execute(sa.select(StaffNetwork.__table__)).one())
    assert "203.0.113" not in stored
    assert row.network_hash != hashlib.sha256(network_prefix("203.0.113.7").encode()).hexdigest()  # keyed
    assert network_hash("203.0.113.7", "another key") != row.network_hash
    assert network_hash("2001:db8:1:2::7", "k") == network_hash("2001:db8:1:ffff::1", "k")  # one /48
    assert network_hash("not an address", "k") == ""


def test_a_citizen_is_linked_only_to_the_vendors_whose_members_used_the_browser(world):
    from marketplace.accounts.staff_traces import account_digest, staff_trace_record, staff_traces_of

    citizen = _user(world, "citizen")
    browser = [account_digest("VENDOR_A@test.example.cn "), account_digest("staff_a@test.example.cn")]
    staff_trace_record(citizen, network="", browser_accounts=browser)
    now = utcnow()
    assert staff_traces_of(world.ids["org_a"], now).citizens == {citizen.id}
    assert staff_traces_of(world.ids["org_b"], now).citizens == frozenset()
    # A member's login leaves no citizen link, whatever the browser carries.
    staff_trace_record(_user(world, "vendor_b"), network="n", browser_accounts=browser)
    assert staff_traces_of(world.ids["org_b"], now).citizens == frozenset()


def test_traces_are_forgotten_after_the_retention(world):
    from marketplace.accounts.models import StaffCitizen, StaffNetwork
    from marketplace.accounts.staff_traces import STAFF_TRACE_DAYS, account_digest, staff_trace_record, staff_traces_of

    long_ago = utcnow() - timedelta(days=STAFF_TRACE_DAYS + 1)
    staff_trace_record(_user(world, "vendor_a"), network="old-office", now=long_ago, browser_accounts=[])
    staff_trace_record(_user(world, "citizen"), network="", now=long_ago,
                       browser_accounts=[account_digest("vendor_a@test.example.cn")])
    now = utcnow()
    assert staff_traces_of(world.ids["org_a"], now).networks == frozenset()  # not used once expired ...
    assert staff_traces_of(world.ids["org_a"], now).citizens == frozenset()
    staff_trace_record(_user(world, "vendor_a"), network="office", browser_accounts=[])
    # ... and deleted by the next login's record; a network seen again is kept from its last sighting.
    assert db.session.scalars(sa.select(StaffNetwork.network_hash)).all() == ["office"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StaffCitizen)) == 0
    staff_trace_record(_user(world, "vendor_a"), network="office", browser_accounts=[],
                       now=now + timedelta(days=STAFF_TRACE_DAYS - 1))
    assert staff_traces_of(world.ids["org_a"], now + timedelta(days=2 * STAFF_TRACE_DAYS - 2)).networks == {"office"}
