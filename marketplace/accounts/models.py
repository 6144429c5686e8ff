from __future__ import annotations

import time
from datetime import datetime

import sqlalchemy as sa
from authlib.integrations.sqla_oauth2 import OAuth2ClientMixin, OAuth2TokenMixin
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.roles import Role
from core.time import UTCDateTime, utcnow
from marketplace.accounts.passwords import verify_secret

ROLE_VALUES = tuple(r.value for r in Role)
# How API clients and relying parties authenticate at the token and revocation endpoints: every one advertised in
# the authorization server's metadata works for every client, whatever its registration names.
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


class User(UserMixin, db.Model):
    """A person with one role, tied to their department or vendor where the role needs one."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(32), nullable=False, index=True)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"), index=True)
    vendor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("vendors.id"), index=True)
    # Citizens are real-name accounts: the resident ID number ties them to one identity across all apps.
    resident_id: Mapped[str | None] = mapped_column(sa.String(18), unique=True)
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Part of every web session's user id (get_id): raising it ends every session of this user at once, on logout
    # and deactivation, although the session itself is a signed cookie the browser keeps (docs/security.md).
    session_version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0, server_default="0")

    department = relationship("Department")
    vendor = relationship("Vendor", back_populates="members")

    __table_args__ = (
        sa.CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLE_VALUES)})", name="role_known"),
        sa.CheckConstraint("(role = 'department_staff') = (department_id IS NOT NULL)", name="staff_has_department"),
        sa.CheckConstraint("(role = 'vendor_member') = (vendor_id IS NOT NULL)", name="member_has_vendor"),
    )

    # Flask-Login
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    def get_id(self) -> str:
        """What Flask-Login keeps in the session: the id and the session version it was issued under."""
        return f"{self.id}:{self.session_version or 0}"

    @property
    def label(self) -> str:
        return f"{self.display_name} <{self.email}>"


class OAuth2Client(db.Model, OAuth2ClientMixin):
    """An API client (e.g. a vendor's CI) acting for one user with a subset of that user's scopes.

    ``client_secret`` holds an Argon2 hash; the plain secret is shown once, at creation.
    """

    __tablename__ = "oauth2_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user: Mapped[User] = relationship()

    @property
    def name(self) -> str:
        return self.client_metadata.get("client_name", "")

    @property
    def scopes(self) -> list[str]:
        return self.client_metadata.get("scope", "").split()

    def get_allowed_scope(self, scope) -> str:
        # RFC 6749 §3.3: a request without scope gets the client's whole (pre-registered) scope.
        if not scope:
            return " ".join(self.scopes)
        return super().get_allowed_scope(scope)

    def check_client_secret(self, client_secret: str) -> bool:
        return self.revoked_at is None and verify_secret(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in CLIENT_AUTH_METHODS


class OAuth2Token(db.Model, OAuth2TokenMixin):
    __tablename__ = "oauth2_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    user: Mapped[User] = relationship()

    def is_expired(self) -> bool:
        return self.issued_at + self.expires_in < time.time()


class VendorApplication(db.Model):
    """A company's application to become a vendor, with its business licence, decided by an administrator."""

    __tablename__ = "vendor_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_name: Mapped[str] = mapped_column(sa.String(160), nullable=False)
    credit_code: Mapped[str] = mapped_column(sa.String(18), nullable=False, index=True)
    contact_name: Mapped[str] = mapped_column(sa.String(80), nullable=False)
    contact_email: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    contact_phone: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    licence_sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    licence_filename: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    licence_size: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    approved: Mapped[bool | None] = mapped_column(sa.Boolean)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    vendor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("vendors.id"))

    @property
    def status(self) -> str:
        return "pending" if self.decided_at is None else ("approved" if self.approved else "rejected")


class Invitation(db.Model):
    """An invitation to join a vendor as a member: the link carries a token, only its hash is kept."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("vendors.id"), nullable=False, index=True)
    email: Mapped[str] = mapped_column(sa.String(254), nullable=False)
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class StaffNetwork(db.Model):
    """A network a vendor's members logged in from, for the staff rating signal (``marketplace.ratings.signals``):
    a keyed hash of its /24 or /48 prefix, never an address, and not which member. Forgotten ``STAFF_TRACE_DAYS``
    after it was last seen (``marketplace.accounts.staff_traces``)."""

    __tablename__ = "vendor_staff_networks"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False)
    network_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)

    __table_args__ = (sa.UniqueConstraint("vendor_id", "network_hash", name="uq_vendor_staff_networks_vendor_network"),)


class StaffCitizen(db.Model):
    """A citizen account that logged in from a browser one of a vendor's members had logged in with (the signed
    known-device cookie names their accounts): the staff member's own citizen account, or one they use. For the
    staff rating signal; forgotten ``STAFF_TRACE_DAYS`` after it was last seen."""

    __tablename__ = "vendor_staff_citizens"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("vendors.id", ondelete="CASCADE"), nullable=False)
    citizen_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)

    __table_args__ = (sa.UniqueConstraint("vendor_id", "citizen_id", name="uq_vendor_staff_citizens_vendor_citizen"),)
