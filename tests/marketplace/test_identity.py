"""Citizen identity and privacy: persona login, consent, the identity JWT apps get, key rotation, access log."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta

import pytest
from govapp.identity import IdentityError, IdentityVerifier

from core.auth import SYSTEM
from core.errors import Forbidden, NotFound, ValidationError
from core.extensions import db
from core.time import utcnow
from marketplace.accounts.models import User
from marketplace.identity import keys, services
from marketplace.identity.personas import persona_list
from tests.marketplace.conftest import contract_doc, suite_doc

AUDIENCE = "http://shiantong.apps.localhost:5000"
PURPOSES = {"name": "在申请书上填写申请人姓名", "phone": "审批结果短信通知"}


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"',
                     html).group(0).rsplit('value="', 1)[1].rstrip('"')


@pytest.fixture
def shop(world):
    """Two apps of an order asking for name, resident ID and phone (purposes stated in the contract)."""
    from marketplace.catalogue.models import ServiceItem
    from marketplace.orders import services as orders
    from marketplace.vendors import services as vendors

    item = db.session.get(ServiceItem, world.ids["item_a"])
    contract = {**contract_doc(), "x-citizen-data": PURPOSES}
    order = orders.order_create(SYSTEM, service_item_id=item.id, slug="food-id", title="食品经营许可证 App",
                                contract=contract, fee_per_transaction_fen=200, quarterly_budget_fen=100_000,
                                dept_scopes=["person.read"], citizen_scopes=["name", "resident_id", "phone"])
    orders.suite_add(SYSTEM, order.id, suite_doc("food-id"))
    orders.order_publish(SYSTEM, order.id)
    vendor = db.session.get(User, world.ids["vendor_a"])
    first = vendors.app_create(vendor, order_id=order.id, name="食安通", slug="shiantong")
    second = vendors.app_create(vendor, order_id=order.id, name="快办证", slug="kuaiban")
    return {"order": order, "app": first, "other": second, "world": world}


def persona_login(client, persona) -> None:
    page = client.get("/identity/personas")
    assert page.status_code == 200
    response = client.post("/identity/personas", data={"csrf_token": csrf_of(page.get_data(as_text=True)),
                                                       "resident_id": persona.resident_id})
    assert response.status_code == 302, response.get_data(as_text=True)


def citizen(persona_key: str = "food_ok") -> User:
    persona = next(p for p in persona_list() if p.key == persona_key)
    return services.citizen_login_persona(persona.resident_id, settings={"ENV": "development"})


def verifier(client, app) -> IdentityVerifier:
    return IdentityVerifier(client.get("/.well-known/jwks.json").json, app.config["ISSUER"], audience=AUDIENCE)


# --- Persona login -------------------------------------------------------------------------------------------


def test_persona_page_lists_scenario_people_including_rare_and_minority_names(client):
    html = client.get("/identity/personas").get_data(as_text=True)
    names = {p.key: p.name for p in persona_list()}
    assert "·" in names["awkward_minority_name"]
    for key in ("food_ok", "awkward_rare_name", "awkward_minority_name"):
        assert names[key] in html


def test_citizen_login_page_is_chinese_by_default(app):
    html = app.test_client().get("/identity/login").get_data(as_text=True)
    assert "市民登录" in html and "以测试人员身份登录" in html


def test_persona_login_creates_a_real_name_citizen_and_logs_them_in(client):
    persona = next(p for p in persona_list() if p.key == "awkward_minority_name")
    persona_login(client, persona)
    user = db.session.scalar(db.select(User).where(User.resident_id == persona.resident_id))
    assert user.role == "citizen" and user.display_name == persona.name
    page = client.get("/identity/my-data")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    phone = persona.person["phone"]
    assert persona.name in html and f"{phone[:3]}****{phone[-4:]}" in html and phone not in html  # masked
    # Logging in again links the same account.
    client.post("/logout", data={"csrf_token": csrf_of(html)})
    persona_login(client, persona)
    assert db.session.scalar(db.select(db.func.count()).select_from(User)
                             .where(User.resident_id == persona.resident_id)) == 1


def test_persona_login_without_the_csrf_token_is_refused(client):
    persona = persona_list()[0]
    response = client.post("/identity/personas", data={"resident_id": persona.resident_id})
    assert response.status_code in (400, 422)
    assert db.session.scalar(db.select(User).where(User.resident_id == persona.resident_id)) is None


def test_persona_login_is_refused_in_production(app, client):
    from marketplace.identity.views import check_config

    persona = persona_list()[0]
    app.config["ENV"] = "production"
    app.config["PERSONA_LOGIN"] = True  # even with the flag on
    try:
        assert client.get("/identity/personas").status_code == 404
        assert client.post("/identity/personas", data={"resident_id": persona.resident_id}).status_code in (400, 404)
        assert db.session.scalar(db.select(User).where(User.resident_id == persona.resident_id)) is None
        assert "test persona" not in client.get("/identity/login?lang=en").get_data(as_text=True)
    finally:
        app.config["ENV"] = "development"
        app.config["PERSONA_LOGIN"] = False
    with pytest.raises(Forbidden):
        services.citizen_login_persona(persona.resident_id, settings={"ENV": "production", "PERSONA_LOGIN": True})
    with pytest.raises(RuntimeError, match="PERSONA_LOGIN"):
        check_config({"ENV": "production", "PERSONA_LOGIN": True})


# --- Consent and the identity token ------------------------------------------------------------------------


def test_token_holds_only_consented_claims_and_verifies_with_the_sdk(app, client, shop):
    person = citizen("food_ok")
    app_id = shop["app"].id
    assert services.consent_status(person, app_id).must_ask
    services.consent_grant(person, app_id, ["name", "phone"])
    token = services.identity_token_for(person, app_id, audience=AUDIENCE)
    identity = verifier(client, app).verify(token)
    assert identity.name == person.display_name
    assert identity.phone == db.session.get(services.CitizenProfile, person.id).phone
    assert identity.resident_id is None  # asked for, not granted
    assert set(identity.claims) == {"iss", "sub", "aud", "iat", "nbf", "exp", "jti", "name", "phone"}
    assert identity.claims["exp"] - identity.claims["iat"] == 300
    assert identity.sub != str(person.id)
    # Another app's verifier (other audience) refuses it.
    with pytest.raises(IdentityError):
        IdentityVerifier(client.get("/.well-known/jwks.json").json, app.config["ISSUER"],
                         audience="http://kuaiban.apps.localhost:5000").verify(token)


def test_address_claim_is_the_registered_json_object(client, app, shop):
    """OpenID Connect Core §5.1.1: ``address`` is an object (``formatted`` here), never a bare string."""
    person = citizen("food_ok")
    shop["order"].citizen_scopes = ["name", "address"]
    db.session.flush()
    services.consent_grant(person, shop["app"].id, ["address"])
    claims = verifier(client, app).verify(services.identity_token_for(person, shop["app"].id,
                                                                      audience=AUDIENCE)).claims
    profile = db.session.get(services.CitizenProfile, person.id)
    assert profile.address and claims["address"] == {"formatted": profile.address}


def test_token_without_consent_has_only_a_subject(client, app, shop):
    person = citizen("food_ok")
    token = services.identity_token_for(person, shop["app"].id, audience=AUDIENCE)
    claims = verifier(client, app).verify(token).claims
    assert not {"name", "resident_id", "phone"} & set(claims)
    assert services.access_log_list(person).total == 0  # nothing of the citizen was read


def test_subject_is_pairwise_per_app_and_stable(client, app, shop):
    person = citizen("food_ok")
    v = verifier(client, app)
    first = v.verify(services.identity_token_for(person, shop["app"].id, audience=AUDIENCE)).sub
    again = v.verify(services.identity_token_for(person, shop["app"].id, audience=AUDIENCE)).sub
    other = v.verify(services.identity_token_for(person, shop["other"].id, audience=AUDIENCE)).sub
    assert first == again and first != other
    assert person.resident_id not in (first, other)


def test_a_concurrent_first_request_gets_the_same_subject(app, monkeypatch):
    """Two first requests of one citizen to one app at once: the one that looked before the other inserted still
    answers with the one subject (it inserted with a plain INSERT and failed on the unique key before)."""
    person = citizen("food_ok")
    first = services.pairwise_subject(person.id, "app:race")
    real, looks = db.session.scalar, []

    def scalar(statement, *args, **kwargs):  # the first look happens before the other request's insert
        looks.append(statement)
        return None if len(looks) == 1 else real(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "scalar", scalar)
    assert services.pairwise_subject(person.id, "app:race") == first and len(looks) == 2


def test_revoking_consent_stops_the_claims_at_once(client, app, shop):
    person = citizen("food_ok")
    app_id = shop["app"].id
    services.consent_grant(person, app_id, ["name", "resident_id", "phone"])
    before = verifier(client, app).verify(services.identity_token_for(person, app_id, audience=AUDIENCE))
    assert before.resident_id == person.resident_id
    services.consent_revoke(person, app_id)
    after = verifier(client, app).verify(services.identity_token_for(person, app_id, audience=AUDIENCE))
    assert not {"name", "resident_id", "phone"} & set(after.claims)
    assert services.consent_status(person, app_id).must_ask  # asked again before the next use


def test_consent_page_lists_fields_with_purposes_and_revoke_on_my_data(client, shop):
    persona = next(p for p in persona_list() if p.key == "food_ok")
    persona_login(client, persona)
    app_id = shop["app"].id
    page = client.get(f"/identity/consent/{app_id}?next=/identity/my-data&lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for purpose in PURPOSES.values():
        assert purpose in html
    assert "Resident ID number" in html and "食安通" in html
    chinese = client.get(f"/identity/consent/{app_id}?lang=zh_CN").get_data(as_text=True)
    assert "身份证号" in chinese and "用途" in chinese
    response = client.post(f"/identity/consent/{app_id}?next=http://shiantong.apps.localhost:5000/",
                           data={"csrf_token": csrf_of(html), "fields": ["name"], "grant": "1"})
    assert response.status_code == 302 and response.location == "http://shiantong.apps.localhost:5000/"
    user = db.session.scalar(db.select(User).where(User.resident_id == persona.resident_id))
    assert services.consented_claims(user, app_id) == {"name": persona.name}

    my_data = client.get("/identity/my-data?lang=en").get_data(as_text=True)
    assert "食安通" in my_data and PURPOSES["name"] in my_data
    response = client.post(f"/identity/my-data/consents/{app_id}/revoke", data={"csrf_token": csrf_of(my_data)})
    assert response.status_code == 302
    assert services.consented_claims(user, app_id) == {}


def test_consent_never_redirects_off_site(client, shop):
    persona_login(client, persona_list()[0])
    app_id = shop["app"].id
    html = client.get(f"/identity/consent/{app_id}").get_data(as_text=True)
    response = client.post(f"/identity/consent/{app_id}?next=https://evil.example/phish",
                           data={"csrf_token": csrf_of(html), "decline": "1"})
    assert response.status_code == 302 and response.location == "/identity/my-data"


@pytest.mark.parametrize("next_", ["http://attacker.localhost%5C.apps.localhost:5000/", "%2F%09%2Fattacker.localhost%3A5055%2F",
                                   "//attacker.localhost/", "http://shiantong.apps.localhost:5000@attacker.localhost/"])
def test_persona_login_never_redirects_off_site(client, next_):
    """Issue 14 item 3 (and 7: this was a 500 after the login had been committed): the login happens, the
    browser goes to the citizen's own page."""
    persona = persona_list()[0]
    page = client.get(f"/identity/personas?next={next_}")
    assert page.status_code == 200
    response = client.post(f"/identity/personas?next={next_}", data={"csrf_token": csrf_of(page.get_data(as_text=True)),
                                                                     "resident_id": persona.resident_id})
    assert response.status_code == 302 and response.location == "/identity/my-data"


