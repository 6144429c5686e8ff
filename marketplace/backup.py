"""`govmarket backup create|restore`: the database and the bundle store in one archive.

PostgreSQL is dumped with pg_dump (custom format, consistent snapshot while the platform runs);
SQLite with its online backup API. Bundles are content-addressed files, copied as they are.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from core.extensions import db
from core.time import utcnow

FORMAT_VERSION = 1


def _libpq_url(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def backup_create(target: Path) -> dict:
    """Write a backup archive to ``target``; returns its manifest."""
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if url.get_backend_name() == "postgresql":
            database_file = work / "database.pgdump"
            subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--file", str(database_file),  # noqa: S603, S607
                            _libpq_url(url)], check=True, capture_output=True, text=True)
        elif url.get_backend_name() == "sqlite":
            database_file = work / "database.sqlite"
            with sqlite3.connect(url.database) as source, sqlite3.connect(database_file) as dest:
                source.backup(dest)
        else:
            raise click.ClickException(f"backups support PostgreSQL and SQLite, not {url.get_backend_name()}")
        manifest = {"format": FORMAT_VERSION, "created_at": utcnow().isoformat(), "database": url.get_backend_name(),
                    "database_file": database_file.name}
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2))
        with tarfile.open(target, "w:gz") as archive:
            archive.add(work / "manifest.json", "manifest.json")
            archive.add(database_file, database_file.name)
            store = Path(current_app.config["BUNDLE_STORE"])
            if store.is_dir():
                archive.add(store, "bundles")
    return manifest


def _extract(archive: tarfile.TarFile, target: Path) -> None:
    """Unpack with tarfile's "data" filter (no absolute paths, no escaping links, no devices). Debian bookworm's
    Python 3.11.2, which the platform image may be built on, predates the filter (3.11.4): there, the same
    refusals by hand — only plain files and folders inside ``target``."""
    if hasattr(tarfile, "data_filter"):
        archive.extractall(target, filter="data")
        return
    for member in archive.getmembers():
        path = (target / member.name).resolve()
        if not (member.isfile() or member.isdir()) or not path.is_relative_to(target.resolve()):
            raise click.ClickException(f"the archive holds {member.name!r}, which a backup never does; refusing it")
    archive.extractall(target)  # noqa: S202 (every member checked above)


def backup_restore(source: Path) -> dict:
    """Restore a backup archive over the configured database and bundle store."""
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(source, "r:gz") as archive:
        _extract(archive, Path(tmp))
        work = Path(tmp)
        manifest = json.loads((work / "manifest.json").read_text())
        if manifest["database"] != url.get_backend_name():
            raise click.ClickException(f"this backup holds a {manifest['database']} database but DATABASE_URL "
                                       f"points at {url.get_backend_name()}")
        database_file = work / manifest["database_file"]

        db.session.remove()
        db.engine.dispose()
        if manifest["database"] == "postgresql":
            subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",  # noqa: S603, S607
                            "--dbname", _libpq_url(url), str(database_file)], check=True, capture_output=True,
                           text=True)
        else:
            with sqlite3.connect(database_file) as src, sqlite3.connect(url.database) as dest:
                src.backup(dest)
        if (work / "bundles").is_dir():
            store = Path(current_app.config["BUNDLE_STORE"])
            store.mkdir(parents=True, exist_ok=True)
            shutil.copytree(work / "bundles", store, dirs_exist_ok=True)
    return manifest


@click.group("backup", help="Back up and restore the database and the bundle store.")
def backup_cli():
    pass


@backup_cli.command("create")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def create_command(target: Path):
    manifest = backup_create(target)
    click.echo(f"backup of the {manifest['database']} database and bundles written to {target}")


@backup_cli.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation")
@with_appcontext
def restore_command(source: Path, yes: bool):
    if not yes:
        click.confirm("Restoring replaces the current database. Continue?", abort=True)
    manifest = backup_restore(source)
    click.echo(f"restored the {manifest['database']} database from {manifest['created_at']}")


def init_app(app: Flask) -> None:
    app.cli.add_command(backup_cli)
