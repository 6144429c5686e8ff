"""Tables of citizen identity and privacy: signing keys, profiles, federated logins, pairwise subjects,
consents, the data-access log, and the optional OpenID Connect provider's clients, codes and tokens."""

from __future__ import annotations

import time
from datetime import date, datetime

import sqlalchemy as sa
from authlib.integrations.sqla_oauth2 import OAuth2AuthorizationCodeMixin, OAuth2ClientMixin, OAuth2TokenMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db
from core.time import UTCDateTime, utcnow
from marketplace.accounts.models import CLIENT_AUTH_METHODS
from marketplace.accounts.passwords import verify_secret


class SigningKey(db.Model):
    """A key pair the platform signs identity tokens and OIDC ID tokens with.

    The newest key without ``retired_at`` signs; a retired key stays in the JWKS until ``published_until`` so
    tokens it signed shortly before a rotation still verify.
    """

    __tablename__ = "identity_signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    alg: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    # The private JWK. The database is the platform's secret store for it, like the session secret's env.
    private_jwk: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    public_jwk: Mapped[dict] = mapped_column(sa.JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CitizenProfile(db.Model):
    """What the platform holds about a citizen beyond name and resident ID, from the identity source
    (the upstream identity provider, or the mock person in development)."""

    __tablename__ = "identity_citizen_profiles"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    address: Mapped[str | None] = mapped_column(sa.String(300))
    birth_date: Mapped[date | None] = mapped_column(sa.Date)
    gender: Mapped[str | None] = mapped_column(sa.String(16))
    source: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class FederatedIdentity(db.Model):
    """An upstream identity provider's subject, linked to the citizen account it logs in."""

    __tablename__ = "identity_federated_identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    subject: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (sa.UniqueConstraint("issuer", "subject", name="uq_identity_federated_identities_iss_sub"),)


class PairwiseSubject(db.Model):
    """The random ``sub`` a citizen has towards one audience (an app, or an OIDC client), so audiences
    cannot correlate citizens by their subject."""

    __tablename__ = "identity_pairwise_subjects"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    sector: Mapped[str] = mapped_column(sa.String(120), nullable=False)  # "app:<id>" or "oidc:<client_id>"
    subject: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("user_id", "sector", name="uq_identity_pairwise_subjects_user_sector"),)


class Consent(db.Model):
    """A citizen's decision about sharing their data with one app. Its state is read from timestamps:
    granted (``granted_at``), declined (``declined_at``) or revoked (``revoked_at``); the latest wins."""

    __tablename__ = "identity_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    app_id: Mapped[int] = mapped_column(sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False, index=True)
    # What the app asked for when the citizen decided, and what they allowed (a subset of it).
    requested: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    fields: Mapped[list] = mapped_column(sa.JSON, nullable=False, default=list)
    purposes: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    granted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    app = relationship("App")

    __table_args__ = (
        sa.UniqueConstraint("user_id", "app_id", name="uq_identity_consents_user_app"),
        sa.CheckConstraint("(granted_at IS NULL) OR (declined_at IS NULL)", name="granted_or_declined"),
    )

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.declined_at is not None:
            return "declined"
        return "granted"


class AccessLogEntry(db.Model):
    """One read of a citizen's data through the platform: which app, when, which fields, why, by which route.

    Identical reads within a minute are counted on one entry (``count``, ``last_at``) so a busy app does not
    bury the citizen's log.
    """

    __tablename__ = "identity_access_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    app_id: Mapped[int | None] = mapped_column(sa.ForeignKey("apps.id", ondelete="SET NULL"), index=True)
    app_name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    fields: Mapped[list] = mapped_column(sa.JSON, nullable=False)
    purpose: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    via: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)

    __table_args__ = (sa.Index("ix_identity_access_log_user_time", "user_id", "occurred_at"),)


class DeletionRequest(db.Model):
    """A citizen's request that an app's vendor delete what the app holds about them: a tracked task with a
    deadline (``due_at``); the vendor closes it (``completed_at``) with a note the citizen reads."""

    __tablename__ = "identity_deletion_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    app_id: Mapped[int] = mapped_column(sa.ForeignKey("apps.id"), nullable=False)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("vendors.id"), nullable=False, index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(sa.Text)  # the vendor's answer to the citizen

    app = relationship("App")

    __table_args__ = (
        sa.CheckConstraint("completed_at IS NULL OR note IS NOT NULL", name="completed_has_note"),
        sa.CheckConstraint("due_at > requested_at", name="due_after_request"),
    )

    @property
    def state(self) -> str:
        if self.completed_at is not None:
            return "completed"
        return "overdue" if utcnow() > self.due_at else "open"


# --- The optional OpenID Connect provider (GOVMARKET_OIDC_PROVIDER=1) ------------------------------------


class OIDCClient(db.Model, OAuth2ClientMixin):
    """A relying party registered by an operator (e.g. another instance of the platform).

    ``client_secret`` holds an Argon2 hash; the plain secret is shown once, at registration.
    """

    __tablename__ = "identity_oidc_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def check_client_secret(self, client_secret: str) -> bool:
        return self.revoked_at is None and verify_secret(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in CLIENT_AUTH_METHODS

    def check_grant_type(self, grant_type):
        # Relying parties registered before refresh tokens existed named only authorization_code.
        return grant_type in {"authorization_code", "refresh_token"}

    @property
    def id_token_alg(self) -> str:
        return self.client_metadata.get("id_token_signed_response_alg") or "ES256"


class OIDCAuthorizationCode(db.Model, OAuth2AuthorizationCodeMixin):
    __tablename__ = "identity_oidc_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    # Set when the code is exchanged, in the same transaction as the token: a second exchange is a replay.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user = relationship("User")

    def is_expired(self) -> bool:
        return self.auth_time + 300 < time.time()


class OIDCToken(db.Model, OAuth2TokenMixin):
    __tablename__ = "identity_oidc_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    # The authorization code this token (or the token it was refreshed from) came from: a replayed code revokes
    # every token of its family (RFC 6749 §4.1.2, RFC 9700 §4.5).
    code_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    user = relationship("User")

    def is_expired(self) -> bool:
        return self.issued_at + self.expires_in < time.time()

    def is_refresh_token_valid(self, ttl_seconds: int) -> bool:
        return (bool(self.refresh_token) and not self.is_revoked()
                and self.issued_at + ttl_seconds >= time.time())

    def get_user(self):
        return self.user

    def get_client(self):
        return db.session.scalar(sa.select(OIDCClient).where(OIDCClient.client_id == self.client_id))
