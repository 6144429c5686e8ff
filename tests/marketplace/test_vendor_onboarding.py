"""Vendor self-service: a company applies with its business licence, an administrator approves (the vendor is
registered and its contact invited) or rejects with a reason, and members invite colleagues."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa

from core.errors import Conflict, Forbidden, NotFound, ValidationError
from core.extensions import db
from core.ids import uscc_check_char
from tests.marketplace.webpages import csrf_token, login, submit, text

CODE = "91440300MA5F0000" + "1"
CODE += uscc_check_char(CODE)
PDF = b"%PDF-1.4\n% a scanned business licence\n"


def _form(**overrides):
    data = {"company_name": "深圳快码科技有限公司", "credit_code": CODE, "contact_name": "李娜",
            "contact_email": "lina@kuaima.example.cn", "contact_phone": "138 0013 8000",
            "licence": (io.BytesIO(PDF), "营业执照.pdf")}
    data.update(overrides)
    return data


def _apply(client, **overrides):
    return client.post("/vendors/apply", data={"csrf_token": csrf_token(client, "/vendors/apply"), **_form(**overrides)},
                       content_type="multipart/form-data")


def test_a_company_applies_the_admin_approves_and_the_contact_joins_by_invitation(world, client, app):
    assert 'id="become-vendor"' in text(client.get("/")), "the start page offers the application"
    response = _apply(client)
    assert response.status_code == 201 and "申请已收到" in text(response)

    login(client, "admin")
    queue = text(client.get("/work"))
    assert "深圳快码科技有限公司" in re.search(r'id="queue-applications".*?</section>', queue, re.S).group(0)
    review = text(client.get("/admin/vendor-applications"))
    application_id = int(re.search(r'id="application-(\d+)"', review).group(1))
    approved = submit(client, "/admin/vendor-applications", {"reason": ""},
                      action=f"/admin/vendor-applications/{application_id}/approve")
    assert approved.status_code == 302
    page = text(client.get("/admin/vendor-applications"))
    link = re.search(r"(http://[^\s<]+/invitations/[\w-]+)", page).group(1)

    invited = app.test_client()
    path = link.split("localhost", 1)[1]
    assert "lina@kuaima.example.cn" in text(invited.get(path))
    joined = submit(invited, path, {"display_name": "李娜", "password": "a long enough secret"})
    assert joined.status_code == 302 and joined.headers["Location"] == "/work"
    assert "李娜" in text(invited.get("/work")) and 'href="/account/invitations"' in text(invited.get("/work"))
    assert invited.get(path).status_code == 404, "an invitation works once"

    from marketplace.vendors.models import Vendor
    vendor = db.session.scalar(sa.select(Vendor).where(Vendor.credit_code == CODE))
    assert vendor.name == "深圳快码科技有限公司"

    # The new member invites a colleague; the colleague joins the same vendor.
    colleague_link = re.search(r'<pre class="secret">([^<]+)</pre>', text(submit(
        invited, "/account/invitations", {"email": "wang@kuaima.example.cn"}))).group(1)
    colleague = app.test_client()
    submit(colleague, colleague_link.split("localhost", 1)[1], {"display_name": "王强", "password": "another long secret"})
    from marketplace.accounts.models import User
    assert db.session.scalar(sa.select(User).where(
        User.email == "wang@kuaima.example.cn")).vendor_id == vendor.id


def test_the_form_checks_the_credit_code_the_contact_and_the_licence(world, client):
    wrong = CODE[:-1] + ("0" if CODE[-1] != "0" else "1")
    response = _apply(client, credit_code=wrong, contact_phone="12345", licence=(io.BytesIO(b"MZ\x90\x00"), "x.exe"))
    page = text(response)
    assert response.status_code == 422
    for name in ("credit_code", "contact_phone", "licence"):
        assert f'id="{name}-error"' in page, f"{name} is explained next to its field"
    _apply(client)
    with pytest.raises(Conflict):
        from core.storage import FileBlobStore
        from marketplace.accounts import onboarding

        onboarding.vendor_application_submit(
            company_name="x", credit_code=CODE, contact_name="y", contact_email="a@b.cn", contact_phone="13800138000",
            licence=io.BytesIO(PDF), licence_filename="l.pdf",
            store=FileBlobStore(client.application.config["BUNDLE_STORE"]))


def test_only_admins_review_a_rejection_needs_a_reason_and_members_invite_only_to_their_vendor(world, client):
    from marketplace.accounts import onboarding
    from marketplace.accounts.models import User, VendorApplication

    _apply(client)
    application = db.session.scalar(sa.select(VendorApplication))
    with pytest.raises(Forbidden):
        onboarding.vendor_application_decide(db.session.get(User, world.ids["staff_a"]), application.id, approve=True)
    admin = db.session.get(User, world.ids["admin"])
    with pytest.raises(ValidationError):
        onboarding.vendor_application_decide(admin, application.id, approve=False, reason=" ")
    decided, token = onboarding.vendor_application_decide(admin, application.id, approve=False, reason="执照已过期")
    assert decided.status == "rejected" and token is None
    with pytest.raises(Conflict):
        onboarding.vendor_application_decide(admin, application.id, approve=True)
    with pytest.raises(NotFound):
        onboarding.invitation_create(db.session.get(User, world.ids["vendor_a"]), world.ids["org_b"], "x@y.cn")
    with pytest.raises(NotFound):
        onboarding.invitation_get("no-such-token")