def test_consent_refuses_fields_the_app_did_not_ask_for(shop):
    person = citizen()
    with pytest.raises(ValidationError, match="address"):
        services.consent_grant(person, shop["app"].id, ["name", "address"])
    with pytest.raises(NotFound):
        services.consent_grant(person, 999_999, ["name"])


def test_only_citizens_give_consent_or_get_tokens(shop):
    staff = db.session.get(User, shop["world"].ids["staff_a"])
    with pytest.raises(Forbidden):
        services.consent_grant(staff, shop["app"].id, ["name"])
    with pytest.raises(Forbidden):
        services.identity_token_for(staff, shop["app"].id, audience=AUDIENCE)


# --- Keys --------------------------------------------------------------------------------------------------


def test_rotation_keeps_the_old_key_published_for_the_grace_period(client, app, shop):
    person = citizen()
    old_token = services.identity_token_for(person, shop["app"].id, audience=AUDIENCE)
    old_kid = keys.signing_key_current().kid
    new = keys.signing_key_rotate(SYSTEM, grace_hours=1)
    kids = {k["kid"] for k in client.get("/.well-known/jwks.json").json["keys"]}
    assert kids == {old_kid, new.kid}
    verifier(client, app).verify(old_token)  # still verifies during the grace period
    new_token = services.identity_token_for(person, shop["app"].id, audience=AUDIENCE)
    assert verifier(client, app).verify(new_token)
    # After the grace period the old key is gone and its tokens are refused.
    retired = db.session.scalar(db.select(services.keys.SigningKey).where(services.keys.SigningKey.kid == old_kid))
    retired.published_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert {k["kid"] for k in client.get("/.well-known/jwks.json").json["keys"]} == {new.kid}
    with pytest.raises(IdentityError):
        verifier(client, app).verify(old_token)
    assert all("d" not in k for k in client.get("/.well-known/jwks.json").json["keys"])  # never a private part


