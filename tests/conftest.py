"""Shared fixtures.

The database under test is chosen by ``TEST_DATABASE``: ``sqlite`` (default) or ``postgres``.
Its schema is built by the Alembic migrations once per run; each test then runs inside a
transaction that is rolled back, so tests see a clean database and may still call commit().
Tests that need real commits across connections use ``fresh_database_url``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import g, has_app_context
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from sqlalchemy.orm import scoped_session, sessionmaker

from tests.services import require_postgres

TEST_DATABASE = os.environ.get("TEST_DATABASE", "sqlite")

# `make mutation` (docs/testing.md) runs the same tests once per mutant: each run must draw the same examples
# (derandomize, so a mutant's verdict does not depend on luck), and mutmut's tracing makes generation slow
# enough to trip the health checks that guard ordinary runs.
settings.register_profile("mutation", derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def _create_database(tmp_path_factory, name: str) -> tuple[str, callable]:
    """A new empty database; returns its URL and a function that drops it."""
    if TEST_DATABASE == "postgres":
        admin_url = require_postgres()
        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        db_name = f"govmarket_test_{name}_{uuid.uuid4().hex[:8]}"
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{db_name}"')
        url = admin_url.rsplit("/", 1)[0] + "/" + db_name

        def drop():
            with engine.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            engine.dispose()

        return url, drop
    path = Path(tmp_path_factory.mktemp(f"db-{name}")) / "govmarket.db"
    return f"sqlite:///{path}", lambda: None


class IsolatedClient(FlaskClient):
    """A test client whose every request gets a fresh ``flask.g``, as in production.

    The rollback fixture keeps one app context pushed for the whole test, and Flask reuses a pushed context
    for requests, so without this one client's logged-in user (cached by Flask-Login in ``g``) would leak
    into the next client's request."""

    def open(self, *args, **kwargs):
        if not has_app_context():
            return super().open(*args, **kwargs)
        saved = dict(g.__dict__)
        g.__dict__.clear()
        try:
            return super().open(*args, **kwargs)
        finally:
            g.__dict__.clear()
            g.__dict__.update(saved)


def make_app(database_url: str, tmp_path: Path, **overrides):
    from marketplace.app import create_app

    config = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "INSTANCE_PATH": str(tmp_path),
        "QUEUE_MODE": "sync",
        "WTF_CSRF_ENABLED": True,
        "TESTING": True,
        "RATELIMIT_STORAGE_URI": "memory://",
        "PASSWORD_HASH_PROFILE": "CHEAPEST",
        # No warm pool unless a test asks for one: its thread outlives the test and its app (an app made with
        # TESTING=False would start one with its first request), and would read through whatever session the
        # next tests bind.
        "SERVING_WARM_APPS": 0,
        **overrides,
    }
    application = create_app(config)
    application.test_client_class = IsolatedClient
    return application


def upgrade(app) -> None:
    import flask_migrate

    with app.app_context():
        flask_migrate.upgrade(revision="heads")


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    url, drop = _create_database(tmp_path_factory, "main")
    application = make_app(url, tmp_path_factory.mktemp("instance"))
    upgrade(application)
    yield application
    with application.app_context():
        from core.extensions import db

        db.engine.dispose()
    drop()


@pytest.fixture
def fresh_database_url(tmp_path_factory):
    """A separate, migrated-to-nothing database for tests that need real commits."""
    url, drop = _create_database(tmp_path_factory, "fresh")
    yield url
    drop()


@pytest.fixture(autouse=True)
def _rollback(request):
    """Run each test that uses the app inside an outer transaction that is rolled back."""
    if "app" not in request.fixturenames:
        yield
        return
    application = request.getfixturevalue("app")
    from core.extensions import db

    with application.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        # A plain SQLAlchemy session: Flask-SQLAlchemy's own would pick the engine and ignore the bind.
        db.session = scoped_session(sessionmaker(bind=connection, join_transaction_mode="create_savepoint"))
        try:
            yield
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()
            # Rolled-back rows come back with the same ids (SQLite): nothing cached from them may outlive the test.
            from core.extensions import cache

            cache.clear()
            # The signing key a process keeps came from rows now rolled back: the next test reads its own.
            from marketplace.identity import keys

            keys.forget_signer()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield


SERVICE_MARKERS = {"postgres", "redis", "docker", "bwrap", "browser"}


def pytest_collection_modifyitems(config, items):
    db_fixtures = {"app", "fresh_database_url"}
    if os.environ.get("TEST_DB_ONLY") == "1":
        # The PostgreSQL pass re-runs only what touches the database; the rest ran in the SQLite pass.
        keep = [item for item in items if db_fixtures & set(getattr(item, "fixturenames", ()))]
    elif os.environ.get("TEST_DB_FREE") == "1":
        # `make check-latest`: only what needs neither a database nor a service (upstream drift, seen early).
        keep = [item for item in items if not db_fixtures & set(getattr(item, "fixturenames", ()))
                and not SERVICE_MARKERS & {mark.name for mark in item.iter_markers()}]
    else:
        return
    deselected = [item for item in items if item not in keep]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep
