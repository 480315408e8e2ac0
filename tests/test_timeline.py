"""The programme timeline (issue 16 item 1): the synthetic council refreshed every six months
for three years, families attached on the Plymouth profile from the build of the day, outcomes
imported as they arrive and a claim prepared, signed off and submitted at every refresh. Every
planted outcome is checked against the claims made over time."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from familymatch.project import load_project
from familymatch.store import Store, open_store
from fixtures.allocation import fill_allocation
from fixtures.demo_programme import sign_off
from fixtures.generate import generate
from fixtures.timeline import (
    AMOUNTS,
    CLAIM_DATES,
    REFRESHES,
    YEARS,
    project_name,
    records_name,
)
from fixtures.timeline_score import against_truth
from tests.test_claims import run


def attach_from(folder: Path, store: Store, k: int, build: int, planted: pl.DataFrame) -> int:
    """Attach the families the timeline attaches from refresh ``k``'s build; returns how many."""
    p = str(folder / "familymatch.toml")
    template, filled = folder / f"alloc-{k}.csv", folder / f"filled-{k}.csv"
    run("cohort", "allocation", "--out", str(template), "--run", str(build), "-p", p)
    mine = planted.filter(pl.col("build") == k)
    n = fill_allocation(template, filled, store, build, folder / "truth", mine, records_name(k))
    today = REFRESHES[k + 1].isoformat()
    run("attach", str(filled), "-p", p, "--today", today)
    return n


def claim_at(folder: Path, when: date) -> int:
    p = str(folder / "familymatch.toml")
    out = folder / f"claim-{when}.xlsx"
    made = json.loads(
        run("claims", "prepare", "--as-of", str(when), "--out", str(out), "-p", p, "--json")
    )
    on = when + timedelta(days=9)
    run("claims", "submit", str(sign_off(out, on)), "-p", p, "--on", str(on))
    return int(made["run_id"])


def run_timeline(folder: Path) -> dict[str, object]:
    """Build at every refresh, import its extracts as outcomes and claim (from the second), then
    attach the families of the next six months from the build; the figures the test checks."""
    p = str(folder / "familymatch.toml")
    store = open_store(load_project(Path(p)).database_url)
    planted = pl.read_parquet(folder / "truth" / "timeline" / "outcomes.parquet")
    builds: dict[int, int] = {}
    claims: dict[date, int] = {}
    diffs: dict[date, dict[str, int]] = {}
    attached = 0
    for k, when in enumerate(REFRESHES):
        pk = str(folder / project_name(k))
        builds[k] = int(json.loads(run("cohort", "build", "-p", pk, "--json"))["run_id"])
        if k:
            diffs[when] = json.loads(run("cohort", "diff", "-p", p, "--json"))["counts"]
            run("outcomes", "import", pk, "-p", p)
            claims[when] = claim_at(folder, when)
        if planted.filter(pl.col("build") == k).height:
            attached += attach_from(folder, store, k, builds[k], planted)
    return {"store": store, "builds": builds, "claims": claims, "diffs": diffs, "n": attached}