def test_rs256_key_sits_beside_es256_which_still_signs_by_default_and_both_rotate(client, app, shop):
    person = citizen()
    es, rs = keys.signing_key_current(), keys.signing_key_current("RS256")
    db.session.commit()
    assert (es.alg, rs.alg) == ("ES256", "RS256")
    token = services.identity_token_for(person, shop["app"].id, audience=AUDIENCE)
    assert verifier(client, app).verify(token)
    assert json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==")) == {"alg": "ES256", "kid": es.kid,
                                                                                "typ": "JWT"}
    new = keys.signing_key_rotate(SYSTEM, grace_hours=1)
    new_rs = keys.signing_key_current("RS256")
    assert new.alg == "ES256" and new.kid != es.kid and new_rs.kid != rs.kid
    published = {k["kid"]: k["alg"] for k in client.get("/.well-known/jwks.json").json["keys"]}
    assert published == {es.kid: "ES256", rs.kid: "RS256", new.kid: "ES256", new_rs.kid: "RS256"}


def test_relying_party_registration_names_its_id_token_algorithm(app):
    from marketplace.identity.models import OIDCClient

    runner = app.test_cli_runner()
    made = runner.invoke(args=["identity", "oidc-client-add", "--name", "B", "--redirect-uri", "https://b.example.cn/cb",
                               "--id-token-alg", "RS256"])
    assert made.exit_code == 0, made.output
    client_id = json.loads(made.output)["client_id"]
    rp = db.session.scalar(db.select(OIDCClient).where(OIDCClient.client_id == client_id))
    assert rp.id_token_alg == "RS256" and rp.check_grant_type("refresh_token")
    refused = runner.invoke(args=["identity", "oidc-client-add", "--name", "C", "--redirect-uri",
                                  "https://c.example.cn/cb", "--id-token-alg", "HS256"])
    assert refused.exit_code != 0 and "HS256" in refused.output


