"""The helpers an app uses inside the sandbox: identity JWT verification, the server, the department client."""

from __future__ import annotations

import json
import os
import threading
import time

import httpx
import pytest
from govapp.department import DepartmentClient, DepartmentError
from govapp.identity import IdentityError, IdentityVerifier, identity_from_environ
from govapp.runner import TokenSigner
from govapp.serve import make_server, with_health
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey

ISSUER = "https://market.test"


@pytest.fixture
def signer():
    return TokenSigner(issuer=ISSUER)


@pytest.fixture
def jwks_file(tmp_path, signer):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(signer.jwks()))
    return path


def test_a_platform_token_gives_the_consented_claims(signer, jwks_file):
    verifier = IdentityVerifier(jwks_file, ISSUER)
    citizen = verifier.from_authorization("Bearer " + signer.sign({"sub": "c-1", "name": "阿依古丽·买买提", "resident_id": "11"}))
    assert (citizen.sub, citizen.name, citizen.resident_id, citizen.phone) == ("c-1", "阿依古丽·买买提", "11", None)


@pytest.mark.parametrize(("make", "message"), [
    (lambda s: s.sign({"sub": "c", "iss": "https://evil.test"}), "iss"),
    (lambda s: s.sign({"sub": "c", "exp": int(time.time()) - 3600}), "exp"),
    (lambda s: TokenSigner(ISSUER).sign({"sub": "c"}), "refused"),  # another key
    (lambda s: s.sign({"sub": "c"})[:-6] + "AAAAAA", "refused"),
    (lambda s: jwt.encode({"alg": "HS256"}, {"sub": "c", "iss": ISSUER, "exp": int(time.time()) + 60},
                          OctKey.import_key("k" * 32)), "refused"),
])
def test_bad_tokens_are_refused(signer, jwks_file, make, message):
    with pytest.raises(IdentityError, match=message):
        IdentityVerifier(jwks_file, ISSUER).verify(make(signer))


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer "])
def test_missing_or_malformed_headers_are_refused(jwks_file, header):
    with pytest.raises(IdentityError) as err:
        IdentityVerifier(jwks_file, ISSUER).from_authorization(header)
    assert err.value.status == 401


def test_the_jwks_file_is_reread_after_key_rotation(tmp_path, jwks_file, signer):
    verifier = IdentityVerifier(jwks_file, ISSUER)
    assert verifier.verify(signer.sign({"sub": "a"})).sub == "a"
    rotated = TokenSigner(ISSUER)
    new_key = ECKey.import_key(rotated.key.as_dict(private=False))
    jwks_file.write_text(json.dumps({"keys": [new_key.as_dict()]}))
    later = time.time() + 5
    os.utime(jwks_file, (later, later))
    assert verifier.verify(rotated.sign({"sub": "b"})).sub == "b"


def test_identity_from_environ_uses_the_environment(monkeypatch, jwks_file, signer):
    import govapp.identity as identity

    monkeypatch.setenv("GOVAPP_JWKS", str(jwks_file))
    monkeypatch.setenv("GOVAPP_ISSUER", ISSUER)
    monkeypatch.setattr(identity, "_default", None)
    environ = {"HTTP_AUTHORIZATION": "Bearer " + signer.sign({"sub": "x", "phone": "13800000000"})}
    assert identity_from_environ(environ).phone == "13800000000"


def slow_app(environ, start_response):
    time.sleep(0.3)
    body = json.dumps({"path": environ["PATH_INFO"]}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def test_the_server_answers_health_and_serves_requests_in_parallel(tmp_path):
    sock = tmp_path / "app.sock"
    server = make_server(with_health(slow_app, "demo:app"), socket_path=str(sock))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://app") as client:
            assert client.get("/health").json() == {"status": "ok", "app": "demo:app"}
            results = []
            started = time.monotonic()
            threads = [threading.Thread(target=lambda: results.append(client.get("/x").json())) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert results == [{"path": "/x"}] * 4
            assert time.monotonic() - started < 1.0  # four 0.3 s requests at once, not one after another
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def department(tmp_path):
    from mockdata.server import serve_in_thread
    from mockdata.service import DepartmentService

    service = DepartmentService.from_spec("citizens-v1", seed=42, size=200, scopes={"person.read", "application.submit"})
    sock = tmp_path / "dept.sock"
    with serve_in_thread(service, socket_path=str(sock)):
        yield service, DepartmentClient(socket_path=str(sock))


def test_the_department_client_over_the_unix_socket(department):
    from mockdata.identifiers import resident_id_check_char

    service, client = department
    person_id = service.scenarios["ssc_ok"]["applicant"]["resident_id"]
    assert client.person(person_id)["resident_id"] == person_id
    unknown = "11010519000101999"
    assert client.person(unknown + resident_id_check_char(unknown)) is None
    with pytest.raises(DepartmentError) as err:
        client.person("110105199003071234")  # wrong check character
    assert err.value.code == "invalid_identifier"
    with pytest.raises(DepartmentError) as err:
        client.business(service.scenarios["food_ok"]["business"]["credit_code"])
    assert err.value.status == 403 and err.value.code == "scope_denied"
    assert service.violations[-1]["path"].startswith("/businesses/")
    decision = client.submit_application("social-security-card", service.scenarios["ssc_ok"]["application"])
    assert decision["decision"] == "accepted" and decision["http_status"] == 201
    assert decision["case_number"].startswith("SB-")


def test_the_department_client_reports_an_unreachable_service(tmp_path):
    with pytest.raises(DepartmentError) as err:
        DepartmentClient(socket_path=str(tmp_path / "missing.sock")).person("110105199003071234")
    assert err.value.code == "unreachable"
