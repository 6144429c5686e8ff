"""Content-addressed file storage: uploads are streamed, capped, hashed while streaming, stored by sha256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from core.errors import NotFound, TooLarge, ValidationError

CHUNK = 64 * 1024


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int


class BlobStore(Protocol):
    def put_stream(self, stream: BinaryIO, max_bytes: int) -> StoredBlob: ...
    def path(self, sha256: str) -> Path: ...
    def exists(self, sha256: str) -> bool: ...


class FileBlobStore:
    """Blobs live at ``root/ab/abcdef…``. Writes go to a temporary file first and are renamed into place,
    so a half-received upload never appears under its hash."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def put_stream(self, stream: BinaryIO, max_bytes: int) -> StoredBlob:
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = stream.read(CHUNK)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(
                            f"the upload exceeds the limit of {max_bytes} bytes; "
                            "remove unused files or dependencies from the bundle",
                            limit=max_bytes,
                        )
                    digest.update(chunk)
                    out.write(chunk)
            if size == 0:
                raise ValidationError("the upload is empty; send the bundle file as the request body")
            sha = digest.hexdigest()
            final = self.path(sha)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, final)
            os.chmod(final, 0o444)
            return StoredBlob(sha, size)
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise NotFound(f"{sha256!r} is not a sha256 hex digest")
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()
