"""Stable family references across rebuilds and the cohort diff between two runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from familymatch.errors import FamilyMatchError
from familymatch.store import (
    assign_stable_household_ids,
    cohort_diff,
    diff_latest,
    open_store,
    read_table,
    recording_run,
)
from familymatch.store import schema as s
from familymatch.store.engine import Store
from familymatch.store.families import default_person_keys, match_by_overlap
from tests.test_store_support import BACKENDS, make_db_url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_db_url(str(request.param), tmp_path)


SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "sample"


def members(groups: dict[str, list[str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(hh, key) for hh, keys in groups.items() for key in keys],
        schema=["household_id", "person_key"],
        orient="row",
    )


def cohort(rows: dict[str, str | None]) -> pl.DataFrame:
    """household -> combination (None = assessed, not in the cohort)."""
    return pl.DataFrame(
        {
            "household_id": list(rows),
            "n_criteria": [0 if c is None else c.count("+") + 1 for c in rows.values()],
            "combination": [c or "" for c in rows.values()],
            "in_cohort": [c is not None for c in rows.values()],
        }
    )


def build(store: Store, groups: dict[str, list[str]], combos: dict[str, str | None]) -> int:
    with recording_run(store, "build") as run:
        run.add(s.households, pl.DataFrame({"household_id": list(groups)}))
        run.add(s.cohort, cohort(combos))
        run.assign_family_refs(members(groups))
    return run.run_id


def refs_of(store: Store, run_id: int) -> dict[str, str]:
    frame = read_table(store, s.households, run_id).select("household_id", "family_ref")
    return dict(frame.iter_rows())


def test_overlap_matching_is_one_to_one_and_prefers_most_shared() -> None:
    previous = members({"A": ["k1", "k2", "k3"], "B": ["k4", "k5"], "C": ["k9"]})
    current = members({"X": ["k1", "k2"], "Y": ["k3"], "Z": ["k4", "k5", "k6"], "W": ["k7"]})
    matched = match_by_overlap(previous, current)
    assert matched.rows() == [("X", "A"), ("Z", "B")]


def test_families_keep_their_references_across_rebuilds(db_url: str) -> None:
    store = open_store(db_url)
    first = build(
        store,
        {"H1": ["a", "b", "c"], "H2": ["d", "e"], "H3": ["f"]},
        {"H1": "crime+work", "H2": "education+work", "H3": None},
    )
    assert refs_of(store, first) == {"H1": "F000001", "H2": "F000002", "H3": "F000003"}
    # refreshed extracts: ids renumbered, c moved out, g joined d and e, f gone, h new
    with recording_run(store, "build") as run:
        groups = {"X1": ["a", "b"], "X2": ["c"], "X3": ["d", "e", "g"], "X4": ["h"]}
        run.add(s.households, pl.DataFrame({"household_id": list(groups)}))
        run.add(
            s.cohort,
            cohort({"X1": "crime+work", "X2": None, "X3": "crime+education", "X4": "crime+work"}),
        )
        refs = run.assign_family_refs(members(groups))
    assert refs.rows() == [
        ("X1", "F000001", "H1", "kept"),
        ("X2", "F000004", None, "new"),
        ("X3", "F000002", "H2", "kept"),
        ("X4", "F000005", None, "new"),
    ]
    assert refs_of(store, run.run_id) == {
        "X1": "F000001",
        "X2": "F000004",
        "X3": "F000002",
        "X4": "F000005",
    }
    stored_keys = read_table(store, s.household_keys, run.run_id)
    assert stored_keys.height == 7

    diff = cohort_diff(store, first, run.run_id)
    assert diff.counts() == {
        "run_a": first,
        "run_b": run.run_id,
        "joined": 1,
        "left": 0,
        "changed": 1,
        "unchanged": 1,
    }
    assert diff.joined.rows() == [("F000005", "X4", "crime+work")]
    assert diff.changed.rows() == [
        ("F000002", "H2", "X3", "education+work", "crime+education", 2, 2)
    ]
    back = cohort_diff(store, run.run_id, first)
    assert back.left.rows() == [("F000005", "X4", "crime+work", False)]
    assert diff_latest(store).counts() == diff.counts()


def test_family_that_drops_out_of_the_cohort_is_reported_as_left(
    db_url: str,
) -> None:
    store = open_store(db_url)
    a = build(store, {"H1": ["a"], "H2": ["b"]}, {"H1": "crime+work", "H2": "crime+work"})
    b = build(store, {"Q1": ["a"], "Q2": ["b"]}, {"Q1": None, "Q2": "crime+work"})
    diff = cohort_diff(store, a, b)
    assert diff.left.rows() == [("F000001", "H1", "crime+work", True)]
    assert diff.joined.height == 0 and diff.changed.height == 0 and diff.unchanged == 1


def test_assignment_without_a_previous_run_numbers_from_one(db_url: str) -> None:
    store = open_store(db_url)
    refs = assign_stable_household_ids(store, members({"B": ["x"], "A": ["y", "z"]}))
    assert refs.rows() == [("A", "F000001", None, "new"), ("B", "F000002", None, "new")]
    with pytest.raises(FamilyMatchError, match="need columns person_key"):
        assign_stable_household_ids(store, pl.DataFrame({"household_id": ["A"]}))


def test_cohort_diff_refuses_bad_runs(db_url: str) -> None:
    store = open_store(db_url)
    a = build(store, {"H1": ["a"]}, {"H1": "crime+work"})
    with pytest.raises(FamilyMatchError, match="two different runs"):
        cohort_diff(store, a, a)
    with pytest.raises(FamilyMatchError, match="run 99 does not exist"):
        cohort_diff(store, a, 99)
    with pytest.raises(FamilyMatchError, match="needs two complete builds"):
        diff_latest(store)
    with recording_run(store, "build") as old_style:  # households without references
        old_style.add(s.households, pl.DataFrame({"household_id": ["H9"]}))
        old_style.add(s.cohort, cohort({"H9": "crime+work"}))
    with pytest.raises(FamilyMatchError, match=rf"run {old_style.run_id} has no family ref"):
        cohort_diff(store, a, old_style.run_id)


def record_build(store: Store, project_file: Path) -> tuple[int, pl.DataFrame]:
    """Link a project, apply its rules and record the run with family references (what
    ``cohort build`` does); returns the run id and the references given."""
    from familymatch.pipeline import link_project
    from familymatch.project import load_project
    from rules.engine import evaluate
    from rules.ruleset import load_rule_set

    project = load_project(project_file)
    linked = link_project(project)
    rule_set = load_rule_set(project.rule_set, base=project.folder)
    ev = evaluate(rule_set, linked.std, linked.membership, project.reference_date)
    with recording_run(store, "build", reference_date=project.reference_date) as run:
        run.add(s.membership, linked.membership)
        run.add(s.households, linked.households.households)
        run.add(s.cohort, ev.cohort.drop("criteria"))
        refs = run.assign_family_refs(default_person_keys(linked.std, linked.membership))
    return run.run_id, refs.join(linked.membership, on="household_id")


def test_refreshed_extracts_keep_the_families_the_truth_says_are_the_same(
    tmp_path: Path,
) -> None:
    council = tmp_path / "council"
    shutil.copytree(SAMPLE, council)
    store = open_store(f"sqlite:///{tmp_path / 'fm.db'}")
    run_1, refs_1 = record_build(store, council / "familymatch.toml")
    run_2, refs_2 = record_build(store, council / "familymatch_period2.toml")
    truth_1 = pl.read_parquet(council / "truth" / "records.parquet")
    truth_2 = pl.read_parquet(council / "truth" / "records_period2.parquet")

    def family_truth(refs: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
        # each family reference's true household (the most common among its records)
        return (
            refs.join(
                truth.select("record_id", pl.col("household_id").alias("true_hh")), on="record_id"
            )
            .group_by("family_ref", "true_hh")
            .len()
            .sort("len", descending=True)
            .unique("family_ref", keep="first")
            .select("family_ref", "true_hh")
        )

    both = family_truth(refs_1, truth_1).join(family_truth(refs_2, truth_2), on="family_ref")
    # period 2 holds 4 true households, all known in period 1: each keeps its reference, and
    # the reference still points at the same true household
    known = set(truth_1["household_id"]) & set(truth_2["household_id"])
    assert len(known) == 4
    assert both.height == len(known)
    assert both.filter(pl.col("true_hh") != pl.col("true_hh_right")).height == 0
    assert set(refs_2["status"]) == {"kept"}
    diff = cohort_diff(store, run_1, run_2)
    counts = diff.counts()
    assert counts["joined"] + counts["unchanged"] + counts["changed"] == (
        read_table(store, s.cohort, run_2)["in_cohort"].sum()
    )


def test_rebuild_with_reordered_extract_keeps_every_family(tmp_path: Path) -> None:
    council = tmp_path / "council"
    shutil.copytree(SAMPLE, council)
    store = open_store(f"sqlite:///{tmp_path / 'fm.db'}")
    run_1, refs_1 = record_build(store, council / "familymatch.toml")
    benefits = council / "extracts" / "benefits.csv"
    header, *rows = benefits.read_bytes().splitlines(keepends=True)  # cp1252, CRLF: as bytes
    benefits.write_bytes(b"".join([header, *reversed(rows)]))
    run_2, refs_2 = record_build(store, council / "familymatch.toml")
    by_record = refs_1.select("record_id", "family_ref").join(
        refs_2.select("record_id", pl.col("family_ref").alias("family_ref_2")),
        on="record_id",
        how="inner",
    )
    # benefits rows were renumbered; every other record is in the same family as before
    non_benefit = by_record.filter(~pl.col("record_id").str.starts_with("benefits:"))
    assert non_benefit.height > 300
    assert non_benefit.filter(pl.col("family_ref") != pl.col("family_ref_2")).height == 0
    assert set(refs_2["status"]) == {"kept"}
    diff = cohort_diff(store, run_1, run_2)
    assert (diff.counts()["joined"], diff.counts()["left"], diff.counts()["changed"]) == (0, 0, 0)
    assert diff.unchanged == read_table(store, s.cohort, run_1)["in_cohort"].sum() > 0


def test_a_family_is_named_by_reference_or_id_and_found_in_the_nearest_run(db_url: str) -> None:
    from familymatch.store.families import resolve_family

    store = open_store(db_url)
    one = build(store, {"H1": ["a", "b"], "H2": ["c"]}, {"H1": "crime+work", "H2": None})
    two = build(store, {"X1": ["a", "b"], "X3": ["d"]}, {"X1": "crime+work", "X3": None})
    three = build(store, {"Y1": ["a"], "Y4": ["e"]}, {"Y1": "crime+work", "Y4": None})
    # F000001 = H1 / X1 / Y1; F000002 = H2 (run one only); F000003 = X3 (run two only)
    assert resolve_family(store, two, "F000001").household_id == "X1"
    assert resolve_family(store, two, " f1 ").family_ref == "F000001"
    assert resolve_family(store, three, "Y1").name == "F000001 (household Y1)"
    with pytest.raises(FamilyMatchError) as err:
        resolve_family(store, three, "F000003")
    assert str(err.value) == (
        f"family F000003 is not in run {three} (the run searched); the nearest match is "
        f"F000003 (household X3) in run {two}: add --run {two} to see it."
    )
    with pytest.raises(FamilyMatchError) as err:
        resolve_family(store, three, "F000002")
    assert f"the nearest match is F000002 (household H2) in run {one}" in str(err.value)
    with pytest.raises(FamilyMatchError) as err:
        resolve_family(store, three, "X1")
    assert str(err.value) == (
        f"household X1 is not in run {three} (the run searched): it is a household id of run "
        f"{two}, where it is family F000001; in run {three} that family is household Y1: "
        "use F000001."
    )
    with pytest.raises(FamilyMatchError, match="nor in any other complete build"):
        resolve_family(store, three, "F000099")
    # claims history: a reference as given, or the latest build's household id
    from familymatch.store.families import reference_for

    assert (reference_for(store, "f2"), reference_for(store, "Y4")) == ("F000002", "F000004")
