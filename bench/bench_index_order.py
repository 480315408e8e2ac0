"""Writing rows into an indexed SQLite table in random key order, in key order, and with the index
built after the load (docs/decisions/0015-build-by-stage.md): CPU and wall seconds of each.

    .venv/bin/python bench/bench_index_order.py                   # 4,700,000 rows (scale-10 pairs)
    .venv/bin/python bench/bench_index_order.py --rows 500000

The rows have the shape of `link_pairs` (two record ids, stage, weight, probability, linked),
keyed like the build's record ids, in random order; the table carries the store's pragmas (WAL,
synchronous NORMAL, 64 MB cache) and its `(run_id, record_id_l)` index. One JSON line per way.
The file is made under work/bench/ and removed.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from pathlib import Path

import polars as pl

from familymatch.store.engine import SQLITE_CACHE_KB

DB = Path("work/bench/index_order.db")
COLS = "run_id, record_id_l, record_id_r, stage, match_weight, match_probability, linked"


def pairs(n: int) -> pl.DataFrame:
    i = pl.int_range(0, n, eager=True)
    source = pl.Series(["benefits", "school_census", "asb", "yot", "exclusions"])[i % 5]
    return pl.DataFrame(
        {
            "run_id": 1,
            "record_id_l": source + ":" + (i * 7919 % (n + 1)).cast(pl.String) + ":claimant",
            "record_id_r": source + ":" + (i * 104729 % (n + 3)).cast(pl.String),
            "stage": "fs",
            "match_weight": i.cast(pl.Float64) / 1000.0,
            "match_probability": 0.5,
            "linked": (i % 3 == 0),
        }
    ).sample(fraction=1.0, shuffle=True, seed=1)


def write(frame: pl.DataFrame, index_after: bool) -> tuple[float, float]:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(DB, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", f"cache_size=-{SQLITE_CACHE_KB}"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute(
        "CREATE TABLE p (run_id INT, record_id_l TEXT, record_id_r TEXT, stage TEXT, "
        "match_weight FLOAT, match_probability FLOAT, linked BOOLEAN)"
    )
    index = "CREATE INDEX ix ON p (run_id, record_id_l)"
    if not index_after:
        conn.execute(index)
    cpu, wall = time.process_time(), time.perf_counter()
    conn.execute("BEGIN")
    for start in range(0, frame.height, 50_000):
        conn.executemany(
            f"INSERT INTO p ({COLS}) VALUES (?,?,?,?,?,?,?)", frame.slice(start, 50_000).rows()
        )
    if index_after:
        conn.execute(index)
    conn.execute("COMMIT")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB}{suffix}").unlink(missing_ok=True)
    return cpu, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=4_700_000)
    args = ap.parse_args()
    DB.parent.mkdir(parents=True, exist_ok=True)
    frame = pairs(args.rows)
    ways = {
        "random order": (frame, False),
        "key order": (frame.sort("record_id_l", maintain_order=True), False),
        "index after the load": (frame, True),
    }
    for way, (rows, after) in ways.items():
        cpu, wall = write(rows, after)
        print(
            json.dumps(
                {"rows": args.rows, "way": way, "cpu_s": round(cpu, 1), "wall_s": round(wall, 1)}
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
