"""How many families `cohort diff` reports with changed members between consecutive refreshes
of the programme timeline, against the truth (issue 16 item 1's timeline; decision 0008).

    .venv/bin/python bench/bench_refresh_diff.py [--scale 0.2] [--refreshes 3] [--folder F]
    .venv/bin/python bench/bench_refresh_diff.py --existing F [--listed L.parquet]

Generates the timeline council (seed 5, as tests/test_timeline.py) unless the folder holds it,
builds the first ``--refreshes`` refreshes into its store (once: the run ids are kept in
``builds.json``), then for each consecutive pair prints one JSON line: families citywide and
cohort families reported with members joined / left, compared as people (the build's person ids
with its records' identities: ``familymatch.store.members.build_people``) and key by key (each
key a member, as builds recorded before person ids are compared), and how many of them really
changed: a family really changed when the true people of its household's
records differ between the two builds (the truth's person ids), i.e. what a perfect comparison of
the same households would report. ``--existing F``: a timeline folder already built with
attachments (e.g. the slow timeline test's, kept with ``--basetemp``): for every consecutive
pair of its builds, the families ``cohort diff`` lists (attached or cohort) and how many of them
really changed; ``--listed L.parquet`` scores a listing made by other code instead (a, b,
family_ref, attached). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
from sqlalchemy import select

from claims.refresh import refresh_report
from familymatch.project import load_project
from familymatch.store import Store, open_store, read_table
from familymatch.store import schema as s
from familymatch.store.families import previous_members
from familymatch.store.members import (
    build_people,
    compare_builds,
    member_changes,
    members_as_people,
)
from fixtures.generate import generate
from fixtures.timeline import project_name, records_name

FM = str(Path(sys.executable).parent / "familymatch")


def builds(folder: Path, n: int) -> list[int]:
    done = folder / "builds.json"
    runs: list[int] = json.loads(done.read_text()) if done.exists() else []
    for k in range(len(runs), n):
        print(f"building refresh {k}", file=sys.stderr)
        out = subprocess.run(
            [FM, "cohort", "build", "-p", str(folder / project_name(k)), "--json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        runs.append(int(json.loads(out)["run_id"]))
        done.write_text(json.dumps(runs))
    return runs[:n]


def true_people(store: Store, run: int, truth: pl.DataFrame) -> pl.DataFrame:
    """family_ref, people: the sorted true person ids of each family's records."""
    refs = read_table(store, s.households, run).select("household_id", "family_ref")
    members = read_table(store, s.membership, run).select("record_id", "household_id")
    return (
        members.join(refs, on="household_id")
        .join(truth.select("record_id", "person_id"), on="record_id")
        .group_by("family_ref")
        .agg(pl.col("person_id").unique().sort().str.join(",").alias("people"))
    )


def really_changed(
    store: Store, a: int, b: int, truth_a: pl.DataFrame, truth_b: pl.DataFrame
) -> pl.DataFrame:
    """family_ref of the families in both builds whose true people differ."""
    both = true_people(store, a, truth_a).join(true_people(store, b, truth_b), on="family_ref")
    return both.filter(pl.col("people") != pl.col("people_right")).select("family_ref")


def scored(reported: pl.DataFrame, real: pl.DataFrame) -> dict[str, int]:
    hit = reported.join(real, on="family_ref").height
    return {"reported": reported.height, "really_changed": hit, "missed": real.height - hit}


def pair(store: Store, folder: Path, k: int, a: int, b: int) -> dict[str, object]:
    truth_a, truth_b = (pl.read_parquet(folder / "truth" / records_name(i)) for i in (k, k + 1))
    real = really_changed(store, a, b, truth_a, truth_b)
    people = compare_builds(build_people(store, a), build_people(store, b))
    key_a, key_b = (
        members_as_people(previous_members(store, run).drop("person_id"))[0] for run in (a, b)
    )
    by_key = member_changes(key_a, key_b)
    interest = pl.DataFrame({"family_ref": _of_interest(store, a, b)})
    listed = refresh_report(store, a, b).members_changed  # no attachments: cohort families
    return {
        "refreshes": [k, k + 1],
        "runs": [a, b],
        "families_really_changed": real.height,
        "citywide_as_people": scored(people, real),
        "citywide_key_by_key": scored(by_key, real),
        "cohort_listed_by_cohort_diff": scored(listed, real.join(interest, on="family_ref")),
        "cohort_key_by_key": scored(
            by_key.join(interest, on="family_ref"), real.join(interest, on="family_ref")
        ),
        "people_joined": int(people["joined"].sum()),
        "people_left": int(people["left"].sum()),
    }


def _of_interest(store: Store, a: int, b: int) -> list[str]:
    """Families in either build's cohort (what the report lists)."""
    out: list[str] = []
    for run in (a, b):
        cohort = read_table(store, s.cohort, run).filter(pl.col("in_cohort"))
        refs = read_table(store, s.households, run).select("household_id", "family_ref")
        out += cohort.join(refs, on="household_id")["family_ref"].to_list()
    return sorted(set(out))


def existing(folder: Path, listed: Path | None) -> None:
    """Score what cohort diff lists between every consecutive pair of the folder's builds."""
    store = open_store(load_project(folder / "familymatch.toml").database_url)
    builds = select(s.runs.c.id).where(s.runs.c.kind == "build", s.runs.c.status == "complete")
    with store.engine.connect() as conn:
        runs = [int(r[0]) for r in conn.execute(builds.order_by(s.runs.c.id))]
    old = pl.read_parquet(listed) if listed else None
    for k, (a, b) in enumerate(zip(runs, runs[1:], strict=False)):
        truths = (pl.read_parquet(folder / "truth" / records_name(i)) for i in (k, k + 1))
        real = really_changed(store, a, b, *truths)
        got = (
            refresh_report(store, a, b).members_changed.select("family_ref", "attached")
            if old is None
            else old.filter((pl.col("a") == a) & (pl.col("b") == b))
        )
        row = {
            "refreshes": [k, k + 1],
            "families_really_changed": real.height,
            "listed": got.height,
            "listed_really_changed": got.join(real, on="family_ref").height,
            "attached_listed": got.filter(pl.col("attached")).height,
            "attached_really_changed": got.filter(pl.col("attached"))
            .join(real, on="family_ref")
            .height,
        }
        print(json.dumps(row), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=0.2)
    ap.add_argument("--refreshes", type=int, default=3)
    ap.add_argument("--folder", type=Path)
    ap.add_argument("--existing", type=Path)
    ap.add_argument("--listed", type=Path)
    args = ap.parse_args()
    if args.existing:
        existing(args.existing, args.listed)
        return
    folder = args.folder or Path("work/bench") / f"timeline_{args.scale:g}"
    if not (folder / "familymatch.toml").exists():
        generate(folder, scale=args.scale, seed=5, timeline=True)
    runs = builds(folder, args.refreshes)
    store = open_store(load_project(folder / "familymatch.toml").database_url)
    for k in range(len(runs) - 1):
        print(json.dumps(pair(store, folder, k, runs[k], runs[k + 1])), flush=True)


if __name__ == "__main__":
    main()
