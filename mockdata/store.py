"""Read access to a dataset for the department service: in memory, or from a generated SQLite file.

Both implement ``mockdata.rules.DatasetStore``. The memory store generates a modest dataset (thousands of
persons) in-process and indexes it; the SQLite store serves a file written by ``python -m mockdata
generate --format sqlite`` of any size without loading it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import defaultdict
from pathlib import Path

from mockdata.generator import iter_records, scenarios_for
from mockdata.output import dataset_info
from mockdata.specs import get_spec


class MemoryStore:
    def __init__(self, spec_name: str, seed: int, size: int) -> None:
        spec = get_spec(spec_name)
        self.info = dataset_info(spec, seed, size)
        self.scenarios = scenarios_for(spec, seed)
        self._persons: dict[str, dict] = {}
        self._businesses: dict[str, dict] = {}
        self._licences: dict[str, list[dict]] = defaultdict(list)
        self._insurance: dict[str, list[dict]] = defaultdict(list)
        self._represented: dict[str, list[dict]] = defaultdict(list)
        for chunk in iter_records(spec, seed, size):
            self._persons.update((p["resident_id"], p) for p in chunk.persons)
            self._businesses.update((b["credit_code"], b) for b in chunk.businesses)
            for business in chunk.businesses:
                for rid in {business.get("legal_representative"), *(business.get("authorised_agents") or [])} - {None}:
                    self._represented[rid].append(business)
            for licence in chunk.licences:
                self._licences[licence["holder_id"]].append(licence)
            for record in chunk.social_insurance:
                self._insurance[record["resident_id"]].append(record)

    def person(self, resident_id: str) -> dict | None:
        return self._persons.get(resident_id)

    def business(self, credit_code: str) -> dict | None:
        return self._businesses.get(credit_code)

    def licences_of(self, holder_id: str) -> list[dict]:
        return list(self._licences.get(holder_id, ()))

    def businesses_of(self, resident_id: str) -> list[dict]:
        """The businesses the person represents (legal representative or authorised agent)."""
        return list(self._represented.get(resident_id, ()))

    def insurance_of(self, resident_id: str) -> list[dict]:
        return list(self._insurance.get(resident_id, ()))


class SqliteStore:
    """A generated SQLite dataset, opened read-only; one connection per thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no dataset file at {self.path}; generate one with "
                                    "`python -m mockdata generate --format sqlite --out DIR`")
        self._local = threading.local()
        meta = dict(self._conn().execute("SELECT key, value FROM meta"))
        self.scenarios = json.loads(meta.pop("scenarios"))
        self.info = {"spec": meta["spec"], "seed": int(meta["seed"]), "size": int(meta["size"]), "as_of": meta["as_of"]}

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            self._local.conn = conn
        return conn

    def _one(self, sql: str, key: str) -> dict | None:
        row = self._conn().execute(sql, (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def _all(self, sql: str, key: str) -> list[dict]:
        return [json.loads(row[0]) for row in self._conn().execute(sql, (key,))]

    def person(self, resident_id: str) -> dict | None:
        return self._one("SELECT data FROM persons WHERE resident_id = ?", resident_id)

    def business(self, credit_code: str) -> dict | None:
        return self._one("SELECT data FROM businesses WHERE credit_code = ?", credit_code)

    def licences_of(self, holder_id: str) -> list[dict]:
        return self._all("SELECT data FROM licences WHERE holder_id = ? ORDER BY seq", holder_id)

    def businesses_of(self, resident_id: str) -> list[dict]:
        """The businesses the person represents (a scan: the file has no index on representatives)."""
        return self._all("SELECT data FROM businesses WHERE json_extract(data, '$.legal_representative') = ? "
                         "ORDER BY credit_code", resident_id)

    def insurance_of(self, resident_id: str) -> list[dict]:
        return self._all("SELECT data FROM social_insurance WHERE resident_id = ? ORDER BY seq", resident_id)
