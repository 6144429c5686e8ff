"""Account use cases: users, authentication, API clients."""

from __future__ import annotations

import re
import secrets

import sqlalchemy as sa
from blinker import Namespace

from core import audit
from core.errors import Conflict, Forbidden, NotFound, Unauthenticated, ValidationError
from core.extensions import db
from core.ids import resident_id_problem
from core.roles import Role
from core.time import utcnow
from marketplace.accounts import authz
from marketplace.accounts.models import OAuth2Client, User
from marketplace.accounts.passwords import hash_secret, verify_secret
from marketplace.accounts.scopes import ROLE_SCOPES, SCOPES
from marketplace.catalogue.models import Department
from marketplace.vendors.models import Vendor

_signals = Namespace()
# Sent with the user by user_logout before its commit: receivers write in the same database transaction. The
# gateway's ``init_app`` connects it to end that citizen's sessions on the apps' origins; it sits above accounts.
sessions_ended = _signals.signal("sessions-ended")

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
# A dummy hash checked when the email is unknown, so response time does not reveal which emails exist.
_DUMMY_HASH = None


def user_create(actor, *, email: str, display_name: str, role: str, password: str | None = None,
                department_id: int | None = None, vendor_id: int | None = None,
                resident_id: str | None = None) -> User:
    """Create a user with one role. Admins only (the CLI acts as the system admin).

    Raises ValidationError for a bad email, weak password, unknown role or a missing/extra
    department or vendor; Conflict if the email or resident ID is already registered.
    """
    authz.user_create(actor)
    email = (email or "").strip().lower()
    errors: dict[str, str] = {}
    if not EMAIL_RE.match(email):
        errors["email"] = f"{email!r} is not an email address"
    if role not in {r.value for r in Role}:
        errors["role"] = f"{role!r} is not a role; use one of {', '.join(r.value for r in Role)}"
    if password is not None and len(password) < MIN_PASSWORD:
        errors["password"] = f"use at least {MIN_PASSWORD} characters"
    if role == Role.DEPARTMENT_STAFF and department_id is None:
        errors["department"] = "department staff must belong to a department"
    if role != Role.DEPARTMENT_STAFF and department_id is not None:
        errors["department"] = "only department staff belong to a department"
    if role == Role.VENDOR_MEMBER and vendor_id is None:
        errors["vendor"] = "vendor members must belong to a vendor"
    if role != Role.VENDOR_MEMBER and vendor_id is not None:
        errors["vendor"] = "only vendor members belong to a vendor"
    if resident_id is not None:
        problem = resident_id_problem(resident_id)
        if problem:
            errors["resident_id"] = problem
    if not (display_name or "").strip():
        errors["display_name"] = "give the person's name"
    if errors:
        raise ValidationError("the user could not be created: " + "; ".join(f"{k}: {v}" for k, v in errors.items()),
                              errors=errors)
    if db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise Conflict(f"a user with email {email} already exists")
    if resident_id and db.session.scalar(sa.select(User.id).where(User.resident_id == resident_id)):
        raise Conflict("a user with this resident ID number already exists")
    _check_tenant_exists(department_id, vendor_id)
    user = User(email=email, display_name=display_name.strip(), role=role,
                password_hash=hash_secret(password) if password else None,
                department_id=department_id, vendor_id=vendor_id, resident_id=resident_id)
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.create", "user", user.id, {"email": email, "role": role},
                 department_id=department_id, vendor_id=vendor_id)
    db.session.commit()
    return user


def _check_tenant_exists(department_id, vendor_id) -> None:
    if department_id is not None and db.session.get(Department, department_id) is None:
        raise ValidationError(f"department {department_id} does not exist", errors={"department": "unknown"})
    if vendor_id is not None and db.session.get(Vendor, vendor_id) is None:
        raise ValidationError(f"vendor {vendor_id} does not exist", errors={"vendor": "unknown"})


def user_authenticate(email: str, password: str) -> User:
    """Check a web login. Raises Unauthenticated with one message for every failure, so it does not
    reveal which emails exist."""
    global _DUMMY_HASH
    email = (email or "").strip().lower()
    user = db.session.scalar(sa.select(User).where(User.email == email))
    if user is None:
        _DUMMY_HASH = _DUMMY_HASH or hash_secret(secrets.token_hex(8))
        verify_secret(_DUMMY_HASH, password or "")
    if user is None or not user.active or not verify_secret(user.password_hash, password or ""):
        raise Unauthenticated("the email or password is wrong")
    user.last_login_at = utcnow()
    audit.record(user, "user.login", "user", user.id, department_id=user.department_id, vendor_id=user.vendor_id)
    db.session.commit()
    return user


def user_get(user_id: int) -> User | None:
    return db.session.get(User, int(user_id))


def session_user(session_id: str) -> User | None:
    """The active user a web session names (``User.get_id``: "<id>:<session version>"), or None when the
    session predates the user's last logout (or is malformed, or the user is deactivated)."""
    user_id, _, version = (session_id or "").partition(":")
    if not (user_id.isdigit() and version.isdigit()) or int(user_id) > 2**31 - 1:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or (user.session_version or 0) != int(version):
        return None
    return user


