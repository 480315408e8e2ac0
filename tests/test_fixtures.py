"""The synthetic council: deterministic, its truth covers every row, planted counts scale."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tomllib
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import openpyxl
import polars as pl
import pytest

from familymatch.errors import FamilyMatchError
from familymatch.standardise import POSTCODE_PATTERN
from fixtures import names
from fixtures.facts import NEAR_MISSES, PLYMOUTH, _scaled
from fixtures.generate import GenerateSummary, generate
from fixtures.noise import _without_flat
from fixtures.population import district_code, district_number
from fixtures.xlsx import column_letter, write_workbook

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "sample"
COMBOS = ["crime+education+work", "education+work", "crime+work", "crime+education"]


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def council(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerateSummary]:
    out = tmp_path_factory.mktemp("council_001")
    return out, generate(out, scale=0.01, seed=42)


def test_same_seed_and_scale_give_byte_identical_files(
    council: tuple[Path, GenerateSummary], tmp_path: Path
) -> None:
    out, _ = council
    generate(tmp_path / "again", scale=0.01, seed=42)
    generate(tmp_path / "other", scale=0.01, seed=43)
    first, again, other = digest(out), digest(tmp_path / "again"), digest(tmp_path / "other")
    assert first == again
    assert len(first) == 34  # 12 + 13 extract files, 2 project files, 2 lookups, 5 truth files
    assert first["extracts/benefits.csv"] != other["extracts/benefits.csv"]
    assert first["extracts/school_census.xlsx"] != other["extracts/school_census.xlsx"]


def test_project_file_parses_and_names_every_extract(
    council: tuple[Path, GenerateSummary],
) -> None:
    out, _ = council
    for toml_name in ("familymatch.toml", "familymatch_period2.toml"):
        doc = tomllib.loads((out / toml_name).read_text(encoding="utf-8"))
        assert doc["project"]["rule_set"] == "phase1"
        assert (out / doc["project"]["postcode_lookup"]).is_file()
        for src in doc["sources"]:
            assert (out / src["path"]).is_file(), src["name"]
    doc = tomllib.loads((out / "familymatch.toml").read_text(encoding="utf-8"))
    assert doc["project"]["reference_date"] == "2012-06-01"
    assert [s["name"] for s in doc["sources"]] == [
        "benefits",
        "benefit_members",
        "school_census",
        "exclusions",
        "alternative_provision",
        "home_education",
        "asb_interventions",
        "asb_incidents",
        "youth_offending",
        "social_care",
        "domestic_abuse",
        "health",
        "neet",
        "discretionary",
    ]
    census = next(s for s in doc["sources"] if s["name"] == "school_census")
    assert (census["sheet"], census["header_row"]) == ("Census", 3)
    period2 = tomllib.loads((out / "familymatch_period2.toml").read_text(encoding="utf-8"))
    assert period2["project"]["reference_date"] == "2013-06-01"
    assert period2["sources"][-1]["kind"] == "employment"


@pytest.mark.skipif(
    importlib.util.find_spec("familymatch.project") is None, reason="project loader not built"
)
def test_project_loader_accepts_both_project_files(council: tuple[Path, GenerateSummary]) -> None:
    from familymatch.project import load_project

    out, _ = council
    project = load_project(out / "familymatch.toml")
    assert project.reference_date == date(2012, 6, 1)
    assert all(s.path.is_file() for s in project.sources)
    assert len(project.sources) == 14
    assert load_project(out / "familymatch_period2.toml").reference_date == date(2013, 6, 1)


def test_planted_counts_scale_and_match_expected(council: tuple[Path, GenerateSummary]) -> None:
    out, summary = council
    expected = json.loads((out / "truth" / "expected.json").read_text())
    # scale 0.01: 60, 405, 82, 98 scaled and rounded, at least one of each
    assert expected["phase1"]["cohort_by_combination"] == {
        "crime+education+work": 1,
        "education+work": 4,
        "crime+work": 1,
        "crime+education": 1,
    }
    assert expected["phase1"]["cohort_total"] == 7
    assert summary.combinations == expected["phase1"]["cohort_by_combination"]
    assert summary.households == 1100 and expected["households"] == 1100
    households = pl.read_parquet(out / "truth" / "households.parquet")
    assert households.height == 1100
    counts = dict(households.group_by("criteria").len().iter_rows())
    for combo in COMBOS:
        assert counts[combo] == expected["phase1"]["cohort_by_combination"][combo]
    for one in ("crime", "education", "work"):
        assert counts[one] == expected["phase1"]["one_criterion"][one]
    # 7, 18, 90 planted, plus the near-misses, which each meet one criterion
    assert expected["phase1"]["one_criterion"] == {"crime": 7, "education": 20, "work": 94}
    planted = households.filter(pl.col("planted").is_in(COMBOS))
    assert (planted["planted"] == planted["criteria"]).all()
    background = households.filter(pl.col("planted") == "")
    assert (background["criteria"] == "").all()


def test_scaled_counts() -> None:
    assert [_scaled(n, 1.0) for n in PLYMOUTH.values()] == [60, 405, 82, 98]
    assert [_scaled(n, 10.0) for n in PLYMOUTH.values()] == [600, 4050, 820, 980]
    assert [_scaled(n, 0.01) for n in PLYMOUTH.values()] == [1, 4, 1, 1]
    assert _scaled(20, 0.001) == 1


def test_near_misses_meet_only_their_other_criterion(
    council: tuple[Path, GenerateSummary],
) -> None:
    out, _ = council
    expected = json.loads((out / "truth" / "expected.json").read_text())
    near = expected["near_misses"]
    assert sorted(n["kind"] for n in near) == sorted(
        k.removeprefix("near_miss:") for k in NEAR_MISSES
    )
    assert all(n["reason"] for n in near)
    households = dict(
        pl.read_parquet(out / "truth" / "households.parquet")
        .select("household_id", "criteria")
        .iter_rows()
    )
    for n in near:
        assert (
            households[n["household_id"]] == n["meets"] == NEAR_MISSES[f"near_miss:{n['kind']}"][0]
        )


def test_truth_covers_every_accepted_row_and_lists_the_rejects(
    council: tuple[Path, GenerateSummary],
) -> None:
    out, summary = council
    truth = pl.read_parquet(out / "truth" / "records.parquet")
    assert truth.columns == [
        "source",
        "row",
        "role",
        "record_id",
        "person_id",
        "household_id",
        "noise",
        "address_id",
    ]
    assert truth["record_id"].n_unique() == truth.height == summary.records
    # the address a record's text describes; none where a source writes no address text
    no_address = truth.filter(pl.col("address_id").is_null())["source"].unique().sort()
    assert no_address.to_list() == ["benefit_members", "exclusions"]
    assert truth.select(pl.col("person_id", "household_id").null_count()).row(0) == (0, 0)
    expected = json.loads((out / "truth" / "expected.json").read_text())
    rejects = expected["rejected_rows"]
    assert sorted({r["source"] for r in rejects}) == ["exclusions", "school_census"]
    assert len(rejects) == 6
    assert {r["reason"] for r in rejects} == {
        "Start Date is 2011-02-31, an impossible date",
        "Authorised Absence is 'n/a', not a number",
    }
    # every data row of a single-person CSV is either in the truth or a planted reject
    for source in ("exclusions", "benefit_members", "health", "discretionary"):
        frame = pl.read_csv(out / "extracts" / f"{source}.csv", infer_schema=False)
        rows = set(truth.filter(pl.col("source") == source)["row"].to_list())
        bad = {r["row"] for r in rejects if r["source"] == source}
        assert rows | bad == set(range(1, frame.height + 1)), source
        assert not rows & bad
    # benefits: one row per claim, claimant and partner records from one row
    claims = pl.read_csv(out / "extracts" / "benefits.csv", encoding="cp1252", infer_schema=False)
    ben = truth.filter(pl.col("source") == "benefits")
    assert ben.filter(pl.col("role") == "claimant").height == claims.height
    with_partner = claims.filter(pl.col("Partner Forename").is_not_null()).height
    assert ben.filter(pl.col("role") == "partner").height == with_partner


@pytest.mark.skipif(
    importlib.util.find_spec("familymatch.ingest") is None, reason="ingest not built"
)
def test_ingest_reads_exactly_the_truth(council: tuple[Path, GenerateSummary]) -> None:
    from familymatch.ingest import ingest_project
    from familymatch.project import load_project

    out, _ = council
    result = ingest_project(load_project(out / "familymatch.toml"))
    truth = pl.read_parquet(out / "truth" / "records.parquet")
    assert sorted(result.records["record_id"].to_list()) == sorted(truth["record_id"].to_list())
    expected = json.loads((out / "truth" / "expected.json").read_text())
    assert sorted(set(result.rejects.select("source", "row").rows())) == sorted(
        (r["source"], r["row"]) for r in expected["rejected_rows"]
    )
    # the census carries the summer 2011/12 term, which is not yet available at R
    census = result.records.filter(pl.col("source") == "school_census")
    assert sorted(census["term"].unique().to_list()) == [
        "2010/11-summer",
        "2011/12-autumn",
        "2011/12-spring",
        "2011/12-summer",
    ]
    assert census["dob"].null_count() < census.height * 0.05
    # the summer-only near miss: 15% or more only when the unavailable term is counted
    near = next(
        n["household_id"] for n in expected["near_misses"] if n["kind"] == "absence_summer_only"
    )
    child = census.join(truth.select("record_id", "household_id"), on="record_id").filter(
        pl.col("household_id") == near
    )
    rate = child.group_by(pl.col("term") == "2011/12-summer").agg(
        pl.col("sessions_unauthorised").sum() / pl.col("sessions_possible").sum()
    )
    by_term = dict(rate.iter_rows())
    assert by_term[True] >= 0.15 > by_term[False]


def test_second_period_outcomes(council: tuple[Path, GenerateSummary]) -> None:
    out, _ = council
    outcomes = pl.read_parquet(out / "truth" / "outcomes.parquet")
    expected = json.loads((out / "truth" / "expected.json").read_text())
    assert outcomes.columns == ["household_id", "attached_on", "result", "reason"]
    assert outcomes.height == expected["phase1"]["cohort_total"]
    assert set(outcomes["result"].unique().to_list()) <= {"R1", "R3", "none"}
    assert outcomes["reason"].null_count() == 0
    assert outcomes["attached_on"].is_between(date(2012, 7, 1), date(2012, 10, 31)).all()
    truth2 = pl.read_parquet(out / "truth" / "records_period2.parquet")
    r3 = outcomes.filter(pl.col("result") == "R3").height
    assert truth2.filter(pl.col("source") == "employment").height == r3


def test_outputs_are_owner_only(council: tuple[Path, GenerateSummary]) -> None:
    out, _ = council
    for path in [out, *out.rglob("*")]:
        mode = os.stat(path).st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_committed_sample_is_what_the_generator_writes(tmp_path: Path) -> None:
    generate(tmp_path / "s", scale=0.002, seed=2012)
    assert digest(tmp_path / "s") == digest(SAMPLE)
    truth = pl.read_parquet(SAMPLE / "truth" / "records.parquet")
    assert 300 <= truth.height <= 600  # a few hundred rows in all


@pytest.mark.parametrize("scale", [0.0, -1.0, 25.0])
def test_scale_out_of_range_is_refused(tmp_path: Path, scale: float) -> None:
    with pytest.raises(FamilyMatchError, match="--scale"):
        generate(tmp_path / "x", scale=scale)
    assert not (tmp_path / "x").exists()


def test_name_lists_are_weighted_uk_names() -> None:
    for pool in (names.MALE_ADULT, names.MALE_CHILD, names.FEMALE_ADULT, names.FEMALE_CHILD):
        assert 100 <= len(pool.names) <= 300
        assert abs(pool.weights.sum() - 1.0) < 1e-9
    assert len(names.SURNAMES.names) >= 250
    assert names.SURNAMES.names[0] == "SMITH" and names.MALE_ADULT.names[0] == "DAVID"
    assert "OLIVIA" not in set(names.FEMALE_ADULT.names)  # a children's-generation name
    rng = np.random.default_rng(1)
    drawn = names.pick_names(rng, names.SURNAMES, 10_000, tail_share=0.25)
    share_smith = float((drawn == "SMITH").mean())
    assert 0.03 < share_smith < 0.07  # popularity-weighted
    tail = set(drawn.tolist()) - set(names.SURNAMES.names.tolist())
    assert len(tail) > 500  # invented long tail


def test_flat_dropped_from_an_address() -> None:
    assert _without_flat("Flat 3, Mayflower Court, 12 Hoe Road") == "Mayflower Court, 12 Hoe Road"
    assert _without_flat("Flt 3 Mayflower Court 12 Hoe Rd") == "Mayflower Court 12 Hoe Rd"


def test_xlsx_writer_round_trips_and_is_reproducible(tmp_path: Path) -> None:
    assert [column_letter(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]
    sheets = [
        (
            "Census",
            ["Name", "DOB", "N", "X"],
            [["Zoë & <Co>", date(2001, 2, 3), 7, 1.5]],
            ["Title", ""],
        ),
        ("Other", ["A"], [[None], ["b"]], []),
    ]
    write_workbook(tmp_path / "a.xlsx", sheets)  # type: ignore[arg-type]
    write_workbook(tmp_path / "b.xlsx", sheets)  # type: ignore[arg-type]
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    assert zipfile.ZipFile(tmp_path / "a.xlsx").testzip() is None
    wb = openpyxl.load_workbook(tmp_path / "a.xlsx")
    assert wb.sheetnames == ["Census", "Other"]
    rows = list(wb["Census"].iter_rows(values_only=True))
    assert rows[0][0] == "Title" and rows[2] == ("Name", "DOB", "N", "X")
    assert rows[3][0] == "Zoë & <Co>" and rows[3][1].date() == date(2001, 2, 3)  # type: ignore[union-attr]
    assert rows[3][2:] == (7, 1.5)
    frame = pl.read_excel(tmp_path / "a.xlsx", sheet_name="Census", read_options={"header_row": 2})
    assert frame["DOB"].to_list() == [date(2001, 2, 3)]
    with pytest.raises(TypeError, match="cannot write"):
        write_workbook(tmp_path / "c.xlsx", [("S", ["A"], [[object()]], [])])


def test_truth_names_the_address_each_row_writes_and_the_gazetteer_lists_it(
    council: tuple[Path, GenerateSummary],
) -> None:
    out, _ = council
    truth = pl.read_parquet(out / "truth" / "records.parquet")
    # a postcode only (exclusions) or no address at all (dependants) is no address
    no_text = truth.filter(pl.col("source").is_in(["benefit_members", "exclusions"]))
    assert no_text.height > 0 and no_text["address_id"].null_count() == no_text.height
    with_text = truth.filter(~pl.col("source").is_in(["benefit_members", "exclusions"]))
    assert with_text["address_id"].null_count() == 0
    gazetteer = pl.read_csv(out / "lookups" / "gazetteer.csv", infer_schema_length=0)
    assert gazetteer.columns == ["UPRN", "SAO", "PAO", "STREET", "LOCALITY", "TOWN", "POSTCODE"]
    uprns = set(gazetteer["UPRN"].cast(pl.Int64).to_list())
    assert {100_040_000_000 + a for a in with_text["address_id"].unique()} <= uprns


def test_set_gazetteer_names_the_gazetteer_or_leaves_it_out(
    council: tuple[Path, GenerateSummary], tmp_path: Path
) -> None:
    from familymatch.project import load_project
    from fixtures.profiles.addresses import set_gazetteer

    out, _ = council
    toml = tmp_path / "familymatch.toml"
    toml.write_text((out / "familymatch.toml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "lookups").mkdir()
    set_gazetteer(toml, on=True)
    spec = load_project(toml).gazetteer
    assert spec is not None and spec.path.name == "gazetteer.csv"
    assert spec.columns["address"].join == ("SAO", "PAO", "STREET", "LOCALITY", "TOWN")
    set_gazetteer(toml, on=False)
    assert load_project(toml).gazetteer is None


def test_postcode_districts_past_99_are_uk_postcodes_of_the_next_area() -> None:
    """Scale 20 needs 166 districts: "PL100" to "PL166" are no postcodes (the address stage
    resolved none of their 1.16M records and 432 crime+education families were split)."""
    codes = [district_code(d) for d in range(1, 8 * 99 + 1)]
    assert codes[0] == "PL1" and codes[98] == "PL99" and codes[99] == "TQ1"
    assert codes[165] == "TQ67" and codes[-1] == "BS99"
    units = pl.Series([f"{c} 1AB" for c in codes])
    assert units.str.contains(POSTCODE_PATTERN).all()
    assert units.n_unique() == 792
    number = pl.DataFrame({"c": codes}).select(district_number(pl.col("c")))
    assert number.to_series().to_list() == list(range(1, 793))
    with pytest.raises(ValueError, match="793 postcode districts"):
        district_code(793)
