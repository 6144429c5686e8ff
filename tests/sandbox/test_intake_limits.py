"""Every intake limit just under, at and just over it; the unpack path under a planted link or file (the race
O_EXCL | O_NOFOLLOW closes); an honest bundle larger than the ratio grace; the bundle hash. docs/sandbox.md
lists the limits."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import tarfile
import zlib
from pathlib import Path

import pytest

from core.errors import TooLarge, ValidationError
from core.storage import FileBlobStore
from sandbox import intake
from sandbox.intake import IntakeLimits, inspect_stored, intake_upload, read_bundle
from tests.sandbox.test_intake import MANIFEST, build, good


@pytest.fixture
def store(tmp_path):
    return FileBlobStore(tmp_path / "blobs")


def upload(store, data: bytes, **limits):
    return intake_upload(store, io.BytesIO(data), IntakeLimits(**limits))


def read(data: bytes, dest: Path | None = None, **limits):
    return read_bundle(io.BytesIO(data), "0" * 64, len(data), IntakeLimits(**limits), dest)


def tar_bytes(entries) -> bytes:
    return gzip.decompress(build(entries))


def stored_gzip(raw: bytes) -> bytes:
    """gzip (RFC 1952) of stored deflate blocks (RFC 1951), built by hand: the same bytes with any zlib."""
    blocks = [raw[i:i + 65535] for i in range(0, len(raw), 65535)] or [b""]
    body = b"".join(bytes([i == len(blocks) - 1]) + struct.pack("<HH", len(b), len(b) ^ 0xFFFF) + b
                    for i, b in enumerate(blocks))
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + body + struct.pack("<II", zlib.crc32(raw), len(raw) & 0xFFFFFFFF)


def test_defaults_are_the_documented_limits():
    assert IntakeLimits() == IntakeLimits(
        max_bundle_bytes=50 * 1024 * 1024, max_files=5000, max_uncompressed_bytes=256 * 1024 * 1024,
        max_member_bytes=64 * 1024 * 1024, max_ratio=100, ratio_grace_bytes=4 * 1024 * 1024, max_path_length=240,
        max_depth=24, max_manifest_bytes=64 * 1024)
    assert IntakeLimits.from_config({"MAX_BUNDLE_BYTES": "1234"}) == IntakeLimits(max_bundle_bytes=1234)
    assert IntakeLimits.from_config({}) == IntakeLimits()


# --- the bundle hash ------------------------------------------------------------------------------------

KNOWN_TAR = [("govapp.toml", MANIFEST), ("app.py", b"application = None\n")]


def known_bundle() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, payload in KNOWN_TAR:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode, info.uname, info.gname = len(payload), 0, 0o644, "", ""
            tar.addfile(info, io.BytesIO(payload))
    return stored_gzip(raw.getvalue())


def test_the_bundle_is_stored_under_the_sha256_of_its_bytes(store):
    data = known_bundle()
    assert len(data) == 10_263
    assert hashlib.sha256(data).hexdigest() == KNOWN_BUNDLE_SHA256
    info = upload(store, data)
    assert (info.sha256, info.size, info.files, info.uncompressed_bytes) == (KNOWN_BUNDLE_SHA256, 10_263, 2, 10_240)
    assert store.path(KNOWN_BUNDLE_SHA256).read_bytes() == data


KNOWN_BUNDLE_SHA256 = "9da6fb5fa410857e4d89eb5e3451b7ed0d34c25836a07af420e32b86f2049ffd"


# --- size of the upload ---------------------------------------------------------------------------------

def test_bundle_size_limit_under_at_and_over(store):
    data = build(good())
    assert upload(store, data, max_bundle_bytes=len(data) + 1).size == len(data)
    assert upload(store, data, max_bundle_bytes=len(data)).size == len(data)
    with pytest.raises(TooLarge, match=f"exceeds the limit of {len(data) - 1} bytes"):
        upload(store, data, max_bundle_bytes=len(data) - 1)


def test_read_bundle_checks_the_size_it_is_given():
    data = build(good())
    assert read(data, max_bundle_bytes=len(data)).size == len(data)
    with pytest.raises(TooLarge) as raised:
        read(data, max_bundle_bytes=len(data) - 1)
    assert raised.value.message == f"bundle rejected: it is {len(data)} bytes, over the limit of {len(data) - 1}"
    assert raised.value.context == {"limit": len(data) - 1}  # each refusal by size carries the limit it broke


# --- counts, names, depth, sizes ------------------------------------------------------------------------

def test_file_count_limit_under_at_and_over():
    data = build(good(("a.py", b""), ("b.py", b"")))  # 4 entries
    assert read(data, max_files=5).files == 4
    assert read(data, max_files=4).files == 4
    with pytest.raises(ValidationError) as raised:
        read(data, max_files=3)
    assert raised.value.message == "bundle rejected: it has more than 3 entries (at 'b.py')"


def test_directories_count_as_entries():
    data = build(good(("pkg", lambda i: setattr(i, "type", tarfile.DIRTYPE)), ("pkg/a.py", b"")))
    assert read(data).files == 4


@pytest.mark.parametrize(("length", "ok"), [(239, True), (240, True), (241, False)])
def test_path_length_limit(length, ok):
    name = "p/" + "a" * (length - 5) + ".py"
    assert len(name) == length
    data = build(good((name, b"")))
    if ok:
        assert read(data).files == 3
    else:
        with pytest.raises(ValidationError, match=r"has an empty or too long name \(at most 240 characters\)"):
            read(data)


@pytest.mark.parametrize(("depth", "ok"), [(23, True), (24, True), (25, False)])
def test_depth_limit(depth, ok, tmp_path):
    name = "/".join(["d"] * (depth - 1) + ["f.py"])
    data = build(good((name, b"x")))
    if ok:
        read(data, tmp_path / "out")
        assert (tmp_path / "out" / name).read_bytes() == b"x"
    else:
        with pytest.raises(ValidationError, match="is nested deeper than 24 directories"):
            read(data)


def test_dot_components_do_not_count_towards_depth():
    name = "./" * 30 + "/".join(["d"] * 23 + ["f.py"])
    assert read(build(good((name, b"")))).files == 3


@pytest.mark.parametrize(("size", "ok"), [(999, True), (1000, True), (1001, False)])
def test_member_size_limit(size, ok):
    data = build(good(("blob.bin", b"x" * size)))
    if ok:
        assert read(data, max_member_bytes=1000).files == 3
    else:
        with pytest.raises(TooLarge) as raised:
            read(data, max_member_bytes=1000)
        assert raised.value.message == ("bundle rejected: entry 'blob.bin' declares 1001 bytes, over the per-file limit "
                                        "of 1000")
        assert raised.value.context == {"limit": 1000}


@pytest.mark.parametrize(("size", "ok"), [(64 * 1024 - 1, True), (64 * 1024, True), (64 * 1024 + 1, False)])
def test_manifest_size_limit(size, ok):
    manifest = MANIFEST + b"#" * (size - len(MANIFEST) - 1) + b"\n"
    assert len(manifest) == size
    data = build([("govapp.toml", manifest), ("app.py", b"")])
    if ok:
        assert read(data).manifest.name == "food-licence-express"
    else:
        with pytest.raises(ValidationError) as raised:
            read(data)
        assert raised.value.message == "bundle rejected: govapp.toml is 65537 bytes; at most 65536"


def test_uncompressed_limit_under_at_and_over():
    data = build(good(("blob.bin", os.urandom(20_000))))
    total = read(data).uncompressed_bytes
    assert total == len(tar_bytes(good(("blob.bin", b"x" * 20_000))))
    assert read(data, max_uncompressed_bytes=total).uncompressed_bytes == total
    with pytest.raises(TooLarge) as raised:
        read(data, max_uncompressed_bytes=total - 1)
    assert raised.value.message == (f"bundle rejected: it unpacks to more than {total - 1} bytes; ship only the source "
                                    "and the wheels the app needs")
    assert raised.value.context == {"limit": total - 1}


# --- the compression ratio ------------------------------------------------------------------------------

def padded(raw: bytes, compressed_length: int) -> bytes:
    """A gzip of ``raw`` made exactly ``compressed_length`` bytes long with the zero padding tar tools add."""
    data = gzip.compress(raw, compresslevel=9, mtime=0)
    assert len(data) <= compressed_length
    return data + b"\0" * (compressed_length - len(data))


def test_ratio_limit_under_at_and_over():
    raw = tar_bytes(good(("zeros.bin", b"\0" * 30_000)))  # inflates far more than 1:1
    size = len(raw)
    assert size < intake.CHUNK  # read and inflated in one step, so the check sees the whole of both sides
    for compressed, ok in ((size + 1, True), (size, True), (size - 1, False)):
        data = padded(raw, compressed)
        if ok:
            assert read(data, max_ratio=1, ratio_grace_bytes=0).uncompressed_bytes == size
        else:
            with pytest.raises(TooLarge) as raised:
                read(data, max_ratio=1, ratio_grace_bytes=0)
            assert raised.value.message == (f"bundle rejected: it inflates more than 1:1 ({size} bytes from {size - 1}); "
                                            "that is a decompression bomb, not an app")
            assert raised.value.context == {"limit": 1}


def test_ratio_grace_under_at_and_over():
    raw = tar_bytes(good(("zeros.bin", b"\0" * 30_000)))
    data = gzip.compress(raw, mtime=0)
    size = len(raw)
    assert read(data, max_ratio=1, ratio_grace_bytes=size).uncompressed_bytes == size
    assert read(data, max_ratio=1, ratio_grace_bytes=size + 1).uncompressed_bytes == size
    with pytest.raises(TooLarge, match="decompression bomb"):
        read(data, max_ratio=1, ratio_grace_bytes=size - 1)


def test_an_honest_bundle_over_the_ratio_grace_is_accepted(store, tmp_path):
    # 5 MiB of incompressible wheels: past the 4 MiB grace the ratio is checked, and ~1:1 passes.
    wheel = os.urandom(5 * 1024 * 1024)
    data = gzip.compress(tar_bytes(good(("wheels/big-1.0-py3-none-any.whl", wheel))), compresslevel=1)
    info = upload(store, data)
    assert info.uncompressed_bytes > IntakeLimits().ratio_grace_bytes
    assert info.wheels == ("big-1.0-py3-none-any.whl",)
    inspect_stored(store, info.sha256, IntakeLimits(), tmp_path / "out")
    assert (tmp_path / "out" / "wheels" / "big-1.0-py3-none-any.whl").read_bytes() == wheel


def test_data_after_the_gzip_stream_is_refused_but_zero_padding_is_not():
    data = build(good())
    assert read(data + b"\0" * 700).files == 2
    for junk in (b"\0\0junk", b"X", b"XX\0"):  # only NUL bytes are padding
        with pytest.raises(ValidationError, match="has data after the end of the gzip stream"):
            read(data + junk)


# --- entry types ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "message"), [
    (tarfile.CONTTYPE, "is a sparse or contiguous file; repack the bundle with `govapp package`"),
    (b"Z", "has unsupported type b'Z'; bundles may hold only files and directories"),
])
def test_entry_types_outside_files_and_directories_are_refused(kind, message):
    data = build(good(("odd.bin", lambda i: setattr(i, "type", kind))))
    with pytest.raises(ValidationError) as raised:
        read(data)
    assert raised.value.message == f"bundle rejected: entry 'odd.bin' {message}"


def test_a_sparse_file_is_refused_by_name():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, payload in good():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        sparse = tarfile.TarInfo("holes.bin")
        sparse.type = tarfile.GNUTYPE_SPARSE
        tar.addfile(sparse)
    with pytest.raises(ValidationError, match=r"'holes\.bin' is a sparse or contiguous file"):
        read(gzip.compress(raw.getvalue()))


def test_wheels_must_be_named_as_wheels_and_only_at_the_top_of_wheels():
    with pytest.raises(ValidationError) as raised:
        read(build(good(("wheels/notes.txt", b""))))
    assert raised.value.message == "bundle rejected: entry 'wheels/notes.txt' in wheels/ is not a wheel file name"
    nested = read(build(good(("wheels/extra/readme.txt", b""), ("wheels/a-1.0-py3-none-any.whl", b"PK"))))
    assert nested.wheels == ("a-1.0-py3-none-any.whl",)


def test_wheels_are_listed_sorted():
    info = read(build(good(("wheels/zeta-1.0-py3-none-any.whl", b"PK"), ("wheels/alpha-2.0-py3-none-any.whl", b"PK"))))
    assert info.wheels == ("alpha-2.0-py3-none-any.whl", "zeta-1.0-py3-none-any.whl")


def test_a_package_entrypoint_is_found_as_its_init():
    manifest = MANIFEST.replace(b'"app:application"', b'"svc.web:application"')
    assert read(build([("govapp.toml", manifest), ("svc/web/__init__.py", b"")])).manifest.entrypoint == \
        "svc.web:application"
    with pytest.raises(ValidationError) as raised:
        read(build([("govapp.toml", manifest), ("svc/__init__.py", b"")]))
    assert raised.value.message == ("bundle rejected: the entrypoint 'svc.web:application' names module 'svc.web', "
                                    "which is not in the bundle (looked for svc/web.py and svc/web/__init__.py)")


def test_the_manifest_is_described_as_written():
    info = read(build(good()))
    assert info.manifest == intake.BundleManifest(
        name="food-licence-express", version="1.0.0", order="food-licence", entrypoint="app:application",
        runtime="python3.11", scopes=("person.read", "application.submit"))
    numbered = MANIFEST.replace(b'order = "food-licence"', b"order = 12")
    assert read(build([("govapp.toml", numbered), ("app.py", b"")])).manifest.order == "12"


def test_a_manifest_read_through_a_dot_prefix_is_the_manifest(tmp_path):
    info = read(build([("./govapp.toml", MANIFEST), ("./app.py", b"")]), tmp_path / "out")
    assert info.manifest.name == "food-licence-express"
    assert (tmp_path / "out" / "govapp.toml").read_bytes() == MANIFEST


# --- the unpack path: planted links and files -----------------------------------------------------------

def member(name: str, payload: bytes = b"") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    return info


def test_a_link_planted_where_a_file_is_written_is_not_followed(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"precious")
    extractor = intake._Extractor(tmp_path / "out")
    try:
        os.symlink(outside, tmp_path / "out" / "app.py")  # planted after the root was opened
        with pytest.raises(ValidationError, match=r"'app\.py' appears twice"):
            extractor.add(member("app.py", b"pwned"), ("app.py",), io.BytesIO(b"pwned"))
    finally:
        extractor.close()
    assert outside.read_bytes() == b"precious"


def test_a_file_planted_where_a_file_is_written_is_not_overwritten(tmp_path):
    extractor = intake._Extractor(tmp_path / "out")
    try:
        (tmp_path / "out" / "app.py").write_bytes(b"first")
        with pytest.raises(ValidationError, match=r"'app\.py' appears twice"):
            extractor.add(member("app.py", b"second"), ("app.py",), io.BytesIO(b"second"))
    finally:
        extractor.close()
    assert (tmp_path / "out" / "app.py").read_bytes() == b"first"


def test_a_link_planted_where_a_directory_is_entered_is_not_followed(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    extractor = intake._Extractor(tmp_path / "out")
    try:
        os.symlink(outside, tmp_path / "out" / "pkg")
        with pytest.raises(ValidationError, match="needs 'pkg' to be a directory"):
            extractor.add(member("pkg/mod.py", b"x"), ("pkg", "mod.py"), io.BytesIO(b"x"))
        with pytest.raises(ValidationError, match="needs 'pkg' to be a directory"):
            extractor.add(_dir("pkg/sub"), ("pkg", "sub"), None)
    finally:
        extractor.close()
    assert list(outside.iterdir()) == []


def _dir(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info


def test_a_link_swapped_in_for_the_new_root_is_not_followed(tmp_path, monkeypatch):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    dest = tmp_path / "out"
    real_mkdir = os.mkdir

    def mkdir_then_swap(path, *args, **kwargs):
        real_mkdir(path, *args, **kwargs)
        if Path(path) == dest:  # the attacker wins the race between creating the root and opening it
            os.rmdir(dest)
            os.symlink(outside, dest)

    monkeypatch.setattr(os, "mkdir", mkdir_then_swap)
    with pytest.raises(OSError):
        read(build(good()), dest)
    assert list(outside.iterdir()) == []


def test_an_existing_destination_is_refused_and_left_alone(tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "keep.txt").write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        read(build(good()), dest)
    assert (dest / "keep.txt").read_bytes() == b"keep"


def test_directories_and_files_are_created_with_fixed_modes(tmp_path):
    # Under umask 0 the modes are exactly what intake asks for, not the OS defaults (0o777 / 0o666) a usual umask
    # of 022 would mask to the same 0o755 / 0o644, nor the mode the archive claims.
    data = build(good(("pkg", lambda i: (setattr(i, "type", tarfile.DIRTYPE), setattr(i, "mode", 0o777))),
                      ("pkg/a.py", b"a"), ("lib/b.py", b"b")))
    mask = os.umask(0)
    try:
        read(data, tmp_path / "out")
    finally:
        os.umask(mask)
    for path, mode in (("", 0o755), ("pkg", 0o755), ("lib", 0o755), ("pkg/a.py", 0o644), ("lib/b.py", 0o644)):
        assert oct((tmp_path / "out" / path).stat().st_mode & 0o777) == oct(mode), path


def test_a_rejected_bundle_leaves_no_destination(tmp_path):
    dest = tmp_path / "out"
    with pytest.raises(ValidationError):
        read(build(good(("../x", b""))), dest)
    assert not dest.exists()
    with pytest.raises(ValidationError):
        read(build([("govapp.toml", MANIFEST)]), dest)  # fails after the whole archive was extracted
    assert not dest.exists()


def test_a_link_planted_for_the_stored_bundle_is_not_followed(store, tmp_path):
    info = upload(store, build(good()))
    path = store.path(info.sha256)
    target = tmp_path / "other.tar.gz"
    target.write_bytes(path.read_bytes())
    path.unlink()
    os.symlink(target, path)
    with pytest.raises(OSError):
        inspect_stored(store, info.sha256, IntakeLimits())


@pytest.mark.parametrize("make", [Path.mkdir, os.mkfifo])
def test_a_stored_bundle_that_is_not_a_regular_file_is_refused(store, make):
    sha = "ab" * 32
    store.path(sha).parent.mkdir(parents=True, exist_ok=True)
    make(store.path(sha))  # a FIFO must not block the worker either
    with pytest.raises(ValidationError) as raised:
        inspect_stored(store, sha, IntakeLimits())
    assert raised.value.message == f"bundle rejected: stored bundle {sha} is not a regular file"


def test_an_invalid_upload_is_not_kept(store):
    with pytest.raises(ValidationError):
        upload(store, build([("app.py", b"")]))
    assert not [p for p in store.root.rglob("*") if p.is_file()]


def test_empty_and_dot_components_are_skipped_and_a_root_entry_is_not_the_end(tmp_path):
    data = build([("./", lambda i: setattr(i, "type", tarfile.DIRTYPE)), ("govapp.toml", MANIFEST),
                  ("pkg//mod.py", b"m"), ("app.py", b"")])
    info = read(data, tmp_path / "out")
    assert info.files == 4
    assert (tmp_path / "out" / "pkg" / "mod.py").read_bytes() == b"m"


def test_a_bomb_padded_with_incompressible_data_is_still_stopped():
    # 60 MiB of zeros then 6 MiB of noise in one gzip stream: measured against what has been read so far, the zeros
    # inflate far past 100:1 long before the noise arrives (over the whole file they would pass).
    bomb = tarfile.TarInfo("zeros.bin")
    bomb.size = 60 * 1024 * 1024
    noise = os.urandom(6 * 1024 * 1024)
    head = b""
    for name, payload in good():
        info = tarfile.TarInfo(name)
        info.size = len(payload)
        head += info.tobuf() + payload + b"\0" * (-len(payload) % 512)
    tail = tarfile.TarInfo("noise.bin")
    tail.size = len(noise)
    stream = head + bomb.tobuf() + b"\0" * bomb.size + tail.tobuf() + noise + b"\0" * 1024
    data = gzip.compress(stream, compresslevel=1)
    assert len(stream) / len(data) < 100
    with pytest.raises(TooLarge, match="decompression bomb"):
        read(data)


def test_a_directory_named_like_the_manifest_is_refused():
    with pytest.raises(ValidationError) as raised:
        read(build([("govapp.toml", lambda i: setattr(i, "type", tarfile.DIRTYPE)), ("app.py", b"")]))
    assert raised.value.message == "bundle rejected: govapp.toml is a directory; it must be a file"


def test_a_file_swapped_in_for_the_new_root_is_refused_before_anything_is_read(tmp_path, monkeypatch):
    dest = tmp_path / "out"
    real_mkdir = os.mkdir

    def mkdir_then_swap(path, *args, **kwargs):
        real_mkdir(path, *args, **kwargs)
        if Path(path) == dest:  # the attacker wins the race with a file (a FIFO would block a plain open)
            os.rmdir(dest)
            dest.write_bytes(b"mine")

    monkeypatch.setattr(os, "mkdir", mkdir_then_swap)
    with pytest.raises(NotADirectoryError):
        read(build(good()), dest)
    assert dest.read_bytes() == b"mine"


def test_a_misnamed_wheel_is_named_in_the_refusal_up_to_200_characters():
    name = "wheels/" + "w" * 230
    with pytest.raises(ValidationError) as raised:
        read(build(good((name, b"PK"))))
    assert raised.value.message == f"bundle rejected: entry {name[:200]!r} in wheels/ is not a wheel file name"


def test_a_rejected_upload_whose_blob_is_already_gone_is_still_rejected(store, monkeypatch):
    # Two identical invalid uploads at once: the other one removed the shared blob first. The refusal stands.
    def remove_then_refuse(store, sha256, limits, dest=None):
        store.path(sha256).unlink()
        raise ValidationError("bundle rejected: test")

    monkeypatch.setattr(intake, "inspect_stored", remove_then_refuse)
    with pytest.raises(ValidationError, match=r"^bundle rejected: test$"):
        upload(store, build(good()))
