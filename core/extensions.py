"""Flask extensions, created unbound here and initialised by ``marketplace.app.create_app``."""

from __future__ import annotations

import sqlalchemy as sa
from flask_caching import Cache
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

# Stable constraint names so Alembic migrations are reproducible on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=sa.MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
# What several web processes must agree on without a database read: Redis in production, this process's memory on
# the embedded default (configured by ``init_cache``; the keys' owners document what they keep and who clears it).
cache = Cache()


def init_cache(app) -> None:
    kind = app.config.get("CACHE_TYPE") or ("RedisCache" if app.config.get("ENV") == "production" else "SimpleCache")
    settings = {"CACHE_TYPE": kind, "CACHE_DEFAULT_TIMEOUT": 300, "CACHE_KEY_PREFIX": "govmarket:",
                "CACHE_THRESHOLD": 50_000}
    if kind == "RedisCache":
        # The same RedisCache, with a miss instead of an error while Redis cannot be reached (core/cache.py).
        settings["CACHE_TYPE"] = "core.cache.ResilientRedisCache"
        settings["CACHE_REDIS_URL"] = app.config["REDIS_URL"]
    cache.init_app(app, config=settings)


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    # Foreign keys are off by default in SQLite; WAL lets readers and the writer coexist.
    # Transactions are emitted by SQLAlchemy (see _sqlite_begin) so SAVEPOINT works.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


@sa.event.listens_for(sa.engine.Engine, "begin")
def _sqlite_begin(conn):
    if conn.dialect.name == "sqlite":
        # IMMEDIATE takes the write lock up front: two writers queue instead of failing mid-transaction.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _client_address():
    from flask_limiter.util import get_remote_address

    return get_remote_address()


# Rate limits (failed logins, uploads). Storage comes from RATELIMIT_STORAGE_URI: Redis when several
# web processes run, so every process sees the same counters.
from flask_limiter import Limiter  # noqa: E402

limiter = Limiter(key_func=_client_address, default_limits=[])


def dialect_insert(table: sa.Table, session=None):
    """An INSERT for the session's database, PostgreSQL or SQLite, with their ``on_conflict_do_nothing`` /
    ``on_conflict_do_update`` (ON CONFLICT …): the two databases the platform runs on."""
    dialect = (session or db.session).get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the platform runs on these two
        raise RuntimeError(f"the platform supports PostgreSQL and SQLite, not {dialect}")
    return insert(table)
