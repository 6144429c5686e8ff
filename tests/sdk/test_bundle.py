"""What `govapp package` puts in a bundle and what it refuses (the network-bound wheel download is in test_cli)."""

from __future__ import annotations

import hashlib
import os
import socket
import tarfile

import pytest
from govapp.bundle import FIXED_MTIME, BundleError, collect_sources, load_manifest, write_archive

MANIFEST = """name = "demo"
version = "1.2.0"
order = "food-licence"
entrypoint = "demo:app"
runtime = "python3.11"
scopes = ["person.read"]
"""


@pytest.fixture
def app_dir(tmp_path):
    folder = tmp_path / "demo"
    (folder / "static").mkdir(parents=True)
    (folder / "govapp.toml").write_text(MANIFEST)
    (folder / "demo.py").write_text("app = None\n")
    (folder / "static" / "index.html").write_text("<p>hi</p>")
    return folder


def test_sources_skip_caches_environments_and_build_output(app_dir):
    for junk in ("__pycache__/demo.cpython-311.pyc", ".venv/bin/python", "dist/demo-1.0.tar.gz", ".git/HEAD",
                 "wheels/x.whl", "demo.egg-info/PKG-INFO"):
        (app_dir / junk).parent.mkdir(parents=True, exist_ok=True)
        (app_dir / junk).write_text("x")
    (app_dir / ".env").write_text("SECRET=1")
    assert [p.as_posix() for p in collect_sources(app_dir)] == ["demo.py", "govapp.toml", "static/index.html"]


def test_symlinks_are_refused_even_inside_the_folder(app_dir, tmp_path):
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", app_dir / "static" / "leak.txt")
    with pytest.raises(BundleError, match=r"static/leak.txt is a symbolic link"):
        collect_sources(app_dir)


def test_linked_folders_are_refused(app_dir, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", app_dir / "vendor")
    with pytest.raises(BundleError, match="vendor is a symbolic link"):
        collect_sources(app_dir)


def test_sockets_and_other_special_files_are_refused(app_dir):
    path = app_dir / "app.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    try:
        with pytest.raises(BundleError, match=r"app\.sock is not a regular file"):
            collect_sources(app_dir)
    finally:
        server.close()


@pytest.mark.parametrize(("line", "message"), [
    ('entrypoint = "demo"', "must look like 'module:app'"),
    ('runtime = "node18"', "must look like 'python3.11'"),
    ('name = "../evil"', "may hold only letters"),
    ('scopes = "person.read"', "scopes must be a list"),
])
def test_manifest_errors_name_the_field(app_dir, line, message):
    key = line.split(" = ")[0]
    text = "\n".join(line if row.startswith(key + " ") else row for row in MANIFEST.splitlines())
    (app_dir / "govapp.toml").write_text(text)
    with pytest.raises(BundleError, match=message):
        load_manifest(app_dir)


def test_a_missing_manifest_says_how_to_make_one(tmp_path):
    with pytest.raises(BundleError, match="run `govapp init`"):
        load_manifest(tmp_path)


def test_archives_are_reproducible_and_normalised(app_dir, tmp_path):
    entries = [(p.as_posix(), app_dir / p) for p in collect_sources(app_dir)]
    first = write_archive(tmp_path / "a.tar.gz", list(reversed(entries)))
    os.utime(app_dir / "demo.py", (1, 1))  # a touched file changes nothing
    (app_dir / "demo.py").chmod(0o600)
    second = write_archive(tmp_path / "b.tar.gz", entries)
    assert first == second == hashlib.sha256((tmp_path / "b.tar.gz").read_bytes()).hexdigest()
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["demo.py", "govapp.toml", "static", "static/index.html"]
    assert all(m.mtime == FIXED_MTIME and m.uid == 0 and m.gid == 0 and m.uname == "" for m in members)
    assert {m.name: oct(m.mode) for m in members}["static"] == "0o755"
    assert {m.name: oct(m.mode) for m in members}["demo.py"] == "0o644"


def test_packagings_at_the_same_time_do_not_share_the_sdk_build(tmp_path):
    """The demo packages several apps at once; each builds the SDK's wheel from its own copy of the source."""
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    govapp = str(Path(sys.executable).parent / "govapp")
    example = Path(__file__).resolve().parents[2] / "examples" / "food-yishi"

    def package(name):
        out = tmp_path / f"{name}.tar.gz"
        result = subprocess.run([govapp, "package", "--out", str(out), str(example)], capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        return hashlib.sha256(out.read_bytes()).hexdigest()

    with ThreadPoolExecutor(3) as pool:
        digests = list(pool.map(package, ["a", "b", "c"]))
    assert len(set(digests)) == 1
