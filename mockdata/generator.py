"""Generation of a dataset as a stream of chunks.

A dataset of ``size`` persons is cut into chunks of ``spec.chunk_size`` persons. Chunk ``k`` depends only
on (spec, seed, k) — its own random stream, its own region codes, its own businesses — so chunks can be
built by several processes and still come out byte-identical, and memory holds a few chunks at most.
Chunk 0 starts with the scenario cast.
"""

from __future__ import annotations

import json
import multiprocessing
from collections import deque
from collections.abc import Iterator
from operator import itemgetter

from mockdata.records import ENTITIES, RecordFactory
from mockdata.scenarios import build_cast
from mockdata.specs import DatasetSpec, get_spec

# Columns kept beside the JSON text in SQLite (and used to index it); the JSON line is always last.
KEY_COLUMNS = {
    "persons": ("resident_id", "household_id"),
    "businesses": ("credit_code", "legal_representative"),
    "licences": ("licence_id", "holder_id", "type"),
    "vehicles": ("vin", "owner_resident_id"),
    "social_insurance": ("record_id", "resident_id"),
}


def stdlib_encoder():
    """Compact, non-ASCII-escaping JSON as UTF-8 bytes, from the standard library.

    The C encoder is built once (json.dumps rebuilds it on every call), without circular-reference
    markers: records are plain trees.
    """
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:
        encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        return lambda record: encode(record).encode()
    iterencode = c_make_encoder(None, None, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    return lambda record: "".join(iterencode(record, 0)).encode()


try:
    # Several times faster, and byte-identical for our records (tests compare the two on whole chunks).
    import orjson

    encode_bytes = orjson.dumps
except ImportError:  # mockdata also runs where only the standard library's json is installed
    encode_bytes = stdlib_encoder()


def encode(record: dict) -> str:
    """One record as the compact UTF-8 JSON used in every output (JSONL lines, SQLite ``data``)."""
    return encode_bytes(record).decode()


Rows = dict[str, list[tuple]]


def generate_chunk(spec: DatasetSpec, seed: int, size: int, index: int, *, with_extras: bool = True) -> RecordFactory:
    """The records of chunk ``index`` (a factory holding them in its lists); persons only without extras."""
    factory = RecordFactory(spec, seed, index, with_extras=with_extras)
    count = min(spec.chunk_size, size - index * spec.chunk_size)
    if index == 0:
        build_cast(factory)
    while len(factory.persons) < count:
        factory.household(count - len(factory.persons))
    return factory


def scenarios_for(spec: DatasetSpec, seed: int) -> dict[str, dict]:
    """The named scenarios of every dataset of this spec and seed (any size within the spec's limits)."""
    spec.check_vocabulary()
    return build_cast(RecordFactory(spec, seed, 0))


def chunk_rows(spec_name: str, seed: int, size: int, index: int) -> tuple[int, Rows]:
    """(number of persons, rows per entity) of one chunk, each row the key columns and the JSON text."""
    factory = generate_chunk(get_spec(spec_name), seed, size, index)
    rows: Rows = {}
    for entity in ENTITIES:
        keys = itemgetter(*KEY_COLUMNS[entity])
        rows[entity] = [(*keys(record), encode_bytes(record).decode()) for record in getattr(factory, entity)]
    return len(factory.persons), rows


def chunk_lines(spec_name: str, seed: int, size: int, index: int,
                entities: tuple[str, ...] = ENTITIES) -> tuple[int, dict[str, bytes]]:
    """(number of persons, JSONL bytes per entity) of one chunk: one bytes object crosses the process pipe cheaply."""
    factory = generate_chunk(get_spec(spec_name), seed, size, index, with_extras=entities != ("persons",))
    lines: dict[str, bytes] = {}
    for entity in entities:
        records = getattr(factory, entity)
        lines[entity] = b"".join([encode_bytes(record) + b"\n" for record in records])
    return len(factory.persons), lines


def _run_job(job: tuple) -> tuple:
    build, *args = job
    return build(*args)


def iter_chunk_rows(spec: DatasetSpec, seed: int, size: int, workers: int = 1, *,
                    build=chunk_rows, extra_args: tuple = ()) -> Iterator[tuple]:
    """Chunks in order, as ``build`` makes them (``chunk_rows`` or ``chunk_lines``); with ``workers`` > 1
    they are built by that many processes, at most two ahead each."""
    spec.check_size(size)
    jobs = [(build, spec.name, seed, size, index, *extra_args) for index in range(spec.chunk_count(size))]
    if workers <= 1 or len(jobs) == 1:
        for job in jobs:
            yield _run_job(job)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pending: deque = deque()
        queued = iter(jobs)
        for job in queued:
            pending.append(pool.apply_async(_run_job, (job,)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            result = pending.popleft().get()
            job = next(queued, None)
            if job is not None:
                pending.append(pool.apply_async(_run_job, (job,)))
            yield result


def iter_records(spec: DatasetSpec, seed: int, size: int) -> Iterator[RecordFactory]:
    """Chunks as record objects, in order, in this process (for building in-memory stores)."""
    spec.check_size(size)
    for index in range(spec.chunk_count(size)):
        yield generate_chunk(spec, seed, size, index)
