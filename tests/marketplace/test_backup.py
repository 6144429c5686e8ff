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


def test_restore_refuses_what_no_backup_holds_also_without_tarfiles_data_filter(tmp_path, monkeypatch):
    """Debian bookworm's Python 3.11.2 (a supported base of the platform image) has no tarfile data filter:
    the restore then checks each member itself: plain files and folders inside the target only."""
    import io
    import tarfile

    import click
    import pytest

    from marketplace.backup import _extract

    monkeypatch.delattr(tarfile, "data_filter", raising=False)

    def archive(*members: tarfile.TarInfo) -> tarfile.TarFile:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for member in members:
                tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
        raw.seek(0)
        return tarfile.open(fileobj=raw, mode="r:gz")

    def file(name: str) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size = 1
        return info

    good = tmp_path / "good"
    _extract(archive(file("manifest.json"), file("bundles/ab/abcd")), good)
    assert (good / "bundles" / "ab" / "abcd").read_bytes() == b"x"

    link = tarfile.TarInfo("bundles/evil")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    for bad in (file("../escape"), file("/etc/cron.d/x"), link):
        with pytest.raises(click.ClickException, match="which a backup never does"):
            _extract(archive(bad), tmp_path / "bad")
    assert not (tmp_path / "escape").exists()
