"""Link one harness data set with the out-of-core backend (familymatch/link/backends/outofcore.py).

    .venv/bin/python bench/link_national.py ../shared/bench/data/synth_1m OUT_DIR [--memory-mb 2000]

Reads the harness's source Parquet files a slice at a time (--batch records), so the records are
never all in memory; writes OUT_DIR/clusters.parquet (rec_id, cluster_id) and OUT_DIR/stats.json
like bench/link_dataset.py. Run by bench/run_fmduckdb.py, the harness adapter. The DuckDB work
folder is OUT_DIR/work (deleted at the end unless --keep).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
from link_dataset import harness_frame

from familymatch.link.backends.outofcore import OutOfCoreConfig, link_out_of_core, sharded_rules
from familymatch.link.blocking import DEFAULT_RULES, WIDE_RULES


def shard_column() -> pl.Expr:
    """The shard of a record as a national run would know it from the council that sent the
    extract; here the postcode area on the record ("PL" of "PL1 2AB"), "-" without a postcode."""
    area = pl.col("postcode").str.to_uppercase().str.extract(r"^\s*([A-Z]{1,2})[0-9]", 1)
    return area.fill_null("-").alias("shard")


def batches(data_dir: Path, size: int, shard: bool = False) -> Iterator[pl.DataFrame]:
    manifest = json.loads((data_dir / "manifest.json").read_text())
    for source in manifest["sources"]:
        path = data_dir / manifest["files"][source]
        n = pl.scan_parquet(path).select(pl.len()).collect().item()
        for offset in range(0, n, size):
            part = pl.scan_parquet(path).slice(offset, size).collect()
            frame = harness_frame(part, source, first_row=offset + 1)
            yield frame.with_columns(shard_column()) if shard else frame


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--batch", type=int, default=1_000_000, help="records standardised at a time")
    ap.add_argument("--memory-mb", type=int, default=2000, help="DuckDB's memory limit")
    ap.add_argument(
        "--shards",
        action="store_true",
        help="location rules and dob+surname_initial within postcode areas only (a national run)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the DuckDB work folder")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((args.data_dir / "manifest.json").read_text())
    household = manifest.get("postcode_format", "uk") == "uk"  # as bench/link_dataset.py
    rules = DEFAULT_RULES if household else DEFAULT_RULES + WIDE_RULES
    if args.shards:
        rules = sharded_rules(rules, "shard")
    config = OutOfCoreConfig(
        rules=rules, household_guards=household, memory_limit_mb=args.memory_mb
    )
    t0 = time.perf_counter()
    result = link_out_of_core(
        batches(args.data_dir, args.batch, args.shards), args.out / "work", config
    )
    pl.scan_parquet(result.persons).select(
        pl.col("record_id").alias("rec_id"), pl.col("person_id").alias("cluster_id")
    ).sink_parquet(args.out / "clusters.parquet")
    total = time.perf_counter() - t0
    seconds = result.stats["seconds"]
    stats = {
        "seconds_total": round(total, 3),
        "seconds_predict": round(seconds["compare"] + seconds["predict"] + seconds["cluster"], 3),
        "stages": seconds,
        "candidate_pairs": result.stats["candidate_pairs"],
        "link_peak_rss_mb": result.stats["peak_rss_mb"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "blocking": result.stats["blocking"],
        "fs_links": result.stats["fs_links"],
        "persons": result.stats["persons"],
        "em_sample_pairs": result.stats["em_sample_pairs"],
        "memory_limit_mb": args.memory_mb,
        "household_guards": household,
        "blocking_rules": len(rules),
        "shards": args.shards,
    }
    (args.out / "stats.json").write_text(json.dumps(stats))
    if not args.keep:
        shutil.rmtree(args.out / "work")


if __name__ == "__main__":
    main()