def test_only_admins_rotate_keys(shop):
    with pytest.raises(Forbidden):
        keys.signing_key_rotate(db.session.get(User, shop["world"].ids["auditor"]))


# --- The data-access log -----------------------------------------------------------------------------------


def test_access_log_shows_each_citizen_only_their_own_reads(client, shop):
    app_id = shop["app"].id
    alice = citizen("food_ok")
    bob = citizen("awkward_rare_name")
    services.consent_grant(alice, app_id, ["name", "phone"])
    services.identity_token_for(alice, app_id, audience=AUDIENCE)
    services.identity_token_for(alice, app_id, audience=AUDIENCE)  # counted on the same entry
    services.access_log_record(alice.id, app_id, ["resident_id"], "核验申请人身份", "GET /persons/{resident_id}")

    log = services.access_log_list(alice)
    assert log.total == 2
    token_entry = next(e for e in log.items if e.via == "identity_token")
    assert token_entry.fields == ["name", "phone"] and token_entry.count == 2
    assert set(token_entry.purpose.split("; ")) == {PURPOSES["name"], PURPOSES["phone"]}
    assert services.access_log_list(bob).total == 0
    with pytest.raises(Forbidden):
        services.access_log_list(bob, citizen_id=alice.id)

    persona_login(client, next(p for p in persona_list() if p.key == "awkward_rare_name"))
    assert "核验申请人身份" not in client.get("/identity/my-data").get_data(as_text=True)


