"""The migrations build exactly the schema the models declare: a model changed without its migration fails
here (on SQLite and on PostgreSQL) instead of in production."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.conftest import make_app, upgrade


def _significant(diff) -> bool:
    # SQLite cannot report server defaults or some type details faithfully; tables, columns, indexes and
    # constraints are what a forgotten migration would leave out.
    kind = diff[0] if isinstance(diff, tuple) else diff[0][0]
    return kind in {"add_table", "remove_table", "add_column", "remove_column", "add_index", "remove_index",
                    "add_constraint", "remove_constraint", "add_fk", "remove_fk"}


def test_models_and_migrations_agree(fresh_database_url, tmp_path):
    app = make_app(fresh_database_url, tmp_path / "instance")
    upgrade(app)
    from core.extensions import db

    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diffs = [d for d in compare_metadata(context, db.metadata) if _significant(d)]
        db.engine.dispose()
    assert diffs == [], "models differ from the migrations; add a migration on the package's branch:\n" + \
        "\n".join(map(str, diffs))
