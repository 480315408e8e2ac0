"""The mapping assistant: column guesses on a small crafted extract, and a draft that ingests."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import openpyxl
import polars as pl
from typer.testing import CliRunner

from cli import app
from familymatch.ingest import ingest_project
from familymatch.ingest.inspect import draft_toml, header_field, inspect_file, term_of
from familymatch.project import load_project
from tests.conftest import write

runner = CliRunner()

CLAIMS = (
    "Claim Ref,Claimant,Birth Date,NI Number,Gender,Address 1,Town,Post Code,Benefit,"
    "Claim Start,Claim End,Pupil UPN,Notes\n"
    'C001,"SMITH, John",05/03/74,AB123456C,M,12 High St,Plymouth,PL1 2AB,JSA,5 March 2011,,,\n'
    "C002,Mary JONES,31/12/80,CE654321A,F,3 Low Rd,Plymouth,PL2 3CD,ESA,12 Jan 2012,,,called\n"
    "C003,Ann Lee,1/1/99,JK112233D,F,Flat 2 Rose Ct,Plymouth,PL4 1ZZ,IS,1 Feb 2010,3 Mar 2012,,\n"
    "C004,Tom REES,14/7/01,,M,4 Oak Ave,Plymouth,PL5 6EF,JSA,2 Jan 2012,,,\n"
)


def draft_and_records(tmp_path: Path, file: str, csv: str) -> tuple[str, pl.DataFrame]:
    """The draft for one extract, and the records a project made of that draft ingests."""
    extract = write(tmp_path / file, csv)
    draft = draft_toml(inspect_file(extract, reference=date(2012, 6, 1)), file)
    project = '[project]\nreference_date = "2012-06-01"\n\n' + draft
    result = ingest_project(load_project(write(tmp_path / "familymatch.toml", project)))
    assert result.rejects.height == 0
    return draft, result.records


def test_header_words() -> None:
    assert header_field("Date of Birth") == "dob"
    assert header_field("Unauth Sessions") == "sessions_unauthorised"
    assert header_field("Aut Poss") == "sessions_possible"
    assert header_field("Claimant Forename") == "forename"
    assert header_field("Colour") is None


def test_inspect_guesses_fields_formats_and_fill(tmp_path: Path) -> None:
    found = inspect_file(write(tmp_path / "rb_claims.csv", CLAIMS), reference=date(2012, 6, 1))
    assert found.rows == 4
    assert found.kind == "benefits"
    guesses = {g.column: (g.field, g.reason) for g in found.columns}
    assert guesses == {
        "Claim Ref": ("group_ref", "header"),
        "Claimant": ("name", "values"),
        "Birth Date": ("dob", "header and values"),
        "NI Number": ("nino", "header and values"),
        "Gender": ("sex", "header and values"),
        "Address 1": ("address", "header"),
        "Town": ("address", "header"),
        "Post Code": ("postcode", "header and values"),
        "Benefit": ("event_type", "header"),
        "Claim Start": ("event_date", "header and values"),
        "Claim End": ("end_date", "header and values"),
        "Pupil UPN": ("upn", "header"),
        "Notes": (None, ""),
    }
    by = {g.column: g for g in found.columns}
    assert by["Birth Date"].date is not None and by["Birth Date"].date.format == "dd/mm/yy"
    assert by["Claim Start"].date is not None and by["Claim Start"].date.format == "long"
    assert by["NI Number"].fill == 0.75 and by["Pupil UPN"].fill == 0.0
    assert by["Claimant"].examples == ["SMITH, John", "Mary JONES", "Ann Lee"]


def test_the_draft_block_loads_and_ingests(tmp_path: Path) -> None:
    draft, records = draft_and_records(tmp_path, "rb_claims.csv", CLAIMS)
    assert '# upn = "Pupil UPN"    # empty' in draft
    assert 'address = { join = ["Address 1", "Town"] }' in draft
    assert records.select("forename", "surname", "dob", "event_date").rows() == [
        ("John", "SMITH", date(1974, 3, 5), date(2011, 3, 5)),
        ("Mary", "JONES", date(1980, 12, 31), date(2012, 1, 12)),
        ("Ann", "Lee", date(1999, 1, 1), date(2010, 2, 1)),
        ("Tom", "REES", date(2001, 7, 14), date(2012, 1, 2)),
    ]


def test_sources_inspect_command_xlsx_sheet_header_row_json_and_toml(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "Cover"
    ws = wb.create_sheet("Pupils")
    ws.append(["Census extract"])
    ws.append(["UPN", "Surname", "DOB"])
    ws.append(["A123456789012", "Lee", date(2004, 3, 5)])
    ws.append(["B123456789012", "Fox", "06/04/2005"])
    path = tmp_path / "census.xlsx"
    wb.save(path)
    args = ["sources", "inspect", str(path), "--sheet", "Pupils", "--header-row", "2"]
    out = runner.invoke(app, [*args, "--json", "--no-examples"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["rows"] == 2 and data["kind"] == "school_census"
    assert [(c["column"], c["field"]) for c in data["columns"]] == [
        ("UPN", "upn"),
        ("Surname", "surname"),
        ("DOB", "dob"),
    ]
    assert all("examples" not in c for c in data["columns"])
    assert 'sheet = "Pupils"\nheader_row = 2' in data["draft"]
    draft = tmp_path / "draft.toml"
    assert runner.invoke(app, [*args, "--toml", str(draft)]).exit_code == 0
    assert draft.read_text() == data["draft"]
    again = runner.invoke(app, [*args, "--toml", str(draft)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_a_row_with_two_people_drafts_person_slots(tmp_path: Path) -> None:
    draft, records = draft_and_records(
        tmp_path,
        "claims.csv",
        "Claim Ref,Claimant Forename,Claimant DOB,Partner Forename,Partner DOB,Date of Birth\n"
        "R1,Ann,01/02/1980,Bob,03/04/1981,\n"
        "R2,Cy,05/06/1990,,,\n",
    )
    assert '[[sources.people]]\nrole = "claimant"\nforename = "Claimant Forename"\n' in draft
    assert '[[sources.people]]\nrole = "partner"\nforename = "Partner Forename"\n' in draft
    assert records.select("record_id", "forename", "dob").rows() == [
        ("claims:1:claimant", "Ann", date(1980, 2, 1)),
        ("claims:1:partner", "Bob", date(1981, 4, 3)),
        ("claims:2:claimant", "Cy", date(1990, 6, 5)),
    ]


def test_terms_side_by_side_draft_periods_with_their_terms(tmp_path: Path) -> None:
    draft, records = draft_and_records(
        tmp_path,
        "census.csv",
        "UPN,Pupil Name,Aut11 Poss,Aut11 Unauth,Spr12 Poss,Spr12 Unauth\n"
        "A1,Amy LEE,140,10,120,30\n"
        "B2,Ben FOX,,,110,5\n",
    )
    assert (
        '[[sources.periods]]\nlabel = "Aut11"\nterm = { constant = "2011/12-autumn" }\n'
        'sessions_possible = "Aut11 Poss"\nsessions_unauthorised = "Aut11 Unauth"\n'
    ) in draft
    assert records.select("record_id", "term", "sessions_unauthorised", "surname").rows() == [
        ("census:1:Aut11", "2011/12-autumn", 10, "LEE"),
        ("census:1:Spr12", "2011/12-spring", 30, "LEE"),
        ("census:2:Spr12", "2011/12-spring", 5, "FOX"),
    ]
    assert [term_of(w) for w in ("Sum11", "Spring2012", "autumn_2011", "T1")] == [
        "2010/11-summer",
        "2011/12-spring",
        "2011/12-autumn",
        None,
    ]


def test_a_column_of_mixed_date_formats_drafts_a_list(tmp_path: Path) -> None:
    rows = ["05/03/2004", "06/03/2004", "07/03/2004", "38051", "5 March 2004", "1/2/99"]
    draft, records = draft_and_records(
        tmp_path, "dobs.csv", "Surname,DOB\n" + "".join(f"P{i},{d}\n" for i, d in enumerate(rows))
    )
    assert (
        'dob = { column = "DOB", format = ["dd/mm/yyyy", "dd/mm/yy", "long", "excel"], '
        'century = "past" }'
    ) in draft
    assert records["dob"].to_list() == [
        date(2004, 3, 5),
        date(2004, 3, 6),
        date(2004, 3, 7),
        date(2004, 3, 5),
        date(2004, 3, 5),
        date(1999, 2, 1),
    ]
