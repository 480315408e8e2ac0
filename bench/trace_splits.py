"""Why a true household is split across our households: one line per stray record class.

    .venv/bin/python bench/trace_splits.py FOLDER RUN_ID [TRUTH]   # TRUTH: truth/records.parquet

For every true household whose records our build placed in more than one household, the records
outside the household holding most of them ("strays") are classed: ``person link`` when the
stray's true person is split across our persons (its record did not link to the person's other
records), ``household`` when the whole true person is one of our persons placed elsewhere; each
with the stray's source, whether it has a postcode and how the address stage resolved it.
Prints JSON counts to stdout; no personal data (sources, flags and counts only).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl

from familymatch.project import load_project
from familymatch.store import open_store, read_table
from familymatch.store import schema as s


def strays(folder: Path, run: int, truth_file: Path) -> pl.DataFrame:
    store = open_store(load_project(folder / "familymatch.toml").database_url)
    truth = pl.read_parquet(truth_file).select(
        "record_id", pl.col("person_id").alias("true_p"), pl.col("household_id").alias("true_h")
    )
    ours = read_table(store, s.membership, run).select("record_id", "person_id", "household_id")
    recs = read_table(store, s.records, run).select("record_id", "source", "postcode", "address")
    resolved = read_table(store, s.record_addresses, run).select("record_id", "resolved_by")
    rows = (
        truth.join(ours, on="record_id").join(recs, on="record_id").join(resolved, on="record_id")
    )
    main = (
        rows.group_by("true_h", "household_id")
        .len()
        .sort("len", "household_id", descending=[True, False])
        .unique("true_h", keep="first")
        .select("true_h", pl.col("household_id").alias("main_h"))
    )
    persons_of = rows.group_by("true_p").agg(pl.col("person_id").n_unique().alias("our_persons"))
    return (
        rows.join(main, on="true_h")
        .filter(pl.col("household_id") != pl.col("main_h"))
        .join(persons_of, on="true_p")
        .with_columns(
            pl.when(pl.col("our_persons") > 1)
            .then(pl.lit("person link"))
            .otherwise(pl.lit("household"))
            .alias("class"),
            pl.col("postcode").is_not_null().alias("has_postcode"),
            pl.col("address").is_not_null().alias("has_address"),
        )
    )


def main() -> None:
    folder, run = Path(sys.argv[1]), int(sys.argv[2])
    truth = Path(sys.argv[3]) if len(sys.argv) > 3 else folder / "truth" / "records.parquet"
    found = strays(folder, run, truth)
    summary = {
        "split_true_households": found["true_h"].n_unique(),
        "stray_records": found.height,
        "by_class": found.group_by("class", "source", "has_postcode", "has_address", "resolved_by")
        .len()
        .sort("len", descending=True)
        .to_dicts(),
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
