"""The platform's signing keys: made on first use, rotated by an operator, published as a JWKS.

One key per algorithm: ES256 (P-256) signs everything by default — identity tokens, delegation tokens, ID
tokens; RS256 (RSA 2048) exists for relying parties that registered for it (OpenID Connect Discovery asks
providers to offer RS256) and is made when the instance is an OpenID Connect provider. For each algorithm the
newest key that is not retired signs. Rotation retires it and makes a new one; the retired public key
stays in the JWKS for ``SIGNING_KEY_GRACE_HOURS`` so tokens signed just before the rotation still verify.
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from core import audit
from core.extensions import db
from core.time import utcnow
from marketplace.identity import authz
from marketplace.identity.models import SigningKey

ALGORITHM = "ES256"  # the default: accepted by the SDK's verifier and by every OpenID Connect library we know
ALGORITHMS = ("ES256", "RS256")  # what the OpenID Connect provider offers for ID tokens
DEFAULT_GRACE_HOURS = 24
# Each process signs with the key it read for up to this long: a token minted per proxied request must not cost a
# query. After a rotation elsewhere a process may sign with the retired key this long, which is why retired keys
# stay published (SIGNING_KEY_GRACE_HOURS, far longer); a rotation in this process takes effect at once.
SIGNER_KEPT_SECONDS = 60
_SIGNER = "govmarket_signing_key"  # app.extensions: (valid until (monotonic), kid, alg, private key)
_signer_lock = threading.Lock()


def platform_issuer() -> str:
    """The ``iss`` of everything the platform signs: its public base URL (setting ISSUER), without a slash."""
    return str(current_app.config["ISSUER"]).rstrip("/")


def configured_grace_hours() -> int:
    return int(current_app.config.get("SIGNING_KEY_GRACE_HOURS", DEFAULT_GRACE_HOURS))


def _new_key(alg: str = ALGORITHM) -> SigningKey:
    kid = f"{utcnow():%Y%m%d}-{secrets.token_hex(4)}"
    parameters = {"kid": kid, "use": "sig", "alg": alg}
    if alg == "RS256":
        key = RSAKey.generate_key(2048, parameters=parameters)
    elif alg == "ES256":
        key = ECKey.generate_key("P-256", parameters=parameters)
    else:
        raise ValueError(f"unsupported signing algorithm {alg!r}; one of {', '.join(ALGORITHMS)}")
    row = SigningKey(kid=kid, alg=alg, private_jwk=key.as_dict(private=True), public_jwk=key.as_dict(private=False))
    db.session.add(row)
    db.session.flush()
    return row


def _current(alg: str = ALGORITHM) -> SigningKey | None:
    return db.session.scalar(sa.select(SigningKey).where(SigningKey.retired_at.is_(None), SigningKey.alg == alg)
                             .order_by(SigningKey.id.desc()).limit(1))


def signing_key_current(alg: str = ALGORITHM) -> SigningKey:
    """The key that signs with ``alg`` now; the first call on a new database makes one (flushed, committed by
    the caller)."""
    return _current(alg) or _new_key(alg)


def signing_key_rotate(actor, *, grace_hours: int | None = None) -> SigningKey:
    """Retire the signing keys and make new ones. Admins only (the CLI acts as the system admin).

    The retired public keys stay published for ``grace_hours`` (default: the setting). Returns the new ES256
    key (an RS256 key, if there is one, is rotated with it).
    """
    authz.signing_key_rotate(actor)
    hours = configured_grace_hours() if grace_hours is None else grace_hours
    now = utcnow()
    new = None
    for alg in ALGORITHMS:  # every algorithm in use rotates together; ES256 always exists afterwards
        old = _current(alg)
        if old is None and alg != ALGORITHM:
            continue
        if old is not None:
            old.retired_at = now
            old.published_until = now + timedelta(hours=hours)
        made = _new_key(alg)
        new = made if alg == ALGORITHM else new
        audit.record(actor, "signing_key.rotate", "signing_key", made.kid,
                     {"alg": alg, "retired": old.kid if old else None,
                      "published_until": old.published_until if old else None})
    forget_signer()
    db.session.commit()
    return new


def published_keys() -> list[SigningKey]:
    """Keys whose public half is in the JWKS: the signing key and retired keys still in their grace period."""
    now = utcnow()
    return list(db.session.scalars(sa.select(SigningKey).where(
        sa.or_(SigningKey.retired_at.is_(None), SigningKey.published_until > now)).order_by(SigningKey.id.desc())))


def jwks() -> dict[str, Any]:
    """The public JWKS (RFC 7517) apps and relying parties verify our signatures with."""
    published = published_keys()
    signing = {key.alg for key in published if key.retired_at is None}
    # No signing key yet: make the first one (and an RS256 one for an OpenID Connect provider, published before
    # any ID token is signed with it).
    wanted = ALGORITHMS if current_app.config.get("OIDC_PROVIDER") else (ALGORITHM,)
    missing = [alg for alg in wanted if alg not in signing]
    if missing:
        for alg in missing:
            _new_key(alg)
        db.session.commit()
        published = published_keys()
    return {"keys": [dict(key.public_jwk) for key in published]}


def private_key(row: SigningKey) -> ECKey | RSAKey:
    return (RSAKey if row.alg == "RS256" else ECKey).import_key(dict(row.private_jwk))


def sign(claims: dict[str, Any]) -> str:
    """A compact JWS of ``claims`` signed with the current key (its ``kid`` in the header)."""
    return sign_typed(claims, "JWT")


def sign_typed(claims: dict[str, Any], typ: str) -> str:
    """``sign`` with the JOSE ``typ`` header ``typ`` (e.g. ``dept+jwt`` for department access tokens, which no
    identity-token verifier accepts, nor the department an identity token)."""
    kid, alg, key = _signer()
    return jwt.encode({"alg": alg, "kid": kid, "typ": typ}, claims, key, algorithms=[alg])


def _signer() -> tuple[str, str, ECKey]:
    """The current key as this process keeps it (SIGNER_KEPT_SECONDS). A key made by this very call is not kept:
    its transaction may still roll back."""
    now = time.monotonic()
    kept = current_app.extensions.get(_SIGNER)
    if kept is not None and kept[0] > now:
        return kept[1], kept[2], kept[3]
    row = _current()
    if row is None:
        row = _new_key()
        return row.kid, row.alg, private_key(row)
    signer = (row.kid, row.alg, private_key(row))
    with _signer_lock:
        current_app.extensions[_SIGNER] = (now + SIGNER_KEPT_SECONDS, *signer)
    return signer


def forget_signer() -> None:
    """Read the signing key again on the next signature (after a rotation; tests, after rolling back rows)."""
    with _signer_lock:
        current_app.extensions.pop(_SIGNER, None)
