"""Per-citizen delegation: the department access token an app must present with every department call.

The platform's gateway mints one per forwarded request (the sandbox harness and ``govapp test`` one per case),
bound to (citizen, app, order, consented fields, purpose) and signed with the platform's identity keys, so a
department service verifies it offline against the published JWKS. The department answers only inside it:

- the token's citizen, a person in their care (``guardian_resident_id``), or a business they represent (legal
  representative or listed authorised agent) — anyone else is 403 ``not_delegated`` / ``not_represented``;
- person fields the citizen consented to — a person record is answered with exactly those (and the resident ID
  the app asked by), refused when they consented to none; licences and the list of represented businesses only
  when consented — else 403 ``field_not_consented``;
- no token, a forged, malformed or expired one, one for another audience, or one superseded by a newer consent
  decision of the same citizen for the same app is 401 with the reason; a token of another app is 403.

This module is the department's side and the one definition of the field names; docs/identity.md says what the
citizen sees of it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet

AUDIENCE = "urn:govmarket:department"
HEADER = "X-Department-Token"  # the header the gateway adds to each request it forwards to an app
TOKEN_TYPE = "dept+jwt"  # noqa: S105 - a JOSE "typ" value, not a secret
ALGORITHMS = ["ES256", "RS256", "PS256", "EdDSA"]

# Department data fields a delegation can name, with plain-language labels (zh-CN, en). Person fields are keys of
# the person record; ``licences`` and ``businesses`` are the person's e-licences and the businesses they represent.
FIELDS: dict[str, tuple[str, str]] = {
    "name": ("姓名", "Full name"),
    "gender": ("性别", "Gender"),
    "birth_date": ("出生日期", "Date of birth"),
    "ethnicity": ("民族", "Ethnic group"),
    "phone": ("手机号码", "Mobile phone number"),
    "address": ("户籍地址", "Registered (hukou) address"),
    "region_code": ("户籍所在地区划代码", "Region code of the registered address"),
    "household_id": ("户号", "Household number"),
    "household_role": ("与户主关系", "Relation to the head of household"),
    "guardian_resident_id": ("监护人身份证号", "Guardian's resident ID number"),
    "tags": ("人员登记标记（如未成年、已参保）", "Registry flags (e.g. minor, insured)"),
    "licences": ("本人电子证照", "Your e-licences"),
    "businesses": ("您代表的企业（法定代表人或授权经办人）", "Businesses you represent (legal representative or agent)"),
}
PERSON_FIELDS = frozenset(FIELDS) - {"licences", "businesses"}
# Which department API scope a field is read through: an order grants scopes, an app may declare only fields
# reachable through them.
FIELD_SCOPES = {**{f: "person.read" for f in PERSON_FIELDS}, "licences": "licence.read", "businesses": "business.read"}


def fields_for_scopes(scopes) -> list[str]:
    """The department fields reachable through ``scopes`` (in FIELDS order)."""
    granted = set(scopes)
    return [f for f in FIELDS if FIELD_SCOPES[f] in granted]


class DelegationRefused(Exception):
    """A department call outside (or without) a valid delegation: ``status`` 401 or 403, ``code`` and ``detail``."""

    def __init__(self, status: int, code: str, detail: str, *, subject: str | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.subject = subject  # the person or business refused (not_delegated, not_represented)
        self.named = False  # whether the citizen's own request named that subject (set by the service)


# At most this many subjects a request names are carried in its token (a form names a few; a bigger body is not a
# form a citizen typed).
MAX_NAMED = 16


def named_digest(jti: str, subject: str) -> str:
    """How a token carries a resident ID or credit code the citizen's request named: a digest keyed by the token's
    own jti, so the token holds no identifier and a digest means nothing in another token."""
    return hashlib.sha256(f"{jti}:{subject}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Delegation:
    """A verified department access token."""

    citizen: str  # the citizen's resident ID
    app: str  # "app:<id>" (serving) or the run's app name (certification)
    order: str
    fields: frozenset[str]
    purpose: str
    jti: str
    consent_at: int  # when the consent decision this token carries was made (epoch milliseconds)
    named: frozenset[str] = frozenset()  # digests (named_digest) of the subjects the citizen's request named

    def names(self, subject: str | None) -> bool:
        """Whether the citizen's request this token came with named ``subject`` (a resident ID or credit code): a
        refusal about it is the department answering what the citizen asked, not the app reading on its own."""
        return bool(subject) and named_digest(self.jti, str(subject)) in self.named

    def require_field(self, field: str) -> None:
        if field not in self.fields:
            label = FIELDS.get(field, (field, field))
            raise DelegationRefused(403, "field_not_consented", f"the citizen did not consent to {field} "
                                    f"({label[1]}) for this app; consented: {', '.join(sorted(self.fields)) or 'none'}")

    def person_view(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The person record with exactly the consented person fields (and the resident ID asked by); 403 when the
        citizen consented to none (declined or withdrew): there is nothing the app may read."""
        if not self.fields & PERSON_FIELDS:
            raise DelegationRefused(403, "field_not_consented", "the citizen has not consented to any of their "
                                    "personal details for this app (declined, or withdrew their consent)")
        return {k: v for k, v in record.items() if k == "resident_id" or (k in PERSON_FIELDS and k in self.fields)}


