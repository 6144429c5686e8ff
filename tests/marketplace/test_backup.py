"""Backups restore every committed row and every stored bundle, on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import make_app, upgrade


def _row_counts(app) -> dict[str, int]:
    from core.extensions import db

    with app.app_context():
        tables = sorted(sa.inspect(db.engine).get_table_names())
        with db.engine.connect() as conn:
            return {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar() for t in tables}


def test_backup_and_restore_round_trip(fresh_database_url, tmp_path):
    app = make_app(fresh_database_url, tmp_path / "inst")
    upgrade(app)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed", "--base-only"]).exit_code == 0
    (tmp_path / "inst" / "bundles" / "ab").mkdir(parents=True)
    (tmp_path / "inst" / "bundles" / "ab" / "abc").write_bytes(b"bundle")
    before = _row_counts(app)
    assert before["orders"] >= 2 and before["users"] >= 6

    archive = tmp_path / "backup.tar.gz"
    result = runner.invoke(args=["backup", "create", str(archive)])
    assert result.exit_code == 0, result.output

    # Lose data: delete the orders' questions, a user, and a bundle.
    with app.app_context():
        from core.extensions import db

        with db.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM audit_events"))
    (tmp_path / "inst" / "bundles" / "ab" / "abc").unlink()
    assert _row_counts(app)["audit_events"] == 0

    result = runner.invoke(args=["backup", "restore", "--yes", str(archive)])
    assert result.exit_code == 0, result.output
    assert _row_counts(app) == before
    assert (tmp_path / "inst" / "bundles" / "ab" / "abc").read_bytes() == b"bundle"
    with app.app_context():
        from core.extensions import db

        db.engine.dispose()
