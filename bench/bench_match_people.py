"""Benchmark `attach --match-people` on the synthetic council: one JSON line per scale.

    .venv/bin/python bench/bench_match_people.py 0.2      # scales to run (default: 0.2)

For each scale: generate, build, then write a team's case list from a *different* extract than
the build read: the period-2 benefit claimants (written a year later with their own noise) whose
true household is one of our cohort families. Each row is matched with the build's model
(`claims.match_people.match_people`); a row is right when the family found is the cohort family
holding most of the true household's records. Prints rows, found right / found wrong / weak /
ambiguous, and the wall and CPU seconds of the match. Work folders under work/bench/ (git-ignored).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import polars as pl

from claims.match_people import match_people, read_people
from claims.records import cohort_families
from familymatch.ingest import ingest_project
from familymatch.project import load_project
from familymatch.store import open_store
from fixtures.allocation import true_households
from fixtures.generate import generate
from rules.build import build_cohort


def case_list(out: Path, store: object, build_run: int) -> pl.DataFrame:
    """The lead adults of the cohort families as the later benefit extract spells them, with the
    family each should be found in (``expected``)."""
    later = ingest_project(load_project(out / "familymatch_period2.toml")).records
    truth = pl.read_parquet(out / "truth" / "records_period2.parquet").select(
        "record_id", pl.col("household_id").alias("true_household"), "noise"
    )
    ours = true_households(store, build_run, out / "truth")  # type: ignore[arg-type]
    cohort = cohort_families(store, build_run).select("family_ref")  # type: ignore[arg-type]
    expected = ours.join(cohort, on="family_ref").unique("true_household", keep="first")
    claimants = later.filter(pl.col("source") == "benefits", pl.col("role") == "claimant")
    return (
        claimants.join(truth, on="record_id")
        .join(
            expected.select("true_household", pl.col("family_ref").alias("expected")),
            on="true_household",
        )
        .unique("true_household", keep="first")
        .sort("record_id")
        .select(
            "forename",
            "surname",
            pl.col("dob").dt.strftime("%d/%m/%Y").alias("dob"),
            "address",
            "postcode",
            pl.lit("KW").alias("key_worker"),
            pl.lit("").alias("team"),
            pl.lit("02/07/2012").alias("attached_on"),
            pl.lit("").alias("skip"),
            "expected",
            "noise",
        )
    )


def run(scale: float) -> dict[str, object]:
    out = Path("work/bench") / f"people_{scale:g}"
    shutil.rmtree(out, ignore_errors=True)
    generate(out, scale=scale, seed=42)
    build = build_cohort(out / "familymatch.toml")
    store = open_store(load_project(out / "familymatch.toml").database_url)
    cases = case_list(out, store, build.run_id)
    path = out / "caselist.csv"
    cases.drop("expected", "noise").write_csv(path)
    people = read_people(path)
    t, cpu = time.perf_counter(), time.process_time()
    matched = match_people(store, build.run_id, people)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    rows = matched.rows.with_columns(cases["expected"], cases["noise"])
    found = rows.filter(pl.col("status") == "found")
    right = found.filter(pl.col("family_ref") == pl.col("expected")).height
    missed = rows.filter(pl.col("status") != "found")
    return {
        "scale": scale,
        "cohort": build.summary["cohort"]["total"],
        "rows": rows.height,
        "found_right": right,
        "found_wrong": found.height - right,
        "weak": rows.filter(pl.col("status") == "weak").height,
        "ambiguous": rows.filter(pl.col("status") == "ambiguous").height,
        "not_found_by_noise": dict(missed.group_by("noise").len().iter_rows()),
        "match_seconds": round(seconds, 1),
        "match_cpu_seconds": round(cpu, 1),
    }


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["0.2"]:
        print(json.dumps(run(float(arg))), flush=True)
