"""Benchmark: dataset generation speed, in persons (and rows) per second.

    .venv/bin/python bench/mockdata_generate.py [--size 1000000] [--workers 2] [--format jsonl|sqlite]

Generates the dataset (spec, seed, size) into a temporary directory exactly as
``python -m mockdata generate`` does, then times a bare loop writing the same number of fixed JSON rows to
files, and prints both and their ratio — how much generating realistic, checked, deterministic records
costs over merely writing that many rows. The machine's load is printed too: on a shared machine,
compare runs only at similar load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mockdata.output import write_dataset
from mockdata.records import ENTITIES
from mockdata.specs import get_spec

FIXED_ROW = (json.dumps({"resident_id": "11010519491231002X", "name": "王伟", "gender": "male",
                         "birth_date": "1949-12-31", "ethnicity": "汉族", "phone": "13812345678",
                         "address": "北京市朝阳区建国路12号3栋2单元502室", "region_code": "110105",
                         "household_id": "H0000000001", "household_role": "head", "guardian_resident_id": None,
                         "tags": []}, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker processes): less load-sensitive than wall time."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def bare_loop(rows: int, out: Path) -> float:
    """Seconds to write ``rows`` fixed lines, batched like the generator, to one file per entity."""
    out.mkdir(parents=True, exist_ok=True)
    per_file = rows // len(ENTITIES)
    batch = FIXED_ROW * 10_000
    started = time.perf_counter()
    for entity in ENTITIES:
        with (out / f"{entity}.jsonl").open("wb") as handle:
            left = per_file
            while left > 0:
                n = min(left, 10_000)
                handle.write(batch if n == 10_000 else FIXED_ROW * n)
                left -= n
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="citizens-v1")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--format", choices=("jsonl", "sqlite"), default="jsonl")
    parser.add_argument("--entities", default=",".join(ENTITIES),
                        help="Comma-separated entities (JSONL only), e.g. 'persons' to time persons alone.")
    parser.add_argument("--keep", type=Path, help="Keep the generated dataset in this directory.")
    args = parser.parse_args()

    spec = get_spec(args.spec)
    scratch = Path(tempfile.mkdtemp(prefix="mockdata-bench-"))
    out = args.keep or scratch / "dataset"
    try:
        load_before = os.getloadavg()[0]
        started, cpu_started = time.perf_counter(), cpu_seconds()
        entities = tuple(e.strip() for e in args.entities.split(",") if e.strip())
        write_dataset(spec, args.seed, args.size, out, args.format, workers=args.workers, entities=entities)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds() - cpu_started
        if args.format == "jsonl":
            rows = sum(json.loads((out / "manifest.json").read_text())["counts"].values())
        else:
            import sqlite3

            with sqlite3.connect(next(out.glob("*.sqlite"))) as conn:
                rows = sum(conn.execute(f"SELECT count(*) FROM {e}").fetchone()[0] for e in ENTITIES)
        bare = bare_loop(rows, scratch / "bare")
        result = {
            "spec": spec.name, "seed": args.seed, "size": args.size, "format": args.format, "workers": args.workers,
            "entities": list(entities),
            "seconds": round(elapsed, 2),
            "cpu_seconds": round(cpu, 2),
            "persons_per_second": round(args.size / elapsed),
            "rows": rows,
            "rows_per_second": round(rows / elapsed),
            "bare_loop_seconds": round(bare, 2),
            "bare_loop_rows_per_second": round(rows / bare),
            "ratio_to_bare_loop": round(elapsed / bare, 1),
            "load_average_before": round(load_before, 2),
            "cores": len(os.sched_getaffinity(0)),
        }
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
