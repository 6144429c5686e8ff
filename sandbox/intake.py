"""Bundle intake: validate an uploaded bundle before anything of it runs, and extract it safely.

A bundle is a ``.tar.gz`` with ``govapp.toml`` at its root. The archive is read as a stream, once:
every member is checked from its header before a byte of it is used, the decompressed byte count
and the compression ratio are checked while decompressing (a bomb is stopped, not measured), and
extraction creates every directory and file itself, relative to directory file descriptors opened
with ``O_NOFOLLOW`` — no path from the bundle is ever handed to the OS as a path to resolve.
Links, devices, FIFOs, sparse files, absolute names and ``..`` are refused by name.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import tarfile
import tomllib
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import jsonschema

from core.errors import TooLarge, ValidationError
from core.storage import CHUNK, BlobStore
from mockdata.delegation import FIELD_SCOPES, FIELDS

MANIFEST_NAME = "govapp.toml"
SUPPORTED_RUNTIMES = ("python3.11",)
_NAME_PART = re.compile(r"^[A-Za-z0-9._+@=,~-]+$")  # conservative: no spaces, no control chars, no backslash
_WHEEL = re.compile(r"^[A-Za-z0-9_.]+-[A-Za-z0-9_.!+]+(-[0-9][A-Za-z0-9_.]*)?-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+\.whl$")

MANIFEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "version", "order", "entrypoint", "runtime", "scopes"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]{0,62}$"},
        "version": {"type": "string", "pattern": r"^[0-9]+\.[0-9]+\.[0-9]+([.+-][A-Za-z0-9.+-]+)?$", "maxLength": 64},
        "order": {"oneOf": [{"type": "integer", "minimum": 1},
                            {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]{0,99}$"}]},
        "entrypoint": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$",
                       "maxLength": 200},
        "runtime": {"enum": list(SUPPORTED_RUNTIMES)},
        "scopes": {"type": "array", "uniqueItems": True, "maxItems": 32,
                   "items": {"type": "string", "pattern": r"^[a-z]+\.[a-z]+$"}},
        # The citizen's department data the app reads (mockdata.delegation.FIELDS): what the consent screen lists,
        # required ones in "fields", those the app works without in "optional_fields".
        "fields": {"type": "array", "uniqueItems": True, "maxItems": 32, "items": {"enum": list(FIELDS)}},
        "optional_fields": {"type": "array", "uniqueItems": True, "maxItems": 32, "items": {"enum": list(FIELDS)}},
    },
}


@dataclass(frozen=True)
class IntakeLimits:
    max_bundle_bytes: int = 50 * 1024 * 1024
    max_files: int = 5000
    max_uncompressed_bytes: int = 256 * 1024 * 1024
    max_member_bytes: int = 64 * 1024 * 1024
    # Uncompressed/compressed; checked once MIN_RATIO_BYTES have been inflated, so tiny text files pass.
    max_ratio: int = 100
    ratio_grace_bytes: int = 4 * 1024 * 1024
    max_path_length: int = 240
    max_depth: int = 24
    max_manifest_bytes: int = 64 * 1024

    @classmethod
    def from_config(cls, config: Any) -> IntakeLimits:
        return cls(max_bundle_bytes=int(config.get("MAX_BUNDLE_BYTES", cls.max_bundle_bytes)))


@dataclass(frozen=True)
class BundleManifest:
    name: str
    version: str
    order: str
    entrypoint: str
    runtime: str
    scopes: tuple[str, ...]
    fields: tuple[str, ...] = ()
    optional_fields: tuple[str, ...] = ()

    @property
    def all_fields(self) -> tuple[str, ...]:
        return self.fields + tuple(f for f in self.optional_fields if f not in self.fields)

    def field_problems(self, granted_scopes) -> dict[str, str]:
        """Declared fields the app could not read with ``granted_scopes`` (the order's), by field."""
        granted = set(granted_scopes)
        return {f: f"{f} is read through {FIELD_SCOPES[f]}, which is not granted" for f in self.all_fields
                if FIELD_SCOPES[f] not in granted}


@dataclass(frozen=True)
class BundleInfo:
    sha256: str
    size: int
    manifest: BundleManifest
    files: int
    uncompressed_bytes: int
    wheels: tuple[str, ...] = field(default=())


def _reject(message: str) -> ValidationError:
    return ValidationError(f"bundle rejected: {message}")


class _Counter(io.RawIOBase):
    """Decompresses gzip from ``raw`` and counts both sides, so a bomb is stopped while inflating."""

    def __init__(self, raw: BinaryIO, limits: IntakeLimits):
        self.raw = raw
        self.limits = limits
        self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing only
        self.compressed = 0
        self.uncompressed = 0
        self.pending = b""
        self.eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending and not self.eof:
            if self.inflater.unconsumed_tail:
                data = self.inflater.unconsumed_tail
            else:
                data = self.raw.read(CHUNK)
                self.compressed += len(data)
                if not data:
                    self.eof = True
                    self.pending = self.inflater.flush()
                    break
            self.pending = self.inflater.decompress(data, CHUNK)
            if self.inflater.eof and self.inflater.unused_data.strip(b"\0"):
                raise _reject("the archive has data after the end of the gzip stream; build it with `govapp package`")
            self._account(len(self.pending))
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def _account(self, n: int) -> None:
        self.uncompressed += n
        limits = self.limits
        if self.uncompressed > limits.max_uncompressed_bytes:
            raise TooLarge(f"bundle rejected: it unpacks to more than {limits.max_uncompressed_bytes} bytes; "
                           "ship only the source and the wheels the app needs", limit=limits.max_uncompressed_bytes)
        if self.uncompressed > limits.ratio_grace_bytes and self.uncompressed > limits.max_ratio * max(self.compressed, 1):
            raise TooLarge(f"bundle rejected: it inflates more than {limits.max_ratio}:1 "
                           f"({self.uncompressed} bytes from {self.compressed}); that is a decompression bomb, "
                           "not an app", limit=limits.max_ratio)


def _member_parts(member: tarfile.TarInfo, limits: IntakeLimits) -> tuple[str, ...]:
    name = member.name
    shown = repr(name[:200])
    if not name or len(name) > limits.max_path_length:
        raise _reject(f"entry {shown} has an empty or too long name (at most {limits.max_path_length} characters)")
    if name.startswith("/"):
        raise _reject(f"entry {shown} has an absolute path; entries must be relative to the bundle root")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if not parts:
        if member.isdir():
            return ()
        raise _reject(f"entry {shown} has no file name")
    for part in parts:
        if part == "..":
            raise _reject(f"entry {shown} contains '..'; entries must stay inside the bundle")
        if not _NAME_PART.match(part):
            raise _reject(f"entry {shown} has a name with characters outside A-Z a-z 0-9 . _ + @ = , ~ -")
    if len(parts) > limits.max_depth:
        raise _reject(f"entry {shown} is nested deeper than {limits.max_depth} directories")
    if member.issym() or member.islnk():
        raise _reject(f"entry {shown} is a link (to {member.linkname[:200]!r}); bundles may hold only files and directories")
    if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
        raise _reject(f"entry {shown} is a device or FIFO; bundles may hold only files and directories")
    if member.issparse() or member.type == tarfile.CONTTYPE:
        raise _reject(f"entry {shown} is a sparse or contiguous file; repack the bundle with `govapp package`")
    if not (member.isdir() or member.type in (tarfile.REGTYPE, tarfile.AREGTYPE)):
        raise _reject(f"entry {shown} has unsupported type {member.type!r}; bundles may hold only files and directories")
    if member.size < 0 or member.size > limits.max_member_bytes:
        raise TooLarge(f"bundle rejected: entry {shown} declares {member.size} bytes, over the per-file limit of "
                       f"{limits.max_member_bytes}", limit=limits.max_member_bytes)
    return parts


class _Extractor:
    """Creates directories and files under a root it opened itself, one component at a time,
    never following a symlink and never reusing a name (O_EXCL)."""

    def __init__(self, dest: Path):
        os.mkdir(dest, 0o755)
        self.root_fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)

    def close(self) -> None:
        os.close(self.root_fd)

    def _dir(self, parts: tuple[str, ...], shown: str) -> int:
        fd = os.dup(self.root_fd)
        try:
            for part in parts:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
                try:
                    nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                except (NotADirectoryError, OSError) as exc:
                    raise _reject(f"entry {shown} needs {part!r} to be a directory, but a file of that name came "
                                  "earlier in the archive") from exc
                os.close(fd)
                fd = nxt
            return fd
        except BaseException:
            os.close(fd)
            raise

    def add(self, member: tarfile.TarInfo, parts: tuple[str, ...], data: BinaryIO | None) -> None:
        shown = repr(member.name[:200])
        if member.isdir():
            os.close(self._dir(parts, shown))
            return
        parent = self._dir(parts[:-1], shown)
        try:
            try:
                fd = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=parent)
            except FileExistsError as exc:
                raise _reject(f"entry {shown} appears twice in the archive") from exc
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(data, out, CHUNK)  # type: ignore[arg-type]
        finally:
            os.close(parent)


