"""Vendor self-service: a company applies (name, unified social credit code, contact, business licence), an
administrator approves it (the vendor is registered and its contact invited) or rejects it with a reason, and
members invite colleagues. An invitation is a link with a random token (only its sha256 is stored) that lets the
invited person choose their name and password; it works once, for ``INVITATION_DAYS``. The platform sends no
email: whoever creates an invitation passes the link on (docs/vendors.md)."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import BinaryIO

import sqlalchemy as sa

from core import audit
from core.auth import SYSTEM
from core.errors import Conflict, NotFound, ValidationError
from core.extensions import db
from core.ids import uscc_problem
from core.roles import Role
from core.storage import BlobStore
from core.time import utcnow
from marketplace.accounts import authz
from marketplace.accounts.models import Invitation, User, VendorApplication
from marketplace.accounts.services import EMAIL_RE, user_create
from marketplace.pagination import Page, paginate
from marketplace.vendors import services as vendors
from marketplace.vendors.models import Vendor

INVITATION_DAYS = 14
LICENCE_MAX_BYTES = 5 * 1024 * 1024
# A business licence is a scan or a photo: PDF, JPEG or PNG, recognised by their first bytes.
LICENCE_MAGIC = {b"%PDF-": "PDF", b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}
PHONE_RE = re.compile(r"^1\d{10}$")


def vendor_application_submit(*, company_name: str, credit_code: str, contact_name: str, contact_email: str,
                              contact_phone: str, licence: BinaryIO, licence_filename: str,
                              store: BlobStore) -> VendorApplication:
    """A company applies to become a vendor (anyone; no account yet). Raises ValidationError naming each bad
    field (the credit code's check character per GB 32100-2015, the licence's type), TooLarge for a licence over
    5 MB, Conflict when the code is registered or already awaits review."""
    credit_code = (credit_code or "").strip().upper()
    contact_email = (contact_email or "").strip().lower()
    contact_phone = re.sub(r"[\s-]", "", contact_phone or "")
    errors: dict[str, str] = {}
    if not (company_name or "").strip():
        errors["company_name"] = "give the company's registered name"
    problem = uscc_problem(credit_code)
    if problem:
        errors["credit_code"] = f"{credit_code!r} is not a valid unified social credit code: {problem}"
    if not (contact_name or "").strip():
        errors["contact_name"] = "give the name of the person we should contact"
    if not EMAIL_RE.match(contact_email):
        errors["contact_email"] = f"{contact_email!r} is not an email address"
    if not PHONE_RE.match(contact_phone):
        errors["contact_phone"] = f"{contact_phone!r} is not a mobile number (11 digits starting with 1)"
    head = licence.read(8)
    if not any(head.startswith(magic) for magic in LICENCE_MAGIC):
        errors["licence"] = "upload the business licence as a PDF, JPEG or PNG file"
    if errors:
        raise ValidationError("the application is incomplete: " + "; ".join(errors.values()), errors=errors)
    if db.session.scalar(sa.select(Vendor.id).where(Vendor.credit_code == credit_code)):
        raise Conflict(f"a vendor with credit code {credit_code} is registered already; ask its members to invite you")
    if db.session.scalar(sa.select(VendorApplication.id).where(VendorApplication.credit_code == credit_code,
                                                              VendorApplication.decided_at.is_(None))):
        raise Conflict(f"an application for credit code {credit_code} already awaits review")
    blob = store.put_stream(_Prefixed(head, licence), LICENCE_MAX_BYTES)
    application = VendorApplication(
        company_name=company_name.strip(), credit_code=credit_code, contact_name=contact_name.strip(),
        contact_email=contact_email, contact_phone=contact_phone, licence_sha256=blob.sha256,
        licence_filename=(licence_filename or "licence")[-200:], licence_size=blob.size)
    db.session.add(application)
    db.session.flush()
    audit.record(SYSTEM, "vendor_application.submit", "vendor_application", application.id,
                 {"company_name": application.company_name, "credit_code": credit_code})
    db.session.commit()
    return application


class _Prefixed:
    """The upload stream with the bytes already read for the type check put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self.head, self.rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            chunk, self.head = self.head, b""
            return chunk
        return self.rest.read(size)


