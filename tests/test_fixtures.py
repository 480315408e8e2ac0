"""The synthetic council: deterministic, its truth covers every row, planted counts scale."""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from pathlib import Path

import polars as pl

from familymatch.project import load_project
from fixtures.generate import generate


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_files(tmp_path: Path) -> None:
    generate(tmp_path / "a", scale=0.005, seed=3)
    generate(tmp_path / "b", scale=0.005, seed=3)
    generate(tmp_path / "c", scale=0.005, seed=4)
    a, b, c = digest(tmp_path / "a"), digest(tmp_path / "b"), digest(tmp_path / "c")
    assert a == b
    assert a["extracts/benefits.csv"] != c["extracts/benefits.csv"]


def test_truth_project_file_and_permissions(small_council: tuple[Path, object]) -> None:
    out, summary = small_council
    project = load_project(out / "familymatch.toml")
    assert [s.name for s in project.sources][:3] == ["benefits", "benefit_members", "school_census"]
    for src in project.sources:
        assert src.path.is_file(), src.name
    tomllib.loads((out / "familymatch.toml").read_text())
    truth = pl.read_parquet(out / "truth" / "records.parquet")
    assert truth["record_id"].n_unique() == truth.height
    assert truth["person_id"].null_count() == 0 and truth["household_id"].null_count() == 0
    expected = json.loads((out / "truth" / "expected.json").read_text())
    # scale 0.02: the Plymouth counts scaled and rounded (60, 405, 82, 98 at scale 1)
    assert expected["phase1"]["cohort_by_combination"] == {
        "crime+education+work": 1,
        "education+work": 8,
        "crime+work": 2,
        "crime+education": 2,
    }
    kinds = {n["kind"] for n in expected["near_misses"]}
    assert kinds == {
        "absence_14.9",
        "two_fixed_exclusions",
        "asb_outside_window",
        "claim_ended",
        "offence_at_18",
    }
    assert len(expected["rejected_rows"]) == 6
    for path in [out, *out.rglob("*")]:
        mode = os.stat(path).st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_household_truth_matches_planted(small_council: tuple[Path, object]) -> None:
    out, _ = small_council
    households = pl.read_parquet(out / "truth" / "households.parquet")
    planted = households.filter(
        pl.col("planted").is_in(
            ["crime+education+work", "education+work", "crime+work", "crime+education"]
        )
    )
    assert (planted["planted"] == planted["criteria"]).all()
    near = households.filter(pl.col("planted").str.starts_with("near_miss:"))
    assert near.height == 5 and (near["criteria"].str.count_matches(r"\+") == 0).all()


def test_committed_sample_is_what_the_generator_writes(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[1] / "fixtures" / "sample"
    generate(tmp_path / "s", scale=0.002, seed=2012)
    assert digest(tmp_path / "s") == digest(sample)


def test_second_period_outcomes_and_project(small_council: tuple[Path, object]) -> None:
    from familymatch.ingest import ingest_project

    out, _ = small_council
    outcomes = pl.read_parquet(out / "truth" / "outcomes.parquet")
    expected = json.loads((out / "truth" / "expected.json").read_text())
    assert outcomes.height == expected["phase1"]["cohort_total"]
    assert set(outcomes["result"].unique().to_list()) <= {"R1", "R3", "none"}
    from datetime import date

    assert outcomes["attached_on"].is_between(date(2012, 7, 1), date(2012, 10, 31)).all()
    project = load_project(out / "familymatch_period2.toml")
    assert project.reference_date.isoformat() == "2013-06-01"
    result = ingest_project(project)
    truth = pl.read_parquet(out / "truth" / "records_period2.parquet")
    assert sorted(result.records["record_id"].to_list()) == sorted(truth["record_id"].to_list())
    r3 = outcomes.filter(pl.col("result") == "R3").height
    assert result.records.filter(pl.col("kind") == "employment").height == r3
