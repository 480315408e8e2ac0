"""Trace a build's cohort against the truth, household by household.

    .venv/bin/python bench/trace_cohort.py DIR [--all]

DIR is a generated council after `familymatch cohort build -p DIR/familymatch.toml` (the store
DIR/familymatch.db and DIR/truth/). For every planted cohort household (truth
``households.parquet``: two criteria or more) it finds the build household holding most of its
records and prints, when that household's combination differs from the planted one (``--all``:
every planted household), each truth member's records: source, row, role, the truth's noise, the
build's person and household and the criteria the build found for that household. Then the
build's cohort households that hold no planted household of their combination (false ones).
Synthetic people only: it prints record ids and noise labels, never names or dates.
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

import polars as pl


def _store(db: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    con = sqlite3.connect(db)
    run = con.execute("select max(id) from runs where kind = 'build'").fetchone()[0]
    membership = pl.read_database(
        f"select record_id, person_id, household_id from membership where run_id = {run}", con
    )
    cohort = pl.read_database(
        f"select household_id, combination, in_cohort from cohort where run_id = {run}", con
    )
    return membership, cohort


def trace(out: Path, every: bool) -> None:
    truth = pl.read_parquet(out / "truth" / "records.parquet")
    planted = pl.read_parquet(out / "truth" / "households.parquet").filter(
        pl.col("planted").str.contains(r"\+") & ~pl.col("planted").str.starts_with("near_miss")
    )
    membership, cohort = _store(out / "familymatch.db")
    recs = truth.join(
        membership.rename({"person_id": "b_person", "household_id": "b_hh"}), on="record_id"
    )
    recs = recs.join(
        cohort.select(pl.col("household_id").alias("b_hh"), pl.col("combination").alias("b_combo")),
        on="b_hh",
        how="left",
    )
    main = (
        recs.join(planted.select("household_id", "planted"), on="household_id")
        .group_by("household_id", "planted", "b_hh", "b_combo")
        .len()
        .sort(["household_id", "len"], descending=[False, True])
        .group_by("household_id", maintain_order=True)
        .first()
    )
    missed = main if every else main.filter(pl.col("b_combo") != pl.col("planted"))
    print(f"{main.height} planted cohort households, {missed.height} shown")
    for hh, combo, b_hh, b_combo, _ in missed.iter_rows():
        print(f"\n{hh} planted {combo}: build {b_hh} found {b_combo or '-'}")
        rows = recs.filter(pl.col("household_id") == hh).sort("person_id", "source", "row")
        for r in rows.select(
            "person_id", "source", "row", "role", "noise", "b_person", "b_hh", "b_combo"
        ).iter_rows():
            print("   ", " | ".join("" if v is None else str(v) for v in r))
    found = recs.select("b_hh", "b_combo", "household_id").unique()
    true_ones = found.join(
        planted.select("household_id", pl.col("planted").alias("b_combo")),
        on=["household_id", "b_combo"],
    )
    false = cohort.filter(pl.col("in_cohort").cast(pl.Boolean)).join(
        true_ones.select(pl.col("b_hh").alias("household_id")).unique(),
        on="household_id",
        how="anti",
    )
    print(
        f"\n{false.height} build cohort households holding no planted household of their combination"
    )
    for b_hh, combo in false.select("household_id", "combination").iter_rows():
        people = recs.filter(pl.col("b_hh") == b_hh).select("household_id").unique()
        print(f"  {b_hh} {combo}: truth households {', '.join(sorted(people['household_id']))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--all", action="store_true")
    args = parser.parse_args()
    trace(args.dir, args.all)


if __name__ == "__main__":
    main()
