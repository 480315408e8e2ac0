"""Council profiles (``fixtures generate --profile``): each writes its own conventions, the same
people and cohort as the default, a truth for every record, a gazetteer and a project file."""

from __future__ import annotations

import csv
import dataclasses
import json
import tomllib
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from familymatch.errors import FamilyMatchError
from familymatch.project import SourceSpec
from fixtures.generate import generate
from fixtures.profiles.catalogue import PROFILES
from tests.conftest import shared_folder

SCALE = 0.02
INGEST_READS_PROFILES = "periods" in {f.name for f in dataclasses.fields(SourceSpec)}


@pytest.fixture(scope="module")
def councils(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> dict[str, Path]:
    """Every profile generated once per session (shared by the xdist workers; read only)."""

    def make(folder: Path) -> None:
        for name in ["default", *PROFILES]:
            generate(folder / name, scale=SCALE, seed=42, profile=name)

    folder = shared_folder(tmp_path_factory, worker_id, "profiles", make)
    return {name: folder / name for name in ["default", *PROFILES]}


def header(path: Path, sheet: str | None = None) -> list[str]:
    if path.suffix == ".csv":
        with path.open(encoding="cp1252", newline="") as fh:
            return next(csv.reader(fh))
    if path.suffix == ".parquet":
        return pl.read_parquet_schema(path).names()
    wb = openpyxl.load_workbook(path, read_only=True)
    return [str(c) for c in next(wb[str(sheet)].iter_rows(values_only=True))]


def sources(folder: Path) -> dict[str, dict[str, object]]:
    doc = tomllib.loads((folder / "familymatch.toml").read_text(encoding="utf-8"))
    return {s["name"]: s for s in doc["sources"]}


@pytest.mark.parametrize("name", list(PROFILES))
def test_profile_plants_the_default_cohort_and_people(councils: dict[str, Path], name: str) -> None:
    base = json.loads((councils["default"] / "truth" / "expected.json").read_text())
    mine = json.loads((councils[name] / "truth" / "expected.json").read_text())
    assert mine["profile"] == name
    assert mine["phase1"] == base["phase1"]
    assert mine["phase1"]["cohort_by_combination"] == {
        "crime+education+work": 1,
        "education+work": 8,
        "crime+work": 2,
        "crime+education": 2,
    }
    truth = pl.read_parquet(councils[name] / "truth" / "records.parquet")
    default_people = pl.read_parquet(councils["default"] / "truth" / "records.parquet")
    assert truth["record_id"].n_unique() == truth.height
    assert truth["person_id"].null_count() == 0
    # the same people in the same households as the default city
    both = (
        truth.select("person_id", "household_id")
        .unique()
        .join(default_people.select("person_id", h0="household_id").unique(), on="person_id")
    )
    assert both.height > 500 and (both["household_id"] == both["h0"]).all()
    assert truth.schema["address_id"] == pl.Int64


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_mapped_column_exists_in_its_extract(councils: dict[str, Path], name: str) -> None:
    folder = councils[name]
    for src in sources(folder).values():
        cols = set(header(folder / str(src["path"]), src.get("sheet")))  # type: ignore[arg-type]
        blocks = [src["columns"], *src.get("people", []), *src.get("periods", [])]  # type: ignore[list-item]
        for block in blocks:
            for fld, spec in block.items():  # type: ignore[attr-defined]
                named = [spec] if isinstance(spec, str) else [spec.get("column")]
                named += spec.get("join", []) if isinstance(spec, dict) else []
                for col in [c for c in named if c and fld not in ("role", "label")]:
                    assert col in cols, f"{name} {src['name']}.{fld}: {col}"


@pytest.mark.parametrize("name", list(PROFILES))
def test_gazetteer_lists_every_address_with_the_extracts_uprns(
    councils: dict[str, Path], name: str
) -> None:
    folder = councils[name]
    gaz = pl.read_csv(folder / "lookups" / "gazetteer.csv", infer_schema=False)
    assert gaz.columns == ["UPRN", "SAO", "PAO", "STREET", "LOCALITY", "TOWN", "POSTCODE"]
    assert gaz["UPRN"].n_unique() == gaz.height
    assert gaz["UPRN"].str.len_chars().unique().to_list() == [12]
    truth = pl.read_parquet(folder / "truth" / "records.parquet")
    assert truth["address_id"].max() < gaz.height  # type: ignore[operator]
    doc = tomllib.loads((folder / "familymatch.toml").read_text(encoding="utf-8"))
    assert ("gazetteer" in doc["project"]) == PROFILES[name].gazetteer_in_toml


def test_harbourside_conventions_are_visible(councils: dict[str, Path]) -> None:
    folder = councils["harbourside"]
    src = sources(folder)
    census = src["school_census"]
    assert "postcode" not in census["columns"]  # type: ignore[operator]
    assert [p["label"] for p in census["periods"]] == ["sum11", "aut11", "spr12", "sum12"]  # type: ignore[index]
    cols = header(folder / "extracts" / "census.xlsx", "Pupils")
    assert {"Aut11 Poss", "Spr12 Unauth", "Name"} <= set(cols) and "Term" not in cols
    assert "benefit_dependants" not in src and len(src["benefits"]["people"]) == 2  # type: ignore[arg-type]
    assert src["benefits"]["columns"]["uprn"] == "UPRN"  # type: ignore[index]
    assert not any("uprn" in s["columns"] for n, s in src.items() if n != "benefits")  # type: ignore[operator]
    yos = pl.read_parquet(folder / "extracts" / "yos.parquet")
    assert {"No Further Action", "Not Guilty"} & set(yos["Outcome"])
    truth = pl.read_parquet(folder / "truth" / "records.parquet")
    marked = truth.filter(pl.col("noise").str.contains("not_proven"))
    expected = json.loads((folder / "truth" / "expected.json").read_text())
    assert marked.height == expected["not_proven_offences"] > 0
    assert marked["source"].unique().to_list() == ["youth_offending"]
    assert (
        yos["Outcome"]
        .is_in(["No Further Action", "Not Guilty", "Discontinued (CPS)", "Withdrawn"])
        .sum()
        == marked.height
    )
    # a pupil who moved school appears on two rows of the wide census
    wide = (
        truth.filter(pl.col("source") == "school_census")
        .group_by("person_id")
        .agg(pl.col("row").n_unique())
    )
    assert wide["row"].max() == 2


def test_profiles_are_deterministic_and_unknown_ones_refused(
    councils: dict[str, Path], tmp_path: Path
) -> None:
    generate(tmp_path / "again", scale=SCALE, seed=42, profile="harbourside")
    for f in ("extracts/hb_claims.csv", "extracts/census.xlsx", "truth/records.parquet"):
        assert (tmp_path / "again" / f).read_bytes() == (councils["harbourside"] / f).read_bytes()
    with pytest.raises(FamilyMatchError, match="--profile nowhere: not a profile"):
        generate(tmp_path / "x", scale=SCALE, profile="nowhere")


@pytest.mark.skipif(not INGEST_READS_PROFILES, reason="needs the ingest branch's mapping forms")
@pytest.mark.parametrize("name", list(PROFILES))
def test_ingest_reads_every_profile_without_rejections(
    councils: dict[str, Path], name: str
) -> None:
    from familymatch.ingest import ingest_project
    from familymatch.project import load_project

    result = ingest_project(load_project(councils[name] / "familymatch.toml"))
    assert result.rejects.height == 0, result.rejects.head(5)
    truth = pl.read_parquet(councils[name] / "truth" / "records.parquet")
    assert sorted(result.records["record_id"].to_list()) == sorted(truth["record_id"].to_list())


def uprn_sources(folder: Path) -> set[str]:
    return {n for n, s in sources(folder).items() if "uprn" in s["columns"]}  # type: ignore[operator]


def test_moorland_conventions_are_visible(councils: dict[str, Path]) -> None:
    folder = councils["moorland"]
    src = sources(folder)
    assert uprn_sources(folder) == set(src) - {"benefit_dependants"}
    claims = pl.read_excel(folder / "extracts" / "claims.xlsx", sheet_name="Claim Members")
    assert set(claims["Relationship"]) == {"Claimant", "Partner", "Dependant"}
    assert claims["UPRN"].null_count() == 0 and claims.schema["DOB"].is_numeric()
    assert "Term" in header(folder / "extracts" / "school_census.csv")
    assert "Outcome" not in header(folder / "extracts" / "yot.xlsx", "Offences")


def test_estuary_conventions_are_visible(councils: dict[str, Path]) -> None:
    folder = councils["estuary"]
    src = sources(folder)
    assert src["benefit_dependants"]["kind"] == "population"
    assert uprn_sources(folder) == {"benefits", "school_census"}
    claims = pl.read_csv(
        folder / "extracts" / "benefits.csv", infer_schema=False, encoding="cp1252"
    )
    assert 0.3 < claims["UPRN"].is_not_null().mean() < 0.9  # type: ignore[operator]
    assert claims["Postcode"].str.contains(r"^PL\d+\d[A-Z]{2}$").sum() > 0  # no space
    assert (
        claims["Claimant Name"].str.contains(r"^[A-Z][a-z]+( [A-Z][a-z]+)* [A-Z' -]+$").mean() > 0.9
    )  # type: ignore[operator]
    truth = pl.read_parquet(folder / "truth" / "records.parquet")
    proven = truth.filter(
        pl.col("source") == "youth_offending", ~pl.col("noise").str.contains("not_proven")
    )
    assert truth.filter(pl.col("noise").str.contains("not_proven")).height == proven.height


def test_fenwick_conventions_are_visible(councils: dict[str, Path]) -> None:
    folder = councils["fenwick"]
    assert uprn_sources(folder) == {"benefits", "asb_interventions"}
    src = sources(folder)
    assert [n for n, s in src.items() if "postcode" in s["columns"]] == ["benefits", "exclusions"]  # type: ignore[operator]
    truth = pl.read_parquet(folder / "truth" / "records.parquet")
    habits = {h: truth["noise"].str.contains(h).sum() for h in ("initial_only", "known_as")}
    assert min(habits.values()) > 0, habits
    asb = truth.filter(pl.col("source") == "asb_incidents")
    assert asb["noise"].str.contains("dob_blank").mean() > 0.6  # type: ignore[operator]


def test_clayfield_addresses_come_from_the_address_errors_model(councils: dict[str, Path]) -> None:
    folder = councils["clayfield"]
    assert uprn_sources(folder) == set()
    assert "benefit_dependants" not in sources(folder)
    claims = pl.read_csv(folder / "extracts" / "claims.csv", infer_schema=False)
    assert set(claims["Relationship"]) == {"Claimant", "Partner"}
    truth = pl.read_parquet(folder / "truth" / "records.parquet")
    touched = truth.filter(pl.col("noise").str.contains("ae_"))
    assert touched.height > 0.03 * truth.filter(pl.col("address_id").is_not_null()).height


# What the engine must reach on each profile at scale 0.2 (make test-slow). Issue 13's targets
# at scale 1 are person F1 >= 0.99, household F1 >= 0.98 and every combination of the cohort
# within 2% of the planted count (at 0.2 a combination of 12 households moves 8% per household);
# the bars below are what the engine measured with the ingest, addresses and linkage branches
# merged (2026-11-29, bench/bench_profiles.py --scale 0.2) minus a small margin, so a change that
# helps one profile and hurts another fails. Raise them as the engine improves.
#              person F1  household F1  cohort: most households off in any combination
SLOW_BARS = {
    # person F1 bars measured at scale 0.2 on branch persons (bf72a4b), household bars on branch
    # places; both branches merged, measured again: see docs/status.md; estuary's and fenwick's
    # household and cohort bars raised on branch fenwick (measured 1.0000 / 0 off, 0.9968 / 2 off),
    # clayfield's on branch clayfield (0.2: household F1 0.9933, every combination exact)
    "default": (0.998, 0.9965, 2),
    "harbourside": (0.999, 0.995, 1),
    "moorland": (0.999, 0.998, 1),
    "estuary": (0.998, 0.999, 1),
    "clayfield": (0.9985, 0.992, 1),
    "fenwick": (0.997, 0.995, 3),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW_BARS))
def test_engine_on_each_profile_at_scale_02(tmp_path: Path, name: str) -> None:
    from familymatch.link.evaluate import evaluate_links
    from rules.build import build_cohort

    generate(tmp_path, scale=0.2, seed=42, profile=name)
    result = build_cohort(tmp_path / "familymatch.toml")
    truth = pl.read_parquet(tmp_path / "truth" / "records.parquet")
    scores = evaluate_links(result.linked.membership, truth)
    person, household, off = SLOW_BARS[name]
    assert scores["persons"]["f1"] >= person, scores["persons"]
    assert scores["households"]["f1"] >= household, scores["households"]
    planted = json.loads((tmp_path / "truth" / "expected.json").read_text())["phase1"]
    found = result.summary["cohort"]["by_combination"]
    for combo, n in planted["cohort_by_combination"].items():
        assert abs(found.get(combo, 0) - n) <= off, (combo, found, planted)
