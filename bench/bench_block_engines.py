"""Candidate pairs of the engine's blocking rules on three engines: the figures behind 0017.

    .venv/bin/python bench/bench_block_engines.py HARNESS/data/synth_1m ENGINE [--memory-mb 2000]

ENGINE is one of
  polars-eager     familymatch.link.blocking.candidate_pairs (today's engine, all in memory)
  polars-streaming one lazy self-join per rule sunk to Parquet by polars' streaming engine, then
                   the distinct pairs (first rule) by a streaming group-by sunk to Parquet
  duckdb           familymatch.link.backends.outofcore.block (memory_limit, spilling to disk)

Run each engine in its own process (peak memory is the process's). Prints one JSON line:
engine, records, candidate pairs, seconds of the blocking step alone (the records are staged
first, not timed), peak RSS in MiB of the whole process.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import polars as pl
from link_national import batches

from familymatch.link.backends.outofcore import (
    OutOfCoreConfig,
    block,
    connect,
    load_tables,
    stage_records,
)
from familymatch.link.blocking import DEFAULT_RULES, candidate_pairs


def polars_streaming(keys: Path, rules: tuple, out: Path) -> int:
    for k, rule in enumerate(rules):
        cols = list(rule.keys)
        side = pl.scan_parquet(keys).select("__i", *cols).drop_nulls(cols)
        (
            side.join(side, on=cols, suffix="_r")
            .filter(pl.col("__i") < pl.col("__i_r"))
            .select(
                (pl.col("__i").cast(pl.UInt64) * 2**32 + pl.col("__i_r").cast(pl.UInt64)).alias(
                    "key"
                ),
                pl.lit(k, dtype=pl.Int16).alias("rule"),
            )
            .sink_parquet(out / f"rule-{k:02d}.parquet", engine="streaming")
        )
    (
        pl.scan_parquet(out / "rule-*.parquet")
        .group_by("key")
        .agg(pl.col("rule").min())
        .sink_parquet(out / "pairs.parquet", engine="streaming")
    )
    return int(pl.scan_parquet(out / "pairs.parquet").select(pl.len()).collect().item())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("engine", choices=["polars-eager", "polars-streaming", "duckdb"])
    ap.add_argument("--memory-mb", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        per_rule: dict[str, int] = {}
        n, rules = stage_records(batches(args.data_dir, 500_000), folder, DEFAULT_RULES)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        t = time.perf_counter()
        if args.engine == "polars-eager":
            keys = pl.read_parquet(folder / "keys" / "*.parquet")
            pairs = candidate_pairs(keys, rules, max_pairs_per_rule=2_000_000_000)[0].height
        elif args.engine == "polars-streaming":
            pairs = polars_streaming(folder / "keys" / "*.parquet", rules, folder)
        else:
            con = connect(folder / "block.duckdb", OutOfCoreConfig(memory_limit_mb=args.memory_mb))
            load_tables(con, folder, rules)
            t = time.perf_counter()  # the hashes are part of loading, not of blocking
            per_rule = {k: v["pairs"] for k, v in block(con, rules, 2_000_000_000).items()}
            pairs = int(con.execute("SELECT count(*) FROM pairs").fetchall()[0][0])
        seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(
        json.dumps(
            {
                "engine": args.engine,
                "records": n,
                "candidate_pairs": pairs,
                "seconds_block": round(seconds, 1),
                "peak_rss_mb_staging": round(before),
                "peak_rss_mb": round(peak),
                "pairs_by_rule": per_rule,
            }
        )
    )


if __name__ == "__main__":
    main()
