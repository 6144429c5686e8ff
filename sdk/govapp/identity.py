"""The citizen's identity as the platform hands it to an app.

The platform's app gateway sends every request with `Authorization: Bearer <jwt>`: a short-lived token
signed by the platform (keys published as a JWKS, issuer fixed) holding `sub` and only the fields the
citizen consented to share with this app (`name`, `resident_id`, `phone`, ...). In the sandbox and in
`govapp test` the JWKS file is at `GOVAPP_JWKS` and the issuer is `GOVAPP_ISSUER`.

    from govapp.identity import IdentityError, identity_from_environ
    citizen = identity_from_environ(request.environ)     # raises IdentityError (status 401)
    citizen.resident_id, citizen.name, citizen.claims["phone"]
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

__all__ = ["ALGORITHMS", "Identity", "IdentityError", "IdentityVerifier", "identity_from_environ"]

# Asymmetric algorithms only: an app holds the public keys, never a secret that could mint tokens.
ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]


class IdentityError(Exception):
    """The request carries no valid identity; answer 401 with `str(error)`."""

    status = 401


@dataclass(frozen=True)
class Identity:
    """The verified claims: `sub` always, the others only if the citizen consented."""

    sub: str
    claims: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str | None:
        return self.claims.get("name")

    @property
    def resident_id(self) -> str | None:
        return self.claims.get("resident_id")

    @property
    def phone(self) -> str | None:
        return self.claims.get("phone")

    def get(self, claim: str, default: Any = None) -> Any:
        """The value of `claim` (e.g. `birth_date`), or `default` when the citizen did not consent to it."""
        return self.claims.get(claim, default)


class IdentityVerifier:
    """Verifies the platform's identity JWTs against a JWKS (a file is re-read when it changes: key rotation)."""

    def __init__(self, jwks: Mapping | str | Path, issuer: str, *, audience: str | None = None, leeway: int = 30):
        if not issuer:
            raise ValueError("an issuer is required (GOVAPP_ISSUER): tokens from any other issuer must be refused")
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self._path = Path(jwks) if isinstance(jwks, str | Path) else None
        self._mtime: float | None = None
        self._lock = threading.Lock()
        self._keys = KeySet.import_key_set(dict(jwks)) if self._path is None else None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IdentityVerifier:
        """The verifier the platform configures: the keys in the file `GOVAPP_JWKS`, the issuer `GOVAPP_ISSUER` and
        the app's origin `GOVAPP_AUDIENCE`. Raises IdentityError when GOVAPP_JWKS is not set."""
        env = os.environ if environ is None else environ
        path = env.get("GOVAPP_JWKS")
        if not path:
            raise IdentityError("GOVAPP_JWKS is not set: the app cannot check who the citizen is")
        return cls(path, env.get("GOVAPP_ISSUER", ""), audience=env.get("GOVAPP_AUDIENCE") or None)

    def _keyset(self) -> KeySet:
        if self._path is None:
            return self._keys
        with self._lock:
            try:
                mtime = self._path.stat().st_mtime
            except OSError as exc:
                raise IdentityError(f"the JWKS file {self._path} cannot be read ({exc.strerror})") from exc
            if self._keys is None or mtime != self._mtime:
                self._keys = KeySet.import_key_set(json.loads(self._path.read_text(encoding="utf-8")))
                self._mtime = mtime
            return self._keys

    def verify(self, token: str) -> Identity:
        """The identity in `token`; raises IdentityError if the signature, issuer, audience or times are wrong."""
        try:
            decoded = jwt.decode(token, self._keyset(), algorithms=ALGORITHMS)
            options: dict[str, Any] = {"iss": {"essential": True, "value": self.issuer}, "exp": {"essential": True},
                                       "sub": {"essential": True}}
            if self.audience:
                options["aud"] = {"essential": True, "value": self.audience}
            jwt.JWTClaimsRegistry(leeway=self.leeway, **options).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise IdentityError(f"the identity token was refused: {exc}") from exc
        claims = dict(decoded.claims)
        return Identity(sub=str(claims["sub"]), claims=claims)

    def from_authorization(self, header: str | None) -> Identity:
        """The identity in an `Authorization: Bearer <jwt>` header value."""
        if not header:
            raise IdentityError("no identity: the request has no Authorization header (open the app through the platform)")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise IdentityError("the Authorization header must be 'Bearer <token>'")
        return self.verify(token.strip())


_default: IdentityVerifier | None = None
_default_lock = threading.Lock()


def default_verifier() -> IdentityVerifier:
    """The process-wide verifier configured from GOVAPP_JWKS / GOVAPP_ISSUER."""
    global _default
    with _default_lock:
        if _default is None:
            _default = IdentityVerifier.from_env()
        return _default


def identity_from_environ(environ: Mapping[str, Any], verifier: IdentityVerifier | None = None) -> Identity:
    """The verified identity of a WSGI request (raises IdentityError, status 401)."""
    return (verifier or default_verifier()).from_authorization(environ.get("HTTP_AUTHORIZATION"))