def user_logout(user: User) -> None:
    """End every web session of ``user`` (the session version moves on, so a copy of a session cookie taken
    before stops working too) and let the packages that keep sessions of their own (the gateway) end them
    through ``sessions_ended``. The user themself calls it; raises nothing."""
    db.session.execute(sa.update(User).where(User.id == user.id)
                       .values(session_version=sa.func.coalesce(User.session_version, 0) + 1))
    audit.record(user, "user.logout", "user", user.id, department_id=user.department_id, vendor_id=user.vendor_id)
    sessions_ended.send(user)
    db.session.commit()


def user_list(actor, *, role: str | None = None):
    authz.user_list(actor)
    query = sa.select(User).order_by(User.id)
    if role:
        query = query.where(User.role == role)
    return query


def client_create(actor, *, name: str, scopes: list[str], within: frozenset[str] | None = None,
                  ) -> tuple[OAuth2Client, str]:
    """Create an API client acting for ``actor`` with ``scopes`` (a subset of what the role may hold, and when
    asked through the API with a token, of ``within``: that token's scopes, so no token mints a broader one).

    Any role but citizen may; raises ValidationError for unknown or disallowed scopes.
    Returns the client and its secret, which is shown once and stored only as a hash.
    """
    authz.client_create(actor)
    allowed = ROLE_SCOPES[actor.role] if within is None else ROLE_SCOPES[actor.role] & within
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValidationError(f"unknown scope(s) {', '.join(unknown)}; known scopes: {', '.join(sorted(SCOPES))}",
                              errors={"scopes": unknown})
    denied = [s for s in scopes if s not in allowed]
    if denied:
        raise ValidationError(
            f"{'this token' if within is not None else f'a {actor.role}'} may not hold {', '.join(denied)}; "
            f"allowed: {', '.join(sorted(allowed)) or 'none'}",
            errors={"scopes": denied})
    if not scopes:
        raise ValidationError("name at least one scope", errors={"scopes": "empty"})
    if not (name or "").strip():
        raise ValidationError("give the client a name, e.g. 'CI upload'", errors={"name": "empty"})
    secret = secrets.token_urlsafe(32)
    client = OAuth2Client(client_id=secrets.token_urlsafe(16), client_secret=hash_secret(secret),
                          client_id_issued_at=int(utcnow().timestamp()), user_id=actor.id)
    client.set_client_metadata({"client_name": name.strip(), "scope": " ".join(sorted(set(scopes))),
                                "grant_types": ["client_credentials"],
                                "token_endpoint_auth_method": "client_secret_basic"})
    db.session.add(client)
    db.session.flush()
    audit.record(actor, "client.create", "oauth2_client", client.client_id, {"name": name, "scopes": scopes},
                 department_id=actor.department_id, vendor_id=actor.vendor_id)
    db.session.commit()
    return client, secret


def client_list(actor):
    authz.client_create(actor)
    return db.session.scalars(sa.select(OAuth2Client).where(OAuth2Client.user_id == actor.id)
                              .order_by(OAuth2Client.id)).all()


def _client_of(actor, client_id: str) -> OAuth2Client:
    client = db.session.scalar(sa.select(OAuth2Client).where(OAuth2Client.client_id == client_id))
    if client is None:
        raise NotFound(f"API client {client_id} does not exist")
    authz.client_revoke(actor, client)
    return client


def client_get(actor, client_id: str) -> OAuth2Client:
    """One API client of the caller's (admins: anyone's); NotFound for another user's."""
    return _client_of(actor, client_id)


def client_rotate(actor, client_id: str, *, within: frozenset[str] | None = None) -> tuple[OAuth2Client, str]:
    """Give an API client a new secret (shown once); the old secret stops working at once, tokens already issued
    keep working until they expire. Its owner (or an admin) may, with a token holding every scope of the
    client. Raises NotFound for another user's client, Conflict for a revoked one."""
    client = _client_of(actor, client_id)
    if client.revoked_at is not None:
        raise Conflict(f"API client {client_id} is revoked; create a new one")
    if within is not None and not set(client.scopes) <= within:
        raise Forbidden(f"this token lacks {', '.join(sorted(set(client.scopes) - within))} of the client's scopes; "
                        "rotate it with a token that holds all of them")
    secret = secrets.token_urlsafe(32)
    client.client_secret = hash_secret(secret)
    audit.record(actor, "client.rotate", "oauth2_client", client.client_id,
                 department_id=actor.department_id, vendor_id=actor.vendor_id)
    db.session.commit()
    return client, secret


def client_revoke(actor, client_id: str) -> OAuth2Client:
    """Revoke an API client and every token it holds (its owner or an admin); revoking twice changes nothing."""
    client = _client_of(actor, client_id)
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        audit.record(actor, "client.revoke", "oauth2_client", client.client_id,
                     department_id=actor.department_id, vendor_id=actor.vendor_id)
        db.session.commit()
    return client
