"""Upload fuzzing of the bundle intake through the real endpoint, POST /api/apps/{id}/versions.

Hypothesis corrupts a bundle the intake accepts — truncations, flipped bytes, mangled tar headers, hostile
members (links, devices, ``..``, absolute, NUL, unicode and over-long names, huge declared sizes, nested
archives) — and each answer must be a 4xx problem with a message, never a 5xx, with nothing written: no
AppVersion row and no file left in the bundle store. A corruption the intake rightly accepts (a flipped gzip
mtime byte, say) must give 201; it is then removed again so the next example starts from the same state."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.hostile.conftest import minimal_bundle

VERSION = "1.0.0"
BASE = minimal_bundle(VERSION)  # gzip of a tar: govapp.toml + app.py, for order-a (the world's app_a)
BASE_TAR = gzip.decompress(BASE)
EXAMPLES = settings(max_examples=60, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))

NASTY_NAMES = ["../escape.py", "/etc/passwd", "a/../../b", "nul\x00byte.py", "app.py/", "./../x", "\u202egnp.py",
               "名字.py", "x" * 300, "/".join(["d"] * 40) + "/f", "..", ".", "", "C:\\windows\\x", "a\\..\\..\\b",
               "\udcff.py".encode("utf-8", "surrogateescape").decode("utf-8", "replace"), "app.py\n", " govapp.toml"]
TYPES = [tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE,
         tarfile.DIRTYPE, tarfile.CONTTYPE, b"Z", tarfile.GNUTYPE_SPARSE]


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]], *, fmt=tarfile.PAX_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def _base_members() -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(BASE_TAR)) as archive:
        return [(m, archive.extractfile(m).read()) for m in archive.getmembers()]


@st.composite
def hostile_member(draw):
    name = draw(st.one_of(st.sampled_from(NASTY_NAMES), st.text(min_size=0, max_size=300)))
    info = tarfile.TarInfo(name)
    info.type = draw(st.sampled_from(TYPES))
    info.mode = draw(st.sampled_from([0o644, 0o4755, 0o7777, 0o777]))
    data = draw(st.binary(max_size=64))
    if info.type in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        info.linkname = draw(st.sampled_from(["/etc/passwd", "../../x", "app.py", "govapp.toml", "/proc/self/root"]))
    if info.type in (tarfile.REGTYPE, tarfile.CONTTYPE, b"Z"):
        info.size = len(data)
        return info, data
    return info, None


@st.composite
def corrupted_bundle(draw) -> bytes:
    kind = draw(st.sampled_from(["truncate", "flip", "tar_header", "member", "nested", "huge_size", "raw_tar",
                                 "garbage"]))
    if kind == "truncate":
        return BASE[:draw(st.integers(0, len(BASE) - 1))]
    if kind == "flip":
        data = bytearray(BASE)
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= draw(st.integers(1, 255))
        return bytes(data)
    if kind == "tar_header":  # corrupt the first or second 512-byte header of the inner tar, then re-gzip
        data = bytearray(BASE_TAR)
        block = draw(st.sampled_from([0, 512 * (1 + (len(_base_members()[0][1]) + 511) // 512)]))
        for _ in range(draw(st.integers(1, 8))):
            i = block + draw(st.integers(0, 511))
            if i < len(data):
                data[i] = draw(st.integers(0, 255))
        return gzip.compress(bytes(data), mtime=0)
    if kind == "member":  # the valid bundle plus hostile members
        extra = draw(st.lists(hostile_member(), min_size=1, max_size=3))
        fmt = draw(st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT]))
        try:
            return gzip.compress(_tar(_base_members() + extra, fmt=fmt), mtime=0)
        except (ValueError, UnicodeError):  # tarfile itself cannot write it (e.g. a long name in ustar)
            return gzip.compress(_tar(_base_members() + extra[:0]), mtime=0) + b"\x00"
    if kind == "nested":  # a bundle inside the bundle, or the bundle gzipped twice
        if draw(st.booleans()):
            return gzip.compress(BASE, mtime=0)
        inner = tarfile.TarInfo(draw(st.sampled_from(["inner.tar.gz", "govapp.toml", "wheels/x.whl"])))
        inner.size = len(BASE)
        return gzip.compress(_tar([(inner, BASE)]), mtime=0)
    if kind == "huge_size":  # a header declaring far more bytes than follow
        data = bytearray(BASE_TAR)
        size_field = draw(st.sampled_from([b"77777777777", b"\x80" + b"\x00" * 3 + b"\xff" * 8, b"99999999999"]))
        data[124:124 + len(size_field)] = size_field
        checksum = sum(data[:148]) + 8 * 32 + sum(data[156:512])
        data[148:156] = f"{checksum:06o}\x00 ".encode()
        return gzip.compress(bytes(data), mtime=0)
    if kind == "raw_tar":  # not gzipped at all
        return BASE_TAR
    return draw(st.binary(min_size=0, max_size=2048))


def _store_files(app) -> set[Path]:
    return {p for p in Path(app.config["BUNDLE_STORE"]).rglob("*") if p.is_file()}


def _version_count(app_id: int) -> int:
    from core.extensions import db
    from marketplace.vendors.models import AppVersion

    return db.session.scalar(sa.select(sa.func.count()).select_from(AppVersion).where(AppVersion.app_id == app_id))


def _remove_accepted(app, app_id: int, before: set[Path]) -> None:
    from core.extensions import db
    from marketplace.vendors.models import AppVersion

    db.session.execute(sa.delete(AppVersion).where(AppVersion.app_id == app_id, AppVersion.version == VERSION))
    db.session.commit()
    for path in _store_files(app) - before:
        path.chmod(0o644)
        path.unlink()


@pytest.mark.slow
def test_corrupted_bundles_are_refused_with_a_message_and_leave_nothing_behind(app, world):
    app_id = world.ids["app_a"]
    url = f"/api/apps/{app_id}/versions?version={VERSION}"
    answers: dict[int, int] = {}

    @given(body=corrupted_bundle())
    @EXAMPLES
    @example(body=b"")
    @example(body=BASE[:10])
    # Well-formed bundles that disagree with the upload: checked after the intake stored them.
    @example(body=minimal_bundle("2.0.0"))
    @example(body=minimal_bundle(VERSION, order="order-b"))
    @example(body=minimal_bundle(VERSION, scopes=("business.read",)))
    @example(body=gzip.compress(b"\x00" * 30_000_000, mtime=0))  # a bomb: ~30 kB inflating to 30 MB of zeros
    def upload(body):
        before_files, before_rows = _store_files(app), _version_count(app_id)
        response = world.call("vendor_a", "POST", url, data=body, headers={"Content-Type": "application/gzip"})
        answers[response.status_code] = answers.get(response.status_code, 0) + 1
        if response.status_code == 201:  # the corruption missed everything that matters (e.g. gzip mtime)
            _remove_accepted(app, app_id, before_files)
            return
        assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
        assert response.mimetype == "application/problem+json"
        assert len(response.json["detail"]) > 10, response.json
        assert _version_count(app_id) == before_rows, "a refused upload left an AppVersion row"
        assert _store_files(app) == before_files, "a refused upload left a file in the bundle store"

    upload()
    refused = sum(n for status, n in answers.items() if 400 <= status < 500)
    assert refused >= 40, f"most corruptions must be refused; answers were {answers}"


def test_the_uncorrupted_bundle_is_accepted(app, world):
    """The fuzzer's starting point is valid, so the refusals above are about the corruptions."""
    response = world.call("vendor_a", "POST", f"/api/apps/{world.ids['app_a']}/versions?version={VERSION}",
                          data=BASE, headers={"Content-Type": "application/gzip"})
    assert response.status_code == 201, response.get_data(as_text=True)
