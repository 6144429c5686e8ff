"""The gateway's session → claims cache (marketplace/gateway/claims.py) shared by web processes through Redis: a
change committed by one process — a consent revoked, a session ended, a citizen deactivated — is seen by the
next request in another, and a warm request reads nothing from the database."""

from __future__ import annotations

import secrets

import pytest
import sqlalchemy as sa
from flask import Flask

from core.errors import NotFound
from tests.marketplace.test_gateway import gw, served_registry, ssc_ok  # noqa: F401 - fixtures
from tests.services import require_redis

pytestmark = pytest.mark.redis


@pytest.fixture
def processes(app):
    """Two web processes' views of the cache: separate Flask apps (same settings) on one Redis."""
    from core.extensions import cache

    url, prefix = require_redis(), f"govmarket-test-{secrets.token_hex(4)}:"
    made = []
    for name in ("web-1", "web-2"):
        web = Flask(name)
        web.config.update(app.config)
        cache.init_app(web, config={"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": url,
                                    "CACHE_KEY_PREFIX": prefix})
        made.append(web)
    yield made
    with made[0].app_context():
        cache.clear()


def count_statements(engine):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE")):
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    return statements, lambda: sa.event.remove(engine, "before_cursor_execute", record)


def test_a_change_in_one_process_reaches_the_next_request_in_another(app, gw, processes):  # noqa: F811
    from core.extensions import db
    from marketplace.accounts.models import User
    from marketplace.gateway import claims
    from marketplace.gateway import services as gateway
    from marketplace.identity import services as identity

    web_1, web_2 = processes
    engine = db.engine
    citizen = db.session.get(User, gw["citizen_id"])
    with web_1.app_context():
        echo, _version = gateway.served_app_get("echo")
        tokens = []
        for _ in range(2):
            launch = gateway.app_launch(citizen, "echo")
            tokens.append(gateway.launch_redeem("echo", launch.code, session_seconds=3600)[0])
        token, other = tokens
        first = gateway.gateway_session_claims(echo, token)
        assert first is not None and first.claims == {"name": gw["name"]}
        statements, stop = count_statements(engine)
        try:
            again = gateway.gateway_session_claims(echo, token)
        finally:
            stop()
        assert again == first and statements == [], f"a warm lookup read the database: {statements}"
        assert gateway.gateway_session_claims(echo, other) is not None

    with web_2.app_context():  # another process: the same entry, without reading the database
        assert claims.lookup(echo, first.token_sha256, None)[1]
        identity.consent_grant(citizen, gw["app_id"], ["name", "phone"])
    with web_1.app_context():
        assert not claims.lookup(echo, first.token_sha256, None)[1], "the consent change ended the entry"
        assert set(gateway.gateway_session_claims(echo, token).claims) == {"name", "phone"}

    with web_2.app_context():
        identity.consent_revoke(citizen, gw["app_id"])
    with web_1.app_context():
        assert gateway.gateway_session_claims(echo, token).claims == {}, "a revoked consent shows nothing at once"

    with web_2.app_context():
        gateway.gateway_session_end(echo.id, token)
    with web_1.app_context():
        assert gateway.gateway_session_claims(echo, token) is None, "an ended session is refused at once"
        assert gateway.gateway_session_claims(echo, other) is not None

    with web_2.app_context():
        citizen.active = False
        db.session.commit()
    with web_1.app_context():
        assert gateway.gateway_session_claims(echo, other) is None, "a deactivated citizen is refused at once"

    with web_1.app_context():
        assert gateway.served_app_cached("echo") == gateway.served_app_cached("echo")
    with web_2.app_context():
        from core.time import utcnow
        from marketplace.vendors.models import AppVersion

        db.session.get(AppVersion, gw["version_id"]).suspended_at = utcnow()
        db.session.commit()
    with web_1.app_context():
        with pytest.raises(NotFound):
            gateway.served_app_cached("echo")
