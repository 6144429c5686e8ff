"""Per-citizen delegation: the department service answers only inside a valid department access token.

Tokens are signed here with a key of their own (as the platform signs them with its identity key) and verified
offline against its JWKS; each refusal carries its status, a code and a reason, and is recorded on the call."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from werkzeug.test import Client

from mockdata.delegation import TOKEN_TYPE, DelegationVerifier, delegation_claims
from mockdata.service import SCOPES, DepartmentService

ISSUER = "https://platform.test"
APP = "app:7"


@pytest.fixture(scope="module")
def key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "k1", "alg": "ES256", "use": "sig"})


@pytest.fixture
def service(store, key) -> DepartmentService:
    jwks = KeySet([key]).as_dict(private=False)
    return DepartmentService(store, SCOPES, delegation=DelegationVerifier(jwks, ISSUER, app=APP, leeway=0))


@pytest.fixture
def client(service) -> Client:
    return Client(service)


def token(key: ECKey, citizen: str, fields=("name", "phone"), *, app: str = APP, typ: str = TOKEN_TYPE,
          issuer: str = ISSUER, lifetime: int = 120, consent_at: int = 0, **override) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "iat": now, "nbf": now, "exp": now + lifetime, "jti": f"j{now}{citizen}",
              **delegation_claims(citizen=citizen, app=app, order="3", fields=fields, purpose="食品经营许可",
                                  consent_at=consent_at), **override}
    return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": typ}, claims, key, algorithms=["ES256"])


def get(client: Client, path: str, bearer: str | None):
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    response = client.get(path, headers=headers)
    return response.status_code, response.get_json()


def test_the_citizen_gets_exactly_the_consented_fields_of_their_own_record(client, key, scenarios):
    person = scenarios["food_ok"]["applicant"]
    status, body = get(client, f"/persons/{person['resident_id']}",
                       token(key, person["resident_id"], ("name", "phone", "address")))
    assert status == 200
    assert body == {"resident_id": person["resident_id"], "name": person["name"], "phone": person["phone"],
                    "address": person["address"]}


@pytest.mark.parametrize(("case", "code"), [
    ("missing", "delegation_missing"), ("expired", "delegation_expired"), ("forged", "delegation_invalid"),
    ("tampered", "delegation_invalid"), ("other_issuer", "delegation_invalid"), ("other_audience", "delegation_invalid"),
    ("identity_token", "delegation_invalid"), ("not_bearer", "delegation_invalid"),
])
def test_a_call_without_a_valid_token_is_401_with_the_reason(service, client, key, scenarios, case, code):
    citizen = scenarios["food_ok"]["applicant"]["resident_id"]
    good = token(key, citizen)
    bearer = {
        "missing": None,
        "expired": token(key, citizen, lifetime=-10),
        "forged": token(ECKey.generate_key("P-256", parameters={"kid": "k1"}), citizen),  # same kid, other key
        "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "other_issuer": token(key, citizen, issuer="https://elsewhere.test"),
        "other_audience": token(key, citizen, aud="urn:someone:else"),
        "identity_token": token(key, citizen, typ="JWT"),
        "not_bearer": None,
    }[case]
    if case == "not_bearer":
        response = client.get(f"/persons/{citizen}", headers={"Authorization": f"Basic {good}"})
        status, body = response.status_code, response.get_json()
    else:
        status, body = get(client, f"/persons/{citizen}", bearer)
    assert status == 401 and body["error"] == code and body["detail"]
    assert service.calls[-1]["refusal"] == code and service.calls[-1]["status"] == 401


def test_a_token_of_another_app_is_403(service, client, key, scenarios):
    citizen = scenarios["food_ok"]["applicant"]["resident_id"]
    status, body = get(client, f"/persons/{citizen}", token(key, citizen, app="app:8"))
    assert status == 403 and body["error"] == "delegation_other_app"


def test_a_token_replayed_after_the_citizen_changed_their_consent_is_refused(service, client, key, scenarios):
    """The token of a request made before a withdrawal carries the older decision: once the department has seen
    a newer one (the next request's token), the old one reads nothing more."""
    citizen = scenarios["food_ok"]["applicant"]["resident_id"]
    before = token(key, citizen, ("name", "phone", "address"), consent_at=1_000)
    assert get(client, f"/persons/{citizen}", before)[0] == 200
    after = token(key, citizen, (), consent_at=2_000)  # withdrawn: no department field
    status, body = get(client, f"/persons/{citizen}", after)
    assert status == 403 and body["error"] == "field_not_consented"
    status, body = get(client, f"/persons/{citizen}", before)
    assert status == 401 and body["error"] == "delegation_superseded"


def test_another_persons_record_is_403_and_recorded(service, client, key, scenarios):
    citizen = scenarios["food_ok"]["applicant"]["resident_id"]
    other = scenarios["ssc_ok"]["applicant"]["resident_id"]
    status, body = get(client, f"/persons/{other}", token(key, citizen))
    assert status == 403 and body["error"] == "not_delegated"
    assert other not in body["detail"]  # the refusal says nothing of the other person
    assert get(client, f"/persons/{other}/licences", token(key, citizen, ("licences",)))[1]["error"] == "not_delegated"
    assert [c["refusal"] for c in service.calls] == ["not_delegated", "not_delegated"]
    assert {c["citizen"] for c in service.calls} == {citizen}


def test_a_guardian_reads_the_record_of_the_child_in_their_care(client, key, scenarios):
    child = scenarios["ssc_minor"]["applicant"]
    guardian = scenarios["ssc_minor"]["guardian"]["resident_id"]
    status, body = get(client, f"/persons/{child['resident_id']}", token(key, guardian, ("name",)))
    assert status == 200 and body == {"resident_id": child["resident_id"], "name": child["name"]}


def test_a_business_the_citizen_does_not_represent_is_403(client, key, scenarios):
    not_rep = scenarios["food_not_legal_rep"]
    business = not_rep["business"]["credit_code"]
    status, body = get(client, f"/businesses/{business}", token(key, not_rep["applicant"]["resident_id"]))
    assert status == 403 and body["error"] == "not_represented"
    owner = scenarios["food_ok"]
    status, body = get(client, f"/businesses/{owner['business']['credit_code']}",
                       token(key, owner["applicant"]["resident_id"]))
    assert status == 200 and body["credit_code"] == owner["business"]["credit_code"]


def test_licences_and_represented_businesses_need_their_own_consent(client, key, scenarios):
    owner = scenarios["food_ok"]
    citizen = owner["applicant"]["resident_id"]
    status, body = get(client, f"/persons/{citizen}/licences", token(key, citizen, ("name",)))
    assert status == 403 and body["error"] == "field_not_consented" and "licences" in body["detail"]
    status, body = get(client, f"/persons/{citizen}/businesses", token(key, citizen, ("businesses",)))
    assert status == 200 and owner["business"]["credit_code"] in [b["credit_code"] for b in body]
    assert {b["role"] for b in body} <= {"legal_representative", "authorised_agent"}


def test_an_application_for_another_person_is_refused(service, client, key, scenarios):
    application = scenarios["food_ok"]["application"]
    someone_else = scenarios["ssc_ok"]["applicant"]["resident_id"]
    response = client.post("/applications/food-licence", json=application,
                           headers={"Authorization": f"Bearer {token(key, someone_else)}"})
    assert response.status_code == 403 and response.get_json()["error"] == "not_delegated"
    assert service.cases == {}
    response = client.post("/applications/food-licence", json=application,
                           headers={"Authorization": f"Bearer {token(key, application['applicant_resident_id'])}"})
    assert response.status_code == 201 and len(service.cases) == 1


def test_a_refusal_about_whom_the_citizens_request_named_is_marked_so_and_still_refused(service, client, key, scenarios):
    """The gateway puts digests (keyed by the token's jti) of the IDs the citizen's request named into the token; a
    refusal about one of them says so, one about anyone else does not, and a digest copied into another token
    (another jti) names nobody. The record itself is never answered."""
    citizen = scenarios["food_ok"]["applicant"]["resident_id"]
    other = scenarios["ssc_ok"]["applicant"]["resident_id"]
    stranger = scenarios["ssc_not_insured"]["applicant"]["resident_id"]
    assert len({citizen, other, stranger}) == 3
    named = delegation_claims(citizen=citizen, app=APP, order="3", fields=("name",), purpose="p", jti="jti-1",
                              named=[other])["named"]
    assert other not in str(named)
    status, body = get(client, f"/persons/{other}", token(key, citizen, ("name",), jti="jti-1", named=named))
    assert (status, body["error"], body.get("named_by_citizen")) == (403, "not_delegated", True)
    status, body = get(client, f"/persons/{stranger}", token(key, citizen, ("name",), jti="jti-1", named=named))
    assert (status, body["error"], body.get("named_by_citizen")) == (403, "not_delegated", None)
    status, body = get(client, f"/persons/{other}", token(key, citizen, ("name",), jti="jti-2", named=named))
    assert (status, body.get("named_by_citizen")) == (403, None), "a digest of another token names nobody"
    assert [c.get("named") for c in service.calls] == [True, False, False]


# --- the verifier's own checks, claim by claim (pinned by the mutation run of mockdata/delegation.py) ---------------


def _signed(key, claims: dict, alg: str = "ES256") -> str:
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": TOKEN_TYPE}, claims, key, algorithms=[alg])


def _claims(citizen: str = "110105199003074578", **override) -> dict:
    now = int(time.time())
    base = {"iss": ISSUER, "iat": now, "exp": now + 60, "jti": "j-1",
            **delegation_claims(citizen=citizen, app=APP, order="3", fields=("name",), purpose="食品经营许可")}
    return {k: v for k, v in {**base, **override}.items() if v is not None}


def _verifier(key, leeway: int = 0) -> DelegationVerifier:
    return DelegationVerifier(KeySet([key]).as_dict(private=False), ISSUER, app=APP, leeway=leeway)


def test_the_verifier_carries_every_claim_and_nothing_it_was_not_given(key):
    given = _verifier(key).verify("Bearer " + _signed(key, _claims(consent_at=7)))
    assert (given.order, given.purpose, given.jti, given.fields, given.consent_at) == \
        ("3", "食品经营许可", "j-1", frozenset({"name"}), 7)
    bare = _verifier(key).verify("Bearer " + _signed(key, _claims(order=None, purpose=None, jti=None, fields="name")))
    assert (bare.order, bare.purpose, bare.jti, bare.fields) == ("", "", "", frozenset()), \
        "a fields claim that is not a list grants nothing"


@pytest.mark.parametrize("missing", ["exp", "sub", "aud"])
def test_a_token_without_an_essential_claim_is_refused(key, missing):
    from mockdata.delegation import DelegationRefused

    with pytest.raises(DelegationRefused) as refused:
        _verifier(key).verify("Bearer " + _signed(key, _claims(**{missing: None})))
    assert (refused.value.status, refused.value.code) == (401, "delegation_invalid")


def test_the_leeway_forgives_a_few_seconds_of_clock_skew_and_no_more(key):
    from mockdata.delegation import DelegationRefused

    just_expired = "Bearer " + _signed(key, _claims(exp=int(time.time()) - 2))
    assert _verifier(key, leeway=5).verify(just_expired).citizen
    with pytest.raises(DelegationRefused) as refused:
        _verifier(key, leeway=0).verify(just_expired)
    assert refused.value.code == "delegation_expired" and "expired" in refused.value.detail
    assert "the one that came with the current request" in refused.value.detail


def test_every_algorithm_the_platform_may_sign_with_is_accepted():
    from joserfc.jwk import OKPKey, RSAKey

    for key, alg in ((OKPKey.generate_key("Ed25519", parameters={"kid": "ed"}), "EdDSA"),
                     (RSAKey.generate_key(2048, parameters={"kid": "ps"}), "PS256")):
        assert _verifier(key).verify("Bearer " + _signed(key, _claims(), alg)).citizen == "110105199003074578"


def test_refusals_tell_the_vendor_what_to_do(key):
    from mockdata.delegation import Delegation, DelegationRefused

    verifier = _verifier(key)
    verifier.verify("Bearer " + _signed(key, _claims(consent_at=9)))
    with pytest.raises(DelegationRefused) as refused:
        verifier.verify("Bearer " + _signed(key, _claims(consent_at=8)))
    assert "changed their consent since this token was issued" in refused.value.detail
    identity_token = jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "JWT"}, _claims(), key, algorithms=["ES256"])
    with pytest.raises(DelegationRefused) as refused:
        verifier.verify("Bearer " + identity_token)
    assert refused.value.detail == ("this is not a department access token (an identity token cannot be used for "
                                    "department calls)")
    delegation = Delegation(citizen="c", app=APP, order="3", fields=frozenset(), purpose="p", jti="j", consent_at=0)
    with pytest.raises(DelegationRefused) as refused:
        delegation.require_field("shoe_size")
    assert "did not consent to shoe_size (shoe_size)" in refused.value.detail
