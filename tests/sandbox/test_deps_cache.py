"""The deps a serving host installed for a bundle, kept so the next start of its instance copies them instead of
running pip (sandbox/deps_cache.py); the serving side is in test_serving.py."""

from __future__ import annotations

import os
import stat

import pytest

from sandbox.deps_cache import DepsCache

SHA = "a" * 64
IMAGE = "b" * 64


def installed(folder, files: dict[str, bytes]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def test_kept_deps_come_back_byte_for_byte_with_their_times(tmp_path):
    cache = DepsCache(tmp_path / "kept")
    source = installed(tmp_path / "deps", {"lib/mod.py": b"x = 1\n", "lib/__pycache__/mod.cpython-311.pyc": b"pyc"})
    os.utime(source / "lib" / "mod.py", (1_700_000_000, 1_700_000_000))  # the .pyc records its source's mtime
    key = cache.key(SHA, IMAGE)
    assert cache.restore(key, tmp_path / "empty") is False
    assert cache.store(key, source) and cache.keys() == [key]
    assert stat.S_IMODE((tmp_path / "kept").stat().st_mode) == 0o700, "the host's own folder"
    target = tmp_path / "run-deps"
    target.mkdir()
    assert cache.restore(key, target)
    assert (target / "lib" / "mod.py").read_bytes() == b"x = 1\n"
    assert (target / "lib" / "__pycache__" / "mod.cpython-311.pyc").read_bytes() == b"pyc"
    assert int((target / "lib" / "mod.py").stat().st_mtime) == 1_700_000_000


def test_an_install_holding_a_link_is_not_kept(tmp_path):
    cache = DepsCache(tmp_path / "kept")
    source = installed(tmp_path / "deps", {"mod.py": b""})
    (source / "escape").symlink_to("/etc")
    assert cache.store(cache.key(SHA, IMAGE), source) is False
    assert cache.keys() == []


def test_the_least_recently_used_bundles_go_beyond_the_limit(tmp_path):
    cache = DepsCache(tmp_path / "kept", entries=2)
    keys = [cache.key(c * 64, IMAGE) for c in "123"]
    for i, key in enumerate(keys):
        cache.store(key, installed(tmp_path / f"deps{i}", {"m.py": b""}))
        os.utime(tmp_path / "kept" / key, (1_700_000_000 + i, 1_700_000_000 + i))
    assert cache.keys() == sorted(keys[1:])
    os.utime(tmp_path / "kept" / keys[1], (1_700_000_100, 1_700_000_100))  # used again
    cache.store(cache.key("4" * 64, IMAGE), installed(tmp_path / "deps4", {"m.py": b""}))
    assert cache.keys() == sorted([keys[1], cache.key("4" * 64, IMAGE)])


def test_keys_are_made_of_hashes_only(tmp_path):
    with pytest.raises(ValueError):
        DepsCache.key("../" + SHA, IMAGE)