def read_bundle(stream: BinaryIO, sha256: str, size: int, limits: IntakeLimits, dest: Path | None = None) -> BundleInfo:
    """Validate the gzip'd tar in ``stream``; with ``dest`` (which must not exist) also extract it there.
    On any rejection nothing is left at ``dest``."""
    if size > limits.max_bundle_bytes:
        raise TooLarge(f"bundle rejected: it is {size} bytes, over the limit of {limits.max_bundle_bytes}",
                       limit=limits.max_bundle_bytes)
    counter = _Counter(stream, limits)
    extractor = _Extractor(dest) if dest is not None else None
    manifest_bytes: bytes | None = None
    files = 0
    wheels: list[str] = []
    seen: set[tuple[str, ...]] = set()
    try:
        try:
            archive = tarfile.open(fileobj=io.BufferedReader(counter, CHUNK), mode="r|")
            for member in archive:
                files += 1
                if files > limits.max_files:
                    raise _reject(f"it has more than {limits.max_files} entries (at {member.name[:200]!r})")
                parts = _member_parts(member, limits)
                if not parts:
                    continue
                if member.isfile() and parts in seen:
                    raise _reject(f"entry {member.name[:200]!r} appears twice in the archive")
                seen.add(parts)
                data = archive.extractfile(member) if member.isfile() else None
                if parts == (MANIFEST_NAME,):
                    if data is None:
                        raise _reject(f"{MANIFEST_NAME} is a directory; it must be a file")
                    if member.size > limits.max_manifest_bytes:
                        raise _reject(f"{MANIFEST_NAME} is {member.size} bytes; at most {limits.max_manifest_bytes}")
                    manifest_bytes = data.read()
                    data = io.BytesIO(manifest_bytes)
                if len(parts) == 2 and parts[0] == "wheels" and member.isfile():
                    if not _WHEEL.match(parts[1]):
                        raise _reject(f"entry {member.name[:200]!r} in wheels/ is not a wheel file name")
                    wheels.append(parts[1])
                if extractor is not None:
                    extractor.add(member, parts, data)
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise _reject(f"it is not a valid .tar.gz ({exc}); build it with `govapp package`") from exc
        if manifest_bytes is None:
            raise _reject(f"{MANIFEST_NAME} is missing at the root of the archive")
        manifest = parse_manifest(manifest_bytes)
        _check_entrypoint(manifest, seen)
    except BaseException:
        if extractor is not None:
            extractor.close()
            extractor = None
            shutil.rmtree(dest, ignore_errors=True)
        raise
    finally:
        if extractor is not None:
            extractor.close()
    return BundleInfo(sha256=sha256, size=size, manifest=manifest, files=files,
                      uncompressed_bytes=counter.uncompressed, wheels=tuple(sorted(wheels)))