@pytest.mark.slow
def test_programme_timeline_at_scale_0_2(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    generate(folder, scale=0.2, seed=5, timeline=True)
    planted = pl.read_parquet(folder / "truth" / "timeline" / "outcomes.parquet")
    # the Plymouth profile: 206 / 208 / 233 at scale 1
    by_year = dict(planted.group_by("programme_year").len().rows())
    assert by_year == {y: round(n * 0.2) for y, _, _, n in YEARS}
    got = run_timeline(folder)
    store, builds, claims = got["store"], got["builds"], got["claims"]
    assert got["n"] == planted.height  # every planted attachment is a family of its build
    score = against_truth(store, builds, claims, folder)  # type: ignore[arg-type]
    # nothing claimed twice: one claim per family over three years (no family has R1 and R2)
    assert score.claimed["family_ref"].is_unique().all()
    # no attached family is split by our builds (a member placed in another household): the
    # class once seen here, a person known by one record whose address has no postcode, is left
    # unresolved by the address stage (bench/trace_splits.py; 18 such records citywide at the
    # first refresh, none in an attached family). Every planted outcome is claimed exactly:
    # precision and recall 1.0, at the right claim date, amounts to the penny
    assert score.split == set(), score.split
    assert score.wrong.height == 0 and score.missed.height == 0, (score.wrong, score.missed)
    assert score.precision == score.recall == 1.0
    expected, made = score.expected, score.made
    assert expected["result"].n_unique() == 3 and len(set(expected["claim"])) >= 4
    assert made["amount_pence"].sum() == expected["amount_pence"].sum()
    amounts = {a for by in AMOUNTS.values() for a in by.values()}
    assert set(made["amount_pence"]) <= amounts
    assert planted["moved_on"].is_not_null().sum() >= 1  # movers among the attached
    # refreshes: attached families stay attached; families leave the criteria and new ones join
    diffs: dict[date, dict[str, int]] = got["diffs"]  # type: ignore[assignment]
    assert set(diffs) == set(CLAIM_DATES)
    assert any(d["attached"] > d["attached_meet_criteria"] for d in diffs.values())
    assert all(d["new_families"] > 0 for d in diffs.values())


@pytest.fixture(scope="module")
def tiny_timeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("timeline") / "c"
    generate(folder, scale=0.02, seed=3, timeline=True)
    return folder


def test_the_timeline_plants_refreshes_joiners_leavers_and_outcomes(tiny_timeline: Path) -> None:
    truth = tiny_timeline / "truth" / "timeline"
    planted = pl.read_parquet(truth / "outcomes.parquet")
    criteria = pl.read_parquet(truth / "criteria.parquet")
    # a project file, extracts and truth rows for every refresh after the first
    for when in REFRESHES[1:]:
        assert (tiny_timeline / f"familymatch_{when}.toml").is_file()
        assert (tiny_timeline / "timeline" / str(when) / "employment.csv").is_file()
        assert (truth / f"records_{when}.parquet").is_file()
    # the first refresh's true cohort is the generator's (same reference implementation)
    first = criteria.filter(pl.col("refresh") == 0).select("household_id", "criteria")
    households = pl.read_parquet(tiny_timeline / "truth" / "households.parquet")
    assert first.sort("household_id").equals(
        households.filter(pl.col("criteria") != "").select(first.columns).sort("household_id")
    )
    # families leave the cohort and join it between refreshes
    cohort = criteria.filter(pl.col("criteria").str.contains(r"\+"))
    members = [set(cohort.filter(pl.col("refresh") == k)["household_id"]) for k in range(7)]
    assert all(members[k] - members[k + 1] for k in range(1, 6))  # some leave
    assert all(members[k + 1] - members[k] for k in range(1, 6))  # some join
    # every family attached from a build is in that build's true cohort, on the Plymouth profile
    for k, h in planted.select("build", "household_id").rows():
        assert h in members[k]
    by_year = dict(planted.group_by("programme_year").len().rows())
    assert by_year == {y: round(n * 0.02) for y, _, _, n in YEARS}
    # results become claimable after attachment, and are claimed at the next claim date
    for row in planted.iter_rows(named=True):
        if row["claimable_from"] is not None:
            assert row["attached_on"] < row["claimable_from"] <= (row["first_claim"] or date.max)
        if row["first_claim"] is not None:
            assert row["first_claim"] in CLAIM_DATES
            assert row["amount_pence"] == AMOUNTS[row["result"]][row["programme_year"]]


def test_a_timeline_starts_on_the_councils_own_extracts_and_rises(tmp_path: Path) -> None:
    from familymatch.errors import FamilyMatchError

    for dates in ((date(2012, 12, 1), date(2013, 6, 1)), (REFRESHES[0], date(2012, 1, 1))):
        with pytest.raises(FamilyMatchError, match="timeline: the refresh"):
            generate(tmp_path / "c", scale=0.01, seed=1, timeline=dates)
    assert not (tmp_path / "c").exists()  # nothing written
