"""The `world` fixture's marketplace with published apps and citizens, for the citizen-side tests.

Versions are published by writing their timestamps directly: the review/publish use cases belong to the
vendor and sandbox packages; here only the state they leave behind matters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from core.auth import SYSTEM
from core.ids import resident_id_check_char
from core.time import utcnow

__all__ = ["market"]


@dataclass
class Market:
    world: object
    apps: dict = field(default_factory=dict)  # name -> App
    citizens: dict = field(default_factory=dict)  # name -> User

    def citizen(self, name: str):
        from marketplace.accounts import services as accounts

        if name not in self.citizens:
            seq = 100 + len(self.citizens)
            first17 = f"110105199003{seq:03d}" + "45"
            self.citizens[name] = accounts.user_create(
                SYSTEM, email=f"{name}@citizen.example.cn", display_name=name, role="citizen",
                password="correct horse battery", resident_id=first17 + resident_id_check_char(first17))
        return self.citizens[name]

    def complete(self, citizen, app, *, case: str | None = None, when=None, decision: str = "accepted"):
        """A case of ``citizen`` with ``app`` the department decided."""
        from marketplace.transactions import services as transactions

        txn = transactions.transaction_start(citizen, app.id)
        return transactions.transaction_record_submission(
            txn.id, department_case_number=case or f"DEPT-{txn.id}", decision=decision, reasons=[],
            occurred_at=when or utcnow())


def publish(app, when=None):
    from core.extensions import db
    from marketplace.vendors.models import AppVersion

    moment = when or utcnow() - timedelta(days=30)
    version = AppVersion(app_id=app.id, version=f"1.0.{len(app.versions)}", bundle_sha256="0" * 64, bundle_size=1,
                         uploaded_at=moment, approved_at=moment, published_at=moment)
    db.session.add(version)
    db.session.commit()
    return version


@pytest.fixture
def market(world):
    from core.extensions import db
    from marketplace.accounts.models import User
    from marketplace.vendors import services as vendors
    from marketplace.vendors.models import App

    m = Market(world)
    app_a = db.session.get(App, world.ids["app_a"])
    publish(app_a)
    rival = vendors.app_create(db.session.get(User, world.ids["vendor_b"]), order_id=world.ids["order_a"],
                               name="Rival B", slug="rival-b")
    publish(rival)
    unpublished = vendors.app_create(db.session.get(User, world.ids["vendor_b"]), order_id=world.ids["order_a"],
                                     name="Draft C", slug="draft-c")
    m.apps.update(a=app_a, b=rival, draft=unpublished)
    m.citizens["citizen"] = db.session.get(User, world.ids["citizen"])
    return m
