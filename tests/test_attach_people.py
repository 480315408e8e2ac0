"""`attach FILE --match-people`: rows naming the lead adult are linked to the build with the
build's own model; weak and ambiguous rows are refused row by row (never naming the person),
nothing is recorded unless every row is resolved or skipped."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from claims.match_people import decide_rows, family_scores
from claims.records import cohort_families, read_attachments
from cli import app
from familymatch.project import load_project
from familymatch.store import open_store, read_table
from familymatch.store import schema as s

runner = CliRunner()
SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "sample"
HEADER = "Forename,Surname,Date of birth,Address,Postcode,Key worker,Team,Attached on,Skip\n"


def people(rows: list[tuple[int, bool, str | None, date | None]]) -> pl.DataFrame:
    """source_row, skip, forename, surname, dob (what decide_rows reads)."""
    return pl.DataFrame(
        [(n, skip, name, "SMITH" if name else None, dob) for n, skip, name, dob in rows],
        schema={
            "source_row": pl.Int64,
            "skip": pl.Boolean,
            "forename": pl.String,
            "surname": pl.String,
            "dob": pl.Date,
        },
        orient="row",
    )


def test_family_scores_take_each_familys_best_pair() -> None:
    pairs = pl.DataFrame(
        {
            "record_id_l": ["build|b:1", "attach:1", "build|b:3", "attach:2", "build|b:1"],
            "record_id_r": ["attach:1", "build|b:2", "attach:1", "build|b:3", "build|b:2"],
            "stage": ["fs", "fs", "rule:twins", "fs", "fs"],
            "match_weight": [12.0, 3.0, 14.0, -2.0, 20.0],
            "linked": [True, False, False, False, True],
        }
    )
    families = pl.DataFrame(
        {"record_id": ["build|b:1", "build|b:2", "build|b:3"], "family_ref": ["F1", "F1", "F2"]}
    )
    scores = family_scores(pairs, families)
    # a pair a rule kept apart is scored but not linked; build-to-build pairs are ignored
    assert scores.rows() == [
        ("attach:1", "F2", 14.0, False),
        ("attach:1", "F1", 12.0, True),
        ("attach:2", "F2", -2.0, False),
    ]


def test_rows_are_found_weak_ambiguous_skipped_or_incomplete() -> None:
    scores = pl.DataFrame(
        [
            ("attach:1", "F1", 25.0, True),
            ("attach:1", "F2", 12.0, True),
            ("attach:2", "F3", 22.0, True),
            ("attach:2", "F4", 19.5, True),
            ("attach:3", "F5", 4.0, False),
        ],
        schema=["record_id", "family_ref", "weight", "linked"],
        orient="row",
    )
    dob = date(1980, 1, 1)
    rows = people(
        [(1, False, "ANN", dob), (2, False, "ANN", dob), (3, False, "ANN", dob)]
        + [(4, False, "ANN", dob), (5, True, None, None), (6, False, "ANN", None)]
    )
    decided = decide_rows(rows, scores, margin=5.0)
    assert decided.rows.select("source_row", "family_ref", "status").rows() == [
        (1, "F1", "found"),
        (2, None, "ambiguous"),
        (3, None, "weak"),
        (4, None, "weak"),
        (5, None, "skipped"),
        (6, None, "incomplete"),
    ]
    assert decided.problems == [
        "row 2: the lead adult matches families F3 (weight 22.0) and F4 (weight 19.5), within 5 "
        "of each other; give the family reference instead, or skip the row.",
        "row 3: no family matches the lead adult well enough (best match weight 4.0, below the "
        "build's link threshold); check the details or skip the row.",
        "row 4: no family matches the lead adult well enough (nothing near the build's link "
        "threshold); check the details or skip the row.",
        "row 6: needs the lead adult's forename, surname and a date of birth (dd/mm/yyyy), or "
        "'yes' in the skip column.",
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("people") / "c"
    shutil.copytree(SAMPLE, out)
    result = runner.invoke(app, ["cohort", "build", "-p", str(out / "familymatch.toml"), "--json"])
    assert result.exit_code == 0, result.output
    return out


def lead_adults(folder: Path, n: int) -> list[tuple[str, dict[str, object]]]:
    """(family_ref, the benefit claimant's record) of ``n`` cohort families."""
    store = open_store(load_project(folder / "familymatch.toml").database_url)
    cohort = cohort_families(store, 1)
    records = read_table(store, s.records, 1).filter(pl.col("kind") == "benefits")
    members = read_table(store, s.membership, 1).join(records, on="record_id")
    found = members.join(cohort.select("family_ref", "household_id"), on="household_id")
    adults = found.filter(pl.col("role") == "claimant").unique("family_ref").sort("family_ref")
    return [(r["family_ref"], r) for r in adults.head(n).iter_rows(named=True)]


def quoted(a: dict[str, object], b: dict[str, object], dob_a: str, dob_b: str) -> list[str]:
    """The rows, fields separated by |: the team's own spelling for b (surname upper case, a
    slip in the forename, no postcode), someone the build never saw, a skipped row."""
    return [
        f"{a['forename']}|{a['surname']}|{dob_a}|{a['address']}|{a['postcode']}|KW1|T1|02/07/2012|",
        f"{str(b['forename'])[:-1]}x|{str(b['surname']).upper()}|{dob_b}|{b['address']}||KW2||"
        "03/07/2012|",
        "Zebedee|Quartermaine|01/01/1950|1 Nowhere Lane|ZZ9 9ZZ|KW3||04/07/2012|",
        "junk||||||||yes",
    ]


def test_attach_by_person_details_records_only_when_every_row_is_resolved(
    built: Path, tmp_path: Path
) -> None:
    p = str(built / "familymatch.toml")
    (ref_a, a), (ref_b, b) = lead_adults(built, 2)
    dob_a = a["dob"].strftime("%d/%m/%Y")  # type: ignore[union-attr]
    dob_b = b["dob"].strftime("%d/%m/%Y")  # type: ignore[union-attr]
    good = [
        f"{a['forename']},{a['surname']},{dob_a},{a['address']},{a['postcode']},KW1,T1,02/07/2012,",
        # the team's own spelling: surname upper case, a slip in the forename, no postcode
        f"{str(b['forename'])[:-1]}x,{str(b['surname']).upper()},{dob_b},{b['address']},,KW2,,"
        "03/07/2012,",
        "Zebedee,Quartermaine,01/01/1950,1 Nowhere Lane,ZZ9 9ZZ,KW3,,04/07/2012,",
        "junk,,,,,,,,yes",
    ]
    path = tmp_path / "caselist.csv"
    path.write_text(HEADER + "\n".join(good) + "\n")
    assert "row 1: row has" in " ".join(
        runner.invoke(app, ["attach", str(path), "--match-people", "-p", p]).output.split()
    )  # an address with a comma, unquoted: the row is named, never dropped
    good = [",".join(f'"{v}"' for v in row.split("|")) for row in quoted(a, b, dob_a, dob_b)]
    path.write_text(HEADER + "\n".join(good) + "\n")
    result = runner.invoke(
        app, ["attach", str(path), "--match-people", "-p", p, "--today", "2013-01-01"]
    )
    out = " ".join(result.output.split())
    assert result.exit_code == 2, out
    assert "caselist.csv row 3: no family matches the lead adult well enough" in out
    assert "1 problem(s) found; nothing was recorded" in out
    store = open_store(load_project(Path(p)).database_url)
    assert read_attachments(store).height == 0
    # the person's details never appear in what is printed
    for value in (a["surname"], b["surname"], "Quartermaine", dob_a, a["postcode"]):
        assert str(value) not in result.output
    assert ref_a in out and ref_b in out  # the families found, with their weights

    # the unknown person skipped: both families are attached from their rows
    good[2] = good[2].removesuffix('""') + '"yes"'
    path.write_text(HEADER + "\n".join(good) + "\n")
    result = runner.invoke(
        app, ["attach", str(path), "--match-people", "-p", p, "--today", "2013-01-01"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "attached 2 families" in result.output and "2 rows left blank or skipped" in result.output
    )
    recorded = read_attachments(store).sort("family_ref")
    assert recorded.select("family_ref", "key_worker", "attached_on").rows() == sorted(
        [(ref_a, "KW1", date(2012, 7, 2)), (ref_b, "KW2", date(2012, 7, 3))]
    )
    # the same rows again: the families are already attached, nothing more is recorded
    again = runner.invoke(
        app, ["attach", str(path), "--match-people", "-p", p, "--today", "2013-01-01"]
    )
    assert again.exit_code == 2 and "was already attached on 2012-07-02" in " ".join(
        again.output.split()
    )
    assert read_attachments(store).height == 2


def test_person_details_file_without_a_needed_column(built: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("Forename,Surname,Key worker,Attached on\nA,B,KW,01/08/2012\n")
    result = runner.invoke(
        app, ["attach", str(path), "--match-people", "-p", str(built / "familymatch.toml")]
    )
    assert result.exit_code == 2
    assert "person-details file bad.csv: no 'dob' column" in " ".join(result.output.split())


def test_person_details_template_is_the_layout_attach_reads(built: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from claims.match_people import PEOPLE_COLUMNS, read_people

    p = str(built / "familymatch.toml")
    for name in ("people.csv", "people.xlsx"):
        result = runner.invoke(
            app, ["cohort", "allocation", "--people", "--out", str(tmp_path / name), "-p", p]
        )
        assert result.exit_code == 0 and "person-details template" in result.output
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "people.csv").read_text().strip() == ",".join(PEOPLE_COLUMNS)
    ws = load_workbook(tmp_path / "people.xlsx")["People"]
    assert tuple(c.value for c in ws[1]) == PEOPLE_COLUMNS
    filled = tmp_path / "filled.csv"
    filled.write_text(",".join(PEOPLE_COLUMNS) + "\nAnn,Smith,1980-01-31,,,KW,,02/07/2012,\n")
    read = read_people(filled)
    assert read.select("forename", "dob", "attached_on", "skip").rows() == [
        ("Ann", date(1980, 1, 31), date(2012, 7, 2), False)
    ]
