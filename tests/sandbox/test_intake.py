"""Hostile tarballs, built by hand, must be refused by name before anything runs."""

from __future__ import annotations

import gzip
import io
import os
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import TooLarge, ValidationError
from core.storage import FileBlobStore
from sandbox.intake import IntakeLimits, inspect_stored, intake_upload, parse_manifest

MANIFEST = b"""name = "food-licence-express"
version = "1.0.0"
order = "food-licence"
entrypoint = "app:application"
runtime = "python3.11"
scopes = ["person.read", "application.submit"]
"""


def build(entries, gz=True) -> bytes:
    """entries: (name, bytes) for files, or (name, TarInfo-adjuster) for anything else."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, payload in entries:
            info = tarfile.TarInfo(name)
            if callable(payload):
                payload(info)
                tar.addfile(info)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    data = raw.getvalue()
    return gzip.compress(data) if gz else data


def good(*extra):
    return [("govapp.toml", MANIFEST), ("app.py", b"application = None\n"), *extra]


@pytest.fixture
def store(tmp_path):
    return FileBlobStore(tmp_path / "blobs")


def upload(store, data, limits=None):
    return intake_upload(store, io.BytesIO(data), limits or IntakeLimits())


def test_valid_bundle_is_accepted_and_described(store):
    info = upload(store, build(good(("wheels/govapp_sdk-0.1.0-py3-none-any.whl", b"PK"), ("pkg/__init__.py", b""))))
    assert info.manifest.name == "food-licence-express"
    assert info.manifest.scopes == ("person.read", "application.submit")
    assert info.wheels == ("govapp_sdk-0.1.0-py3-none-any.whl",)
    assert info.files == 4
    assert store.exists(info.sha256)


def test_extraction_writes_plain_files_without_bundle_modes(store, tmp_path):
    data = build(good(("./bin/tool.py", b"print(1)\n")))
    info = upload(store, data)
    dest = tmp_path / "app"
    inspect_stored(store, info.sha256, IntakeLimits(), dest)
    assert (dest / "bin" / "tool.py").read_bytes() == b"print(1)\n"
    assert oct((dest / "bin" / "tool.py").stat().st_mode & 0o7777) == "0o644"


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        (("/etc/passwd", b"x"), "absolute path"),
        (("../outside.py", b"x"), "'..'"),
        (("pkg/../../outside.py", b"x"), "'..'"),
        (("evil", lambda i: (setattr(i, "type", tarfile.SYMTYPE), setattr(i, "linkname", "/etc/shadow"))), "is a link"),
        (("hard", lambda i: (setattr(i, "type", tarfile.LNKTYPE), setattr(i, "linkname", "govapp.toml"))), "is a link"),
        (("dev/sda", lambda i: setattr(i, "type", tarfile.BLKTYPE)), "device or FIFO"),
        (("null", lambda i: setattr(i, "type", tarfile.CHRTYPE)), "device or FIFO"),
        (("pipe", lambda i: setattr(i, "type", tarfile.FIFOTYPE)), "device or FIFO"),
        (("weird name.py", b"x"), "characters outside"),
        (("back\\slash.py", b"x"), "characters outside"),
    ],
)
def test_hostile_entries_are_refused_by_name(store, entry, fragment):
    with pytest.raises(ValidationError) as err:
        upload(store, build(good(entry)))
    assert fragment in err.value.message
    assert repr(entry[0][:200]) in err.value.message or entry[0].lstrip("/") in err.value.message
    assert not any(p.is_file() for p in store.root.rglob("*")), "a rejected upload must not stay stored"


def test_symlink_then_file_through_it_cannot_escape(store, tmp_path):
    # Classic: link "d" -> "/tmp", then "d/x". The link itself is refused before "d/x" is reached.
    data = build(good(("d", lambda i: (setattr(i, "type", tarfile.SYMTYPE), setattr(i, "linkname", str(tmp_path)))),
                      ("d/x", b"pwned")))
    with pytest.raises(ValidationError, match="'d' is a link"):
        upload(store, data)
    assert not (tmp_path / "x").exists()


def test_file_then_directory_of_same_name_is_refused_and_nothing_left(store, tmp_path):
    data = build(good(("a", b"file"), ("a/b", b"x")))
    store.put_stream(io.BytesIO(data), 10**6)
    sha = next(p.name for p in store.root.rglob("*") if p.is_file())
    dest = tmp_path / "out"
    with pytest.raises(ValidationError, match="needs 'a' to be a directory"):
        inspect_stored(store, sha, IntakeLimits(), dest)
    assert not dest.exists()


def test_duplicate_entry_is_refused(store):
    with pytest.raises(ValidationError, match="appears twice"):
        upload(store, build(good(("app.py", b"again"))))


def test_too_many_files(store):
    entries = good(*[(f"f{i}.py", b"") for i in range(30)])
    with pytest.raises(ValidationError, match="more than 20 entries"):
        upload(store, build(entries), IntakeLimits(max_files=20))


def test_compressed_size_cap(store):
    with pytest.raises(TooLarge, match="exceeds the limit of 100 bytes"):
        upload(store, build(good()), IntakeLimits(max_bundle_bytes=100))


def test_decompression_bomb_is_stopped_while_inflating(store):
    # 60 MB of zeros compresses to ~60 kB; the ratio check must trip long before it is all inflated.
    head = b""
    for name, payload in good():
        info = tarfile.TarInfo(name)
        info.size = len(payload)
        head += info.tobuf() + payload + b"\0" * (-len(payload) % 512)
    bomb = tarfile.TarInfo("zeros.bin")
    bomb.size = 60 * 1024 * 1024
    comp = gzip.compress(head + bomb.tobuf() + b"\0" * bomb.size + b"\0" * 1024, compresslevel=9)
    with pytest.raises(TooLarge, match="decompression bomb"):
        upload(store, comp, IntakeLimits(max_member_bytes=100 * 1024 * 1024))


def test_total_uncompressed_cap(store):
    entries = good(*[(f"data{i}.bin", os.urandom(300_000)) for i in range(4)])
    with pytest.raises(TooLarge, match="unpacks to more than"):
        upload(store, build(entries), IntakeLimits(max_uncompressed_bytes=1_000_000))


def test_declared_member_size_over_cap(store):
    with pytest.raises(TooLarge, match="declares"):
        upload(store, build(good(("big.bin", b"x" * 2000))), IntakeLimits(max_member_bytes=1000))


@pytest.mark.parametrize(
    ("manifest", "field"),
    [
        (MANIFEST.replace(b'runtime = "python3.11"', b'runtime = "node18"'), "runtime"),
        (MANIFEST.replace(b'name = "food-licence-express"\n', b""), "name"),
        (MANIFEST.replace(b'"app:application"', b'"app; rm -rf /"'), "entrypoint"),
        (MANIFEST.replace(b'"person.read"', b'"person read"'), "scopes.0"),
        (b"name = [unclosed", None),
    ],
)
def test_manifest_schema(store, manifest, field):
    with pytest.raises(ValidationError) as err:
        upload(store, build([("govapp.toml", manifest), ("app.py", b"")]))
    if field:
        assert field in err.value.errors
    else:
        assert "not valid UTF-8 TOML" in err.value.message


def test_a_manifest_missing_several_fields_names_them_all(store):
    manifest = b'name = "food-licence-express"\nversion = "1.0.0"\n'
    with pytest.raises(ValidationError) as err:
        upload(store, build([("govapp.toml", manifest), ("app.py", b"")]))
    assert {"order", "entrypoint", "runtime", "scopes"} <= set(err.value.errors)
    assert "missing order, entrypoint, runtime, scopes" in err.value.message


@pytest.mark.parametrize(("manifest", "summary"), [
    (MANIFEST.replace(b'"food-licence-express"', b'"Bad Name"'),
     "name: 'Bad Name' does not match '^[a-z0-9][a-z0-9-]{0,62}$'"),
    (b'name = "x"\nversion = "1.0.0"\n', "missing order, entrypoint, runtime, scopes"),
    (b'name = "Bad Name"\nversion = "1.0.0"\norder = 1\nentrypoint = "app:application"\nruntime = "python2"\n',
     "missing scopes; name: 'Bad Name' does not match '^[a-z0-9][a-z0-9-]{0,62}$'; "
     "runtime: 'python2' is not one of ['python3.11']"),
])
def test_an_invalid_manifest_is_summed_up_in_one_message(manifest, summary):
    # The message is the problem's detail the vendor reads: what is missing first, then each wrong field once.
    with pytest.raises(ValidationError) as err:
        parse_manifest(manifest)
    assert err.value.message == f"bundle rejected: govapp.toml is invalid — {summary}"


def test_missing_manifest_and_missing_entrypoint_module(store):
    with pytest.raises(ValidationError, match=r"govapp\.toml is missing"):
        upload(store, build([("app.py", b"")]))
    with pytest.raises(ValidationError, match="names module 'app', which is not in the bundle"):
        upload(store, build([("govapp.toml", MANIFEST)]))


def test_not_a_gzip_or_tar(store):
    with pytest.raises(ValidationError, match=r"not a valid \.tar\.gz"):
        upload(store, b"this is not an archive at all")
    with pytest.raises(ValidationError, match=r"not a valid \.tar\.gz"):
        upload(store, gzip.compress(b"\x01" * 5000))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(min_size=1, max_size=4096), st.integers(min_value=0, max_value=4000))
def test_corrupted_bundles_never_crash_or_escape(tmp_path_factory, noise, offset):
    # Flip bytes inside a valid bundle: the result is either a clean rejection or a valid bundle, never
    # an unexpected exception and never a file outside the destination.
    base = tmp_path_factory.mktemp("fuzz")
    store = FileBlobStore(base / "blobs")
    data = bytearray(gzip.decompress(build(good(("pkg/mod.py", b"x = 1\n")))))
    end = min(len(data), offset + len(noise))
    data[offset:end] = noise[: end - offset]
    dest = base / "out"
    try:
        info = intake_upload(store, io.BytesIO(gzip.compress(bytes(data))), IntakeLimits())
        inspect_stored(store, info.sha256, IntakeLimits(), dest)
    except (ValidationError, TooLarge):
        assert not dest.exists()
    leftovers = {p.name for p in base.iterdir()}
    assert leftovers <= {"blobs", "out"}


def test_declared_fields_outside_the_granted_scopes_are_named():
    manifest = parse_manifest(MANIFEST + b'fields = ["name", "licences"]\noptional_fields = ["businesses", "name"]\n')
    assert manifest.all_fields == ("name", "licences", "businesses")
    assert manifest.field_problems(["person.read", "licence.read", "business.read"]) == {}
    assert manifest.field_problems(iter(["person.read"])) == {
        "licences": "licences is read through licence.read, which is not granted",
        "businesses": "businesses is read through business.read, which is not granted"}