def vendor_application_list(actor, *, status: str = "pending", page: int = 1, page_size: int = 20) -> Page:
    """Applications by status (pending oldest first, decided newest first). Administrators only."""
    authz.vendor_application_list(actor)
    query = sa.select(VendorApplication)
    if status == "pending":
        query = query.where(VendorApplication.decided_at.is_(None)).order_by(VendorApplication.id)
    else:
        query = query.where(VendorApplication.decided_at.is_not(None)).order_by(VendorApplication.decided_at.desc())
    return paginate(query, page, page_size)


def vendor_application_decide(actor, application_id: int, *, approve: bool,
                              reason: str = "") -> tuple[VendorApplication, str | None]:
    """An administrator approves (the vendor is registered and its contact invited: returns the invitation
    token) or rejects with a reason the company is told. Raises NotFound, Conflict when already decided,
    ValidationError for a rejection without a reason."""
    authz.vendor_application_decide(actor)
    application = db.session.get(VendorApplication, application_id, with_for_update=True)
    if application is None:
        raise NotFound(f"vendor application {application_id} does not exist")
    if application.decided_at is not None:
        raise Conflict(f"application {application_id} was {application.status} already")
    reason = (reason or "").strip()
    if not approve and not reason:
        raise ValidationError("say why the application is rejected; the company sees the reason",
                              errors={"reason": "empty"})
    token = None
    if approve:
        vendor = vendors.vendor_create(actor, name=application.company_name, credit_code=application.credit_code,
                                       contact_email=application.contact_email)
        application.vendor_id = vendor.id
        _invitation, token = _invite(actor, vendor.id, application.contact_email)
    application.decided_at, application.decided_by_id = utcnow(), actor.id
    application.approved, application.reason = approve, reason or None
    audit.record(actor, f"vendor_application.{'approve' if approve else 'reject'}", "vendor_application",
                 application.id, {"reason": reason, "vendor_id": application.vendor_id}, vendor_id=application.vendor_id)
    db.session.commit()
    return application, token


def _invite(actor, vendor_id: int, email: str) -> tuple[Invitation, str]:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email):
        raise ValidationError(f"{email!r} is not an email address", errors={"email": "invalid"})
    token = secrets.token_urlsafe(32)
    invitation = Invitation(vendor_id=vendor_id, email=email, token_sha256=hashlib.sha256(token.encode()).hexdigest(),
                            created_by_id=getattr(actor, "id", None), expires_at=utcnow() + timedelta(days=INVITATION_DAYS))
    db.session.add(invitation)
    db.session.flush()
    audit.record(actor, "invitation.create", "invitation", invitation.id, {"email": email}, vendor_id=vendor_id)
    return invitation, token


def invitation_create(actor, vendor_id: int, email: str) -> tuple[Invitation, str]:
    """Invite a person to join a vendor (its members, or administrators); returns the invitation and the token
    for the link (shown once). Raises NotFound for another vendor, ValidationError for a bad email."""
    authz.invitation_create(actor, vendor_id)
    invitation, token = _invite(actor, vendor_id, email)
    db.session.commit()
    return invitation, token


def invitation_get(token: str) -> Invitation:
    """The open invitation behind a link's token (public). Raises NotFound if unknown, used or expired."""
    invitation = db.session.scalar(sa.select(Invitation).where(
        Invitation.token_sha256 == hashlib.sha256((token or "").encode()).hexdigest()))
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at < utcnow():
        raise NotFound("this invitation link is unknown, used or expired; ask for a new one")
    return invitation


def invitation_accept(token: str, *, display_name: str, password: str) -> User:
    """The invited person chooses a name and password and becomes a member of the vendor (public, with the
    token). Raises NotFound (see ``invitation_get``), ValidationError (weak password), Conflict (email taken)."""
    invitation = invitation_get(token)
    if not (display_name or "").strip():
        raise ValidationError("give your name as colleagues know it", errors={"display_name": "empty"})
    # The platform acts on the invitation an administrator or the vendor's member created.
    user = user_create(SYSTEM, email=invitation.email, display_name=display_name.strip(), role=Role.VENDOR_MEMBER,
                       password=password, vendor_id=invitation.vendor_id)
    invitation.accepted_at, invitation.user_id = utcnow(), user.id
    audit.record(user, "invitation.accept", "invitation", invitation.id, {"email": invitation.email},
                 vendor_id=invitation.vendor_id)
    db.session.commit()
    return user
