"""Link one data set of the shared benchmark harness (../shared/bench) with familymatch.

    .venv/bin/python bench/link_dataset.py ../shared/bench/data/synth_100k OUT_DIR

Reads the harness's manifest and source Parquet files (rec_id, source, forename, surname, dob,
sex, address, postcode), maps them onto the canonical record, standardises, links, and writes
OUT_DIR/clusters.parquet (rec_id, cluster_id) and OUT_DIR/stats.json (seconds per stage,
candidate pairs, peak memory). Run by bench/run_familymatch.py, the harness adapter.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import cast

import polars as pl

from familymatch.canonical import conform
from familymatch.link import LinkConfig, link_records
from familymatch.link.blocking import DEFAULT_RULES, WIDE_RULES
from familymatch.standardise import standardise


def harness_frame(f: pl.DataFrame, source: str, first_row: int = 1) -> pl.DataFrame:
    """One harness source frame (or a slice of it starting at row ``first_row``) as canonical
    records."""
    cols = {
        c: pl.col(c).cast(pl.String)
        for c in ("forename", "surname", "sex", "address", "postcode")
        if c in f.columns
    }
    return conform(
        f.select(
            pl.col("rec_id").cast(pl.String).alias("record_id"),
            pl.lit(source).alias("source"),
            pl.lit("population").alias("kind"),
            pl.int_range(first_row, first_row + pl.len()).alias("row"),
            *[e.alias(c) for c, e in cols.items()],
            pl.col("dob")
            .cast(pl.String)
            .str.strptime(pl.Date, "%Y-%m-%d", strict=False)
            .alias("dob"),
        )
    )


def load(data_dir: Path) -> pl.DataFrame:
    manifest = json.loads((data_dir / "manifest.json").read_text())
    frames = [
        harness_frame(pl.read_parquet(data_dir / manifest["files"][source]), source)
        for source in manifest["sources"]
    ]
    return pl.concat(frames, how="diagonal_relaxed")


def main() -> None:
    data_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    t0, cpu0 = time.perf_counter(), time.process_time()
    records = load(data_dir)
    t_load = time.perf_counter() - t0
    t = time.perf_counter()
    std = standardise(records)
    t_std = time.perf_counter() - t
    # the raw sources are not read again: not held through the linkage (their columns that
    # standardise replaced: 60 MB on synth_1m)
    n_records = records.height
    del records
    # FEBRL is not household data: its duplicates replace whole forenames (the twins pattern)
    household = (
        json.loads((data_dir / "manifest.json").read_text()).get("postcode_format", "uk") == "uk"
    )
    # FEBRL's 4-digit postcodes block little: its 5,000 records afford the wider rules
    rules = DEFAULT_RULES if household else DEFAULT_RULES + WIDE_RULES
    result = link_records(std, LinkConfig(household_guards=household, rules=rules))
    total = time.perf_counter() - t0
    cpu_total = time.process_time() - cpu0
    result.persons.select(
        pl.col("record_id").alias("rec_id"), pl.col("person_id").alias("cluster_id")
    ).write_parquet(out / "clusters.parquet")
    seconds = cast(dict[str, float], result.stats["seconds"])
    stats = {
        "seconds_total": round(total, 3),
        "cpu_seconds_total": round(cpu_total, 3),  # every thread's, over the same span
        "seconds_predict": round(seconds["compare"] + seconds["predict"] + seconds["cluster"], 3),
        "stages": {
            "load": round(t_load, 3),
            "standardise": round(t_std, 3),
            **{k: round(v, 3) for k, v in seconds.items() if k != "total"},
        },
        "candidate_pairs": result.stats["candidate_pairs"],
        "link_peak_rss_mb": result.stats["peak_rss_mb"],
        "link_cpu_s": result.stats["cpu_seconds"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "n_records": n_records,
        "household_guards": household,
        "blocking_rules": len(rules),
        "blocking": result.stats["blocking"],
    }
    (out / "stats.json").write_text(json.dumps(stats))


if __name__ == "__main__":
    main()
