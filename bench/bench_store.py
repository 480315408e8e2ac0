"""Benchmark recording a big build into the store: one JSON line per database.

    .venv/bin/python bench/bench_store.py                       # SQLite, 600,000 records
    .venv/bin/python bench/bench_store.py --records 100000      # smaller
    FAMILYMATCH_BENCH_PG_URL=postgresql+psycopg://... .venv/bin/python bench/bench_store.py
    .venv/bin/python bench/bench_store.py --pg-url postgresql+psycopg://...

Writes one synthetic run (records in the canonical schema, persons, households, membership,
evidence, three link pairs a record: the shape of a scale-10 build) through ``recording_run`` (bulk ``executemany`` on
SQLite, ``COPY`` on PostgreSQL, one transaction) and prints seconds per table, the whole
commit, and rows per second. The SQLite file is made under work/bench/ and removed; on
PostgreSQL the benchmark run is deleted afterwards. The URL is never printed with its password.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl

from familymatch.canonical import conform
from familymatch.store import delete_run, open_store, recording_run, safe_url
from familymatch.store import schema as s


def synthetic_build(n_records: int, seed: int = 7) -> dict[str, pl.DataFrame]:
    """Frames shaped like a build's: ~2 records per person, ~3 persons per household."""
    n_persons = max(1, n_records // 2)
    n_households = max(1, n_persons // 3)
    i = pl.int_range(0, n_records, eager=True)
    person = (i * 7919 + seed) % n_persons
    records = conform(
        pl.DataFrame(
            {
                "record_id": "src" + (i % 14).cast(pl.String) + ":" + i.cast(pl.String),
                "source": "src" + (i % 14).cast(pl.String),
                "kind": "benefits",
                "row": i + 1,
                "forename": "FORENAME" + (person % 997).cast(pl.String),
                "surname": "SURNAME" + (person % 4999).cast(pl.String),
                "dob": pl.date_range(date(1950, 1, 1), date(2011, 12, 31), "1d", eager=True)
                .sample(n_records, with_replacement=True, seed=seed)
                .alias("dob"),
                "postcode": "PL" + (person % 40).cast(pl.String) + " 1AB",
                "address": (person % 500).cast(pl.String) + " TEST ROAD, SYNTHETIC CITY",
                "nino": None,
                "event_type": "JSA",
                "event_date": date(2011, 9, 1),
                "sessions_possible": (i % 300).cast(pl.Int64),
            }
        )
    )
    person_id = "P" + person.cast(pl.String).str.zfill(7)
    household_id = "H" + (person % n_households).cast(pl.String).str.zfill(7)
    persons = pl.DataFrame(
        {"record_id": records["record_id"], "person_id": person_id, "linkable": True}
    )
    membership = pl.DataFrame(
        {"record_id": records["record_id"], "person_id": person_id, "household_id": household_id}
    )
    households = pl.DataFrame(
        {
            "household_id": "H"
            + pl.int_range(0, n_households, eager=True).cast(pl.String).str.zfill(7),
            "address": "1 TEST ROAD",
            "postcode": "PL1 1AB",
            "n_members": 3,
            "n_adults": 2,
            "n_children": 1,
        }
    )
    n_evidence = max(1, n_records // 6)
    evidence = membership.head(n_evidence).select(
        "household_id",
        pl.lit("education").alias("criterion"),
        pl.lit("absence").alias("indicator"),
        "record_id",
        pl.lit("school_census").alias("source"),
        pl.int_range(1, n_evidence + 1).alias("row"),
        "person_id",
        pl.lit(date(2012, 1, 19)).alias("date"),
        pl.lit("0.17").alias("value"),
    )
    n_pairs = 3 * n_records  # a scale-10 build keeps ~3 pairs a record
    j = pl.int_range(0, n_pairs, eager=True)
    rid = records["record_id"]
    link_pairs = pl.DataFrame(
        {
            "record_id_l": rid.gather(j * 7919 % n_records),
            "record_id_r": rid.gather(j * 104729 % n_records),
            "stage": pl.Series(["fs", "fs", "nino", "fs"]).gather(j % 4),
            "match_weight": j.cast(pl.Float64) / 1000.0,
            "match_probability": (j % 1000).cast(pl.Float64) / 1000.0,
            "linked": j % 3 == 0,
        }
    )
    return {
        "link_pairs": link_pairs,
        "records": records,
        "persons": persons,
        "households": households,
        "membership": membership,
        "evidence": evidence,
    }


def bench(url: str, frames: dict[str, pl.DataFrame], keep: bool) -> dict[str, object]:
    store = open_store(url)
    t, cpu = time.perf_counter(), time.process_time()
    with recording_run(store, "bench", parameters={"bench": "store"}) as run:
        for name, frame in frames.items():
            run.add(s.metadata.tables[name], frame)
    total, cpu = time.perf_counter() - t, time.process_time() - cpu
    rows = {name: frame.height for name, frame in frames.items()}
    if not keep:
        delete_run(store, run.run_id)
    store.engine.dispose()
    return {
        "database": store.dialect,
        "url": safe_url(url),
        "rows": rows,
        "seconds": {k: round(v, 2) for k, v in run.seconds.items()},
        "total_seconds": round(total, 2),
        "cpu_seconds": round(cpu, 2),  # this process's (the database's own, on SQLite)
        "rows_per_second": round(sum(rows.values()) / total),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=600_000)
    parser.add_argument("--pg-url", default=os.environ.get("FAMILYMATCH_BENCH_PG_URL"))
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    t = time.perf_counter()
    frames = synthetic_build(args.records)
    print(f"made {args.records:,} records in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    if not args.no_sqlite:
        folder = Path("work/bench/store")
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        result = bench(f"sqlite:///{db}", frames, keep=True)
        result["file_mb"] = round(db.stat().st_size / 1e6, 1)
        print(json.dumps(result), flush=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    if args.pg_url:
        print(json.dumps(bench(args.pg_url, frames, keep=False)), flush=True)


if __name__ == "__main__":
    main()