def delegation_claims(*, citizen: str, app: str, order: str, fields, purpose: str, consent_at: int = 0,
                      jti: str = "", named=()) -> dict:
    """The claims of a delegation (the signer adds iss, iat, exp and, unless given, jti). ``named``: the resident IDs
    and credit codes the citizen's request named (at most MAX_NAMED), carried as digests keyed by ``jti``."""
    claims = {"aud": AUDIENCE, "sub": citizen, "app": app, "order": order, "fields": sorted(set(fields)),
              "purpose": purpose, "consent_at": int(consent_at)}
    subjects = sorted({str(s) for s in named} - {citizen})[:MAX_NAMED]
    if subjects:
        if not jti:
            raise ValueError("named subjects are keyed by the token's jti: give it")
        claims["named"] = [named_digest(jti, s) for s in subjects]
    if jti:
        claims["jti"] = jti
    return claims


class DelegationVerifier:
    """Verifies department access tokens offline: signature against the JWKS, issuer, audience, lifetime, and that
    the token is for the app this service serves. Remembers, per (citizen, app), the newest consent decision it has
    seen, and refuses tokens that carry an older one (a withdrawn consent cannot be read through an old token once
    the app has been handed a newer one)."""

    def __init__(self, jwks: Mapping | str, issuer: str, *, app: str | None = None, leeway: int = 5):
        if not issuer:
            raise ValueError("a delegation issuer is required: tokens of any other issuer must be refused")
        self.keys = KeySet.import_key_set(json.loads(jwks) if isinstance(jwks, str) else dict(jwks))
        self.issuer = issuer
        self.app = app
        self.leeway = leeway
        self._lock = threading.Lock()
        self._newest: dict[tuple[str, str], int] = {}

    def verify(self, authorization: str | None) -> Delegation:
        if not authorization:
            raise DelegationRefused(401, "delegation_missing", "no department access token: send the token the "
                                    f"platform gave with the citizen's request ({HEADER}) as 'Authorization: Bearer "
                                    "<token>' (the SDK's DepartmentClient does this)")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise DelegationRefused(401, "delegation_invalid", "the Authorization header must be 'Bearer <token>'")
        try:
            decoded = jwt.decode(token.strip(), self.keys, algorithms=ALGORITHMS)
            if decoded.header.get("typ") != TOKEN_TYPE:
                raise DelegationRefused(401, "delegation_invalid", "this is not a department access token (an "
                                        "identity token cannot be used for department calls)")
            jwt.JWTClaimsRegistry(leeway=self.leeway, iss={"essential": True, "value": self.issuer},
                                  aud={"essential": True, "value": AUDIENCE}, exp={"essential": True},
                                  sub={"essential": True}).validate(decoded.claims)
        except ExpiredTokenError:
            raise DelegationRefused(401, "delegation_expired", "the department access token has expired; use the "
                                    "one that came with the current request") from None
        except (JoseError, ValueError) as exc:
            raise DelegationRefused(401, "delegation_invalid", f"the department access token was refused: {exc}") from None
        claims = decoded.claims
        app = str(claims.get("app") or "")
        if self.app is not None and app != self.app:
            raise DelegationRefused(403, "delegation_other_app", "this department access token was issued to "
                                    "another app")
        fields = claims.get("fields") if isinstance(claims.get("fields"), list) else []
        named = claims.get("named") if isinstance(claims.get("named"), list) else []
        delegation = Delegation(citizen=str(claims["sub"]), app=app, order=str(claims.get("order") or ""),
                                fields=frozenset(str(f) for f in fields), purpose=str(claims.get("purpose") or ""),
                                jti=str(claims.get("jti") or ""), consent_at=int(claims.get("consent_at") or 0),
                                named=frozenset(str(n) for n in named[:MAX_NAMED]))
        key = (delegation.citizen, app)
        with self._lock:
            newest = self._newest.get(key, 0)
            if delegation.consent_at < newest:
                raise DelegationRefused(401, "delegation_superseded", "the citizen has changed their consent since "
                                        "this token was issued; use the token of the current request")
            self._newest[key] = delegation.consent_at
        return delegation
