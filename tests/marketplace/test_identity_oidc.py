"""OpenID Connect federation for real: instance B is the identity provider, instance A the relying party.

Both are served over HTTP on loopback with their own databases; a real HTTP client with cookies follows the
redirects of the authorization-code flow from A to B and back.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from urllib.parse import urlsplit

import requests
from werkzeug.serving import make_server

from core.auth import SYSTEM
from tests.conftest import _create_database, make_app, upgrade


@contextmanager
def served(tmp_path_factory, name: str, **config):
    """An instance of the platform on its own database, served on 127.0.0.1 at a free port.

    ``config`` may be a callable taking the base URL, for settings that must name the instance's own address.
    """
    url, drop = _create_database(tmp_path_factory, name)
    holder = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start), threaded=True)
    base = f"http://127.0.0.1:{server.port}"
    settings = config.pop("settings", lambda base: {})(base)
    app = make_app(url, tmp_path_factory.mktemp(name), ISSUER=base, SESSION_COOKIE_NAME=f"{name}_session",
                   **settings, **config)
    upgrade(app)
    holder["app"] = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, base
    finally:
        server.shutdown()
        thread.join(5)
        with app.app_context():
            from core.extensions import db

            db.engine.dispose()
        drop()


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_citizen_of_the_provider_logs_in_to_the_relying_party(tmp_path_factory):
    from marketplace.identity.oidc_provider import oidc_client_create
    from marketplace.identity.personas import persona_list

    persona = next(p for p in persona_list() if p.key == "awkward_minority_name")
    with served(tmp_path_factory, "op", OIDC_PROVIDER=True) as (provider, op_url):
        registration = {}

        def relying_party(base):
            with provider.app_context():
                client, secret = oidc_client_create(SYSTEM, name="instance A",
                                                    redirect_uris=[f"{base}/identity/federated/callback"])
                registration.update(id=client.client_id, secret=secret)
            return {"OIDC_ISSUER": op_url, "OIDC_CLIENT_ID": registration["id"],
                    "OIDC_CLIENT_SECRET": registration["secret"]}

        with served(tmp_path_factory, "rp", settings=relying_party) as (rp, rp_url):
            browser = requests.Session()
            assert "/identity/federated/login" in browser.get(f"{rp_url}/identity/login").text
            # A sends the citizen to B, where nobody is logged in: B's login page, with the way back in `next`.
            page = browser.get(f"{rp_url}/identity/federated/login", params={"next": "/identity/my-data"}, timeout=10)
            assert page.url.startswith(f"{op_url}/identity/login?")
            personas = browser.get(f"{op_url}/identity/personas?{urlsplit(page.url).query}", timeout=10)
            done = browser.post(personas.url, data={"csrf_token": csrf_token(personas.text),
                                                    "resident_id": persona.resident_id}, timeout=10)
            # B logs the persona in, returns a code to A, A exchanges it and logs the same person in.
            assert done.status_code == 200, done.text
            assert done.url == f"{rp_url}/identity/my-data"
            phone = persona.person["phone"]  # My data shows it masked
            assert persona.name in done.text and f"{phone[:3]}****{phone[-4:]}" in done.text

            with rp.app_context():
                from core.extensions import db
                from marketplace.accounts.models import User
                from marketplace.identity.models import CitizenProfile, FederatedIdentity

                user = db.session.scalar(db.select(User).where(User.resident_id == persona.resident_id))
                assert user.role == "citizen" and user.display_name == persona.name
                link = db.session.scalar(db.select(FederatedIdentity).where(FederatedIdentity.user_id == user.id))
                assert link.issuer == op_url and link.subject != persona.resident_id
                profile = db.session.get(CitizenProfile, user.id)
                assert profile.address == persona.person["address"]
                assert profile.birth_date.isoformat() == persona.person["birth_date"]
                assert profile.source == f"oidc:{op_url}"

            # A second login is linked to the same account by B's (pairwise, stable) subject.
            browser.cookies.clear(domain="127.0.0.1", path="/", name="rp_session")
            again = browser.get(f"{rp_url}/identity/federated/login", timeout=10)
            assert again.url == f"{rp_url}/identity/my-data" and persona.name in again.text
            with rp.app_context():
                assert db.session.scalar(db.select(db.func.count()).select_from(FederatedIdentity)) == 1
                assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 1

        # The provider's published metadata and keys are what the relying party used.
        discovery = requests.get(f"{op_url}/.well-known/openid-configuration", timeout=5).json()
        assert discovery["issuer"] == op_url and discovery["jwks_uri"] == f"{op_url}/.well-known/jwks.json"
        assert requests.get(discovery["jwks_uri"], timeout=5).json()["keys"]


def test_relying_party_refuses_a_forged_callback(tmp_path_factory):
    with served(tmp_path_factory, "rp", OIDC_ISSUER="http://127.0.0.1:9", OIDC_CLIENT_ID="x",
                OIDC_CLIENT_SECRET="y") as (_rp, rp_url):
        response = requests.get(f"{rp_url}/identity/federated/callback?code=stolen&state=guessed", timeout=10)
        assert response.status_code == 401
        assert "start again" in response.text


def test_instance_without_provider_mode_has_no_discovery(client):
    assert client.get("/.well-known/openid-configuration").status_code == 404
    assert client.get("/identity/provider/authorize").status_code == 404