def test_citizen_sees_the_log_on_my_data(client, shop):
    persona = next(p for p in persona_list() if p.key == "food_ok")
    persona_login(client, persona)
    user = db.session.scalar(db.select(User).where(User.resident_id == persona.resident_id))
    services.access_log_record(user.id, shop["app"].id, ["resident_id"], "核验申请人身份", "GET /persons/{resident_id}")
    html = client.get("/identity/my-data").get_data(as_text=True)
    assert "核验申请人身份" in html and "食安通" in html and "从部门读取的您的登记信息" in html
    assert "GET /persons" not in html, "the route is for the downloads, the page says it in plain language"


def test_auditors_audit_the_access_log_over_the_api(shop):
    world = shop["world"]
    person = citizen()
    services.access_log_record(person.id, shop["app"].id, ["name"], "办理食品经营许可", "GET /persons/{resident_id}")
    response = world.call("auditor", "GET", f"/api/identity/access-log?citizen_id={person.id}")
    assert response.status_code == 200
    assert [e["purpose"] for e in response.json] == ["办理食品经营许可"]
    assert response.json[0]["fields"] == ["name"] and response.json[0]["citizen_id"] == person.id
    assert world.call("vendor_a", "GET", "/api/identity/access-log").status_code == 403


def test_access_log_record_refuses_incomplete_entries(shop):
    person = citizen()
    with pytest.raises(ValidationError, match="purpose"):
        services.access_log_record(person.id, shop["app"].id, ["name"], " ", "GET /persons/x")
    with pytest.raises(NotFound):
        services.access_log_record(shop["world"].ids["staff_a"], shop["app"].id, ["name"], "x", "y")


# --- My data: masked identifiers, downloads, deletion requests --------------------------------------------------


def test_my_data_masks_identifiers_and_the_downloads_hold_them_in_full(client, shop):
    import csv
    import io
    import json

    persona = next(p for p in persona_list() if p.key == "food_ok")
    persona_login(client, persona)
    user = db.session.scalar(db.select(User).where(User.resident_id == persona.resident_id))
    services.consent_grant(user, shop["app"].id, ["name", "phone"])
    services.access_log_record(user.id, shop["app"].id, ["name", "household_id"], "核验申请人身份",
                               "GET /persons/{resident_id}")
    rid = persona.resident_id
    html = client.get("/identity/my-data").get_data(as_text=True)
    assert f"{rid[:4]}**********{rid[-4:]}" in html and rid not in html
    assert "户号" in html, "a department field is named in plain language"

    data = client.get("/identity/my-data/data.json")
    assert data.status_code == 200 and "attachment" in data.headers["Content-Disposition"]
    body = json.loads(data.get_data(as_text=True))
    assert body["held"]["resident_id"] == rid and body["consents"][0]["fields"] == ["name", "phone"]
    log = json.loads(client.get("/identity/my-data/access-log.json").get_data(as_text=True))["access_log"]
    assert [(e["app"], e["fields"], e["purpose"]) for e in log] == [("食安通", ["name", "household_id"], "核验申请人身份")]
    rows = list(csv.reader(io.StringIO(client.get("/identity/my-data/access-log.csv").get_data(as_text=True)
                                       .lstrip("\ufeff"))))
    assert rows[0][:3] == ["app", "fields", "purpose"] and rows[1][:3] == ["食安通", "name household_id", "核验申请人身份"]
    data_csv = client.get("/identity/my-data/data.csv")
    assert data_csv.mimetype == "text/csv" and ["held", "resident_id", rid] in list(
        csv.reader(io.StringIO(data_csv.get_data(as_text=True).lstrip("\ufeff"))))
    assert client.get("/identity/my-data/data.xml").status_code == 404


