import hashlib
import io
import os

import pytest

from core.errors import TooLarge, ValidationError
from core.storage import FileBlobStore


def test_stream_is_hashed_and_stored_by_hash(tmp_path):
    store = FileBlobStore(tmp_path)
    body = os.urandom(300_000)
    blob = store.put_stream(io.BytesIO(body), max_bytes=1_000_000)
    assert blob.sha256 == hashlib.sha256(body).hexdigest() and blob.size == len(body)
    assert store.path(blob.sha256).read_bytes() == body
    assert store.exists(blob.sha256)


def test_over_the_cap_leaves_nothing_behind(tmp_path):
    store = FileBlobStore(tmp_path)
    with pytest.raises(TooLarge, match="1000 bytes"):
        store.put_stream(io.BytesIO(b"x" * 1001), max_bytes=1000)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_empty_upload_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="empty"):
        FileBlobStore(tmp_path).put_stream(io.BytesIO(b""), max_bytes=10)


def test_paths_come_only_from_hex_digests(tmp_path):
    from core.errors import NotFound

    with pytest.raises(NotFound):
        FileBlobStore(tmp_path).path("../../etc/passwd")
