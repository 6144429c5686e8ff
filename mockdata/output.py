"""Writing a dataset to disk as it is generated: JSONL files per entity, or one SQLite file.

Only the chunks in flight are in memory. Both formats are byte-for-byte reproducible: the JSONL files
are hashed while written (sha256 in manifest.json); the SQLite file is built by the same statements in
the same order with no timestamps.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from mockdata.generator import KEY_COLUMNS, chunk_lines, iter_chunk_rows, scenarios_for
from mockdata.records import ENTITIES
from mockdata.specs import DatasetSpec
from mockdata.vocabulary import wordlists_sha256

FORMATS = ("jsonl", "sqlite")
Progress = Callable[[int], None]


def dataset_info(spec: DatasetSpec, seed: int, size: int) -> dict:
    return {"spec": spec.name, "seed": seed, "size": size, "as_of": spec.as_of.isoformat()}


def sqlite_filename(spec: DatasetSpec, seed: int, size: int) -> str:
    return f"{spec.name}-{seed}-{size}.sqlite"


def write_jsonl(spec: DatasetSpec, seed: int, size: int, out: Path, *, workers: int = 1,
                progress: Progress | None = None, entities: tuple[str, ...] = ENTITIES) -> dict:
    """Write ``<entity>.jsonl`` files, ``scenarios.json`` and ``manifest.json`` into ``out``; return the manifest.

    ``entities`` limits the files written; each file's bytes are the same whichever others are asked for.
    """
    unknown = set(entities) - set(ENTITIES)
    if unknown or not entities:
        raise ValueError(f"unknown entities {sorted(unknown)}; choose from {', '.join(ENTITIES)}")
    entities = tuple(e for e in ENTITIES if e in entities)
    spec.check_size(size)
    out.mkdir(parents=True, exist_ok=True)
    files = {entity: (out / f"{entity}.jsonl").open("wb") for entity in entities}
    hashes = {entity: hashlib.sha256() for entity in entities}
    counts = dict.fromkeys(entities, 0)
    try:
        for persons, lines in iter_chunk_rows(spec, seed, size, workers, build=chunk_lines, extra_args=(entities,)):
            for entity, data in lines.items():
                files[entity].write(data)
                hashes[entity].update(data)
                counts[entity] += data.count(b"\n")
            if progress:
                progress(persons)
    finally:
        for handle in files.values():
            handle.close()
    scenarios = (json.dumps(scenarios_for(spec, seed), ensure_ascii=False, indent=2) + "\n").encode()
    (out / "scenarios.json").write_bytes(scenarios)
    manifest = {
        **dataset_info(spec, seed, size),
        "format": "jsonl",
        "wordlists": spec.wordlists,
        "wordlists_sha256": wordlists_sha256(),
        "counts": counts,
        "sha256": {**{f"{e}.jsonl": hashes[e].hexdigest() for e in entities},
                   "scenarios.json": hashlib.sha256(scenarios).hexdigest()},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def _create_tables(conn: sqlite3.Connection) -> None:
    for entity, keys in KEY_COLUMNS.items():
        columns = ", ".join(f"{k} TEXT NOT NULL" for k in keys)
        conn.execute(f"CREATE TABLE {entity} (seq INTEGER PRIMARY KEY, {columns}, data TEXT NOT NULL)")
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


# Built after the bulk insert: cheaper than maintaining them row by row.
SQLITE_INDEXES = (
    "CREATE UNIQUE INDEX persons_resident_id ON persons (resident_id)",
    "CREATE UNIQUE INDEX businesses_credit_code ON businesses (credit_code)",
    "CREATE INDEX businesses_legal_representative ON businesses (legal_representative)",
    "CREATE UNIQUE INDEX licences_licence_id ON licences (licence_id)",
    "CREATE INDEX licences_holder_id ON licences (holder_id)",
    "CREATE INDEX vehicles_owner ON vehicles (owner_resident_id)",
    "CREATE INDEX social_insurance_resident_id ON social_insurance (resident_id)",
)


def write_sqlite(spec: DatasetSpec, seed: int, size: int, out: Path, *, workers: int = 1,
                 progress: Progress | None = None) -> Path:
    """Write ``<spec>-<seed>-<size>.sqlite`` into ``out`` and return its path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / sqlite_filename(spec, seed, size)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    conn = sqlite3.connect(partial, isolation_level=None)
    try:
        # A half-written file is thrown away, never used, so durability during the build buys nothing.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA page_size = 4096")
        _create_tables(conn)
        # Table and column names come from KEY_COLUMNS, never from input.
        inserts = {entity: f"INSERT INTO {entity} ({', '.join(keys)}, data) VALUES ({', '.join('?' * (len(keys) + 1))})"  # noqa: S608
                   for entity, keys in KEY_COLUMNS.items()}
        for persons, rows in iter_chunk_rows(spec, seed, size, workers):
            conn.execute("BEGIN")
            for entity, entity_rows in rows.items():
                conn.executemany(inserts[entity], entity_rows)
            conn.execute("COMMIT")
            if progress:
                progress(persons)
        conn.execute("BEGIN")
        for statement in SQLITE_INDEXES:
            conn.execute(statement)
        meta = {**{k: str(v) for k, v in dataset_info(spec, seed, size).items()},
                "scenarios": json.dumps(scenarios_for(spec, seed), ensure_ascii=False)}
        conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", sorted(meta.items()))
        conn.execute("COMMIT")
    finally:
        conn.close()
    partial.replace(path)
    return path


def write_dataset(spec: DatasetSpec, seed: int, size: int, out: Path, fmt: str = "jsonl", *, workers: int = 1,
                  progress: Progress | None = None, entities: tuple[str, ...] = ENTITIES) -> Path:
    """Generate the dataset (spec, seed, size) into directory ``out`` in format ``fmt``; return the main output path.

    ``entities`` applies to JSONL; a SQLite file always holds every entity (the department service needs them).
    """
    spec.check_size(size)
    if fmt == "jsonl":
        write_jsonl(spec, seed, size, out, workers=workers, progress=progress, entities=entities)
        return out / "manifest.json"
    if fmt == "sqlite":
        return write_sqlite(spec, seed, size, out, workers=workers, progress=progress)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