def test_masking_keeps_four_characters_at_each_end():
    from marketplace.identity.views import masked

    assert masked("resident_id", "410320199607073214") == "4103**********3214"
    assert masked("phone", "13812345678") == "138****5678"
    assert masked("name", "阿依古丽·买买提") == "阿依古丽·买买提"


def test_a_deletion_request_is_a_task_for_the_vendor_with_a_deadline(client, shop):
    from core.audit import AuditEvent
    from core.errors import Conflict

    world = shop["world"]
    app_id = shop["app"].id
    person = citizen()
    services.consent_grant(person, app_id, ["name"])
    now = utcnow()
    request = services.deletion_request_create(person, app_id, now=now)
    assert request.due_at == now + timedelta(days=services.DELETION_DAYS) and request.state == "open"
    assert services.deletion_request_create(person, app_id).id == request.id, "one open request per app"
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "deletion.request"))
    assert event.vendor_id == shop["app"].vendor_id

    vendor_member = db.session.get(User, world.ids["vendor_a"])
    other_vendor = db.session.get(User, world.ids["vendor_b"])
    assert [r.id for r in services.deletion_request_list(vendor_member)] == [request.id]
    assert services.deletion_request_list(other_vendor) == []
    with pytest.raises(NotFound):  # to another vendor it does not exist
        services.deletion_request_complete(other_vendor, request.id, "deleted")
    with pytest.raises(Forbidden):
        services.deletion_request_complete(person, request.id, "deleted")
    with pytest.raises(ValidationError):
        services.deletion_request_complete(vendor_member, request.id, "  ")
    services.deletion_request_complete(vendor_member, request.id, "已删除申请草稿和联系电话")
    with pytest.raises(Conflict):
        services.deletion_request_complete(vendor_member, request.id, "again")
    assert services.deletion_request_list(person)[0].state == "completed"

    late = services.deletion_request_create(person, shop["other"].id, now=now - timedelta(days=16))
    assert late.state == "overdue"


def test_citizen_asks_and_vendor_confirms_deletion_on_the_web(client, shop):
    from tests.marketplace.webpages import login

    persona = next(p for p in persona_list() if p.key == "food_ok")
    persona_login(client, persona)
    user = db.session.scalar(db.select(User).where(User.resident_id == persona.resident_id))
    services.consent_grant(user, shop["app"].id, ["name"])
    page = client.get("/identity/my-data").get_data(as_text=True)
    response = client.post(f"/identity/my-data/consents/{shop['app'].id}/delete-request",
                           data={"csrf_token": csrf_of(page)})
    assert response.status_code == 302
    html = client.get("/identity/my-data").get_data(as_text=True)
    assert "删除请求" in html and "等待开发商处理" in html

    login(client, "vendor_a")
    assert "/identity/deletion-requests" in client.get("/apps").get_data(as_text=True)  # found from My apps
    listing = client.get("/identity/deletion-requests").get_data(as_text=True)
    assert "食安通" in listing
    request_id = services.deletion_request_list(user)[0].id
    done = client.post(f"/identity/deletion-requests/{request_id}/complete",
                       data={"csrf_token": csrf_of(listing), "note": "已删除申请草稿"})
    assert done.status_code == 302
    assert services.deletion_request_list(user)[0].note == "已删除申请草稿"


def test_a_purpose_the_contract_does_not_state_is_the_order_without_saying_the_item_twice(shop):
    order = shop["order"]
    purposes = services.purposes_for(shop["app"])
    assert purposes["name"] == PURPOSES["name"]  # stated in the contract
    item = order.service_item.name
    assert purposes["dept:address"] == f"{item}（{order.title}）"
    order.title = f"{item} · 在线申请应用"
    assert services.purposes_for(shop["app"])["dept:address"] == order.title