def parse_manifest(raw: bytes) -> BundleManifest:
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise _reject(f"{MANIFEST_NAME} is not valid UTF-8 TOML: {exc}") from exc
    errors = sorted(jsonschema.Draft202012Validator(MANIFEST_SCHEMA).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        fields: dict[str, str] = {}
        missing = [name for name in MANIFEST_SCHEMA["required"] if isinstance(data, dict) and name not in data]
        for name in missing:  # each missing field by its own name: a "required" error names only the first
            fields[name] = f"missing: add {name} = … to {MANIFEST_NAME}"
        for error in errors:
            if error.validator != "required":
                fields[".".join(str(p) for p in error.path) or "manifest"] = error.message[:300]
        summary = "; ".join([f"missing {', '.join(missing)}"] * bool(missing)
                            + [f"{k}: {v}" for k, v in fields.items() if k not in missing])
        raise ValidationError(f"bundle rejected: {MANIFEST_NAME} is invalid — {summary}", errors=fields)
    return BundleManifest(name=data["name"], version=data["version"], order=str(data["order"]),
                          entrypoint=data["entrypoint"], runtime=data["runtime"], scopes=tuple(data["scopes"]),
                          fields=tuple(data.get("fields") or ()), optional_fields=tuple(data.get("optional_fields") or ()))


def _check_entrypoint(manifest: BundleManifest, seen: set[tuple[str, ...]]) -> None:
    module = tuple(manifest.entrypoint.split(":", 1)[0].split("."))
    candidates = ((*module[:-1], module[-1] + ".py"), (*module, "__init__.py"))
    if not any(c in seen for c in candidates):
        raise _reject(f"the entrypoint {manifest.entrypoint!r} names module {'.'.join(module)!r}, which is not in the "
                      f"bundle (looked for {'/'.join(candidates[0])} and {'/'.join(candidates[1])})")


def inspect_stored(store: BlobStore, sha256: str, limits: IntakeLimits, dest: Path | None = None) -> BundleInfo:
    """Validate the stored bundle ``sha256`` (and extract it to ``dest`` when given)."""
    path = store.path(sha256)
    # The store is ours and content-addressed; O_NOFOLLOW still refuses a link planted in its place.
    # O_NONBLOCK: a FIFO in its place is refused below instead of blocking the open.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise _reject(f"stored bundle {sha256} is not a regular file")
    with os.fdopen(fd, "rb") as stream:
        return read_bundle(stream, sha256, st.st_size, limits, dest)


def intake_upload(store: BlobStore, stream: BinaryIO, limits: IntakeLimits) -> BundleInfo:
    """Stream an upload into the store (size-capped, hashed), then validate it; an invalid upload is
    removed again, so only acceptable bundles stay stored. Raises ValidationError / TooLarge."""
    blob = store.put_stream(stream, limits.max_bundle_bytes)
    try:
        return inspect_stored(store, blob.sha256, limits)
    except Exception:
        store.path(blob.sha256).unlink(missing_ok=True)
        raise
