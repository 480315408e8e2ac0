"""Ingest: encodings, layouts, mappings, and every bad input rejected with a reason."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from familymatch.errors import InputFileError
from familymatch.ingest import ingest_project, write_rejects
from familymatch.project import load_project
from tests.conftest import write

HEAD = """
[project]
reference_date = "2012-06-01"
"""


def project(tmp_path: Path, source_toml: str) -> Path:
    return write(tmp_path / "familymatch.toml", HEAD + source_toml)


CSV_SOURCE = """
[[sources]]
name = "ben"
kind = "benefits"
path = "ben.csv"
{extra}
[sources.columns]
forename = "First"
surname = "Last"
dob = {{ column = "DOB", format = "dd/mm/yyyy" }}
event_type = "Benefit"
"""


def run(tmp_path: Path, source: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    result = ingest_project(load_project(project(tmp_path, source)))
    return result.records, result.rejects


def test_utf8_bom_cp1252_and_crlf(tmp_path: Path) -> None:
    rows = "First,Last,DOB,Benefit\r\nRenée,Smith,01/02/1980,JSA\r\nTom,Jones,03/04/1990,ESA\r\n"
    for encoding in ("utf-8", "utf-8-sig", "cp1252"):
        (tmp_path / "ben.csv").write_bytes(rows.encode(encoding))
        records, rejects = run(tmp_path, CSV_SOURCE.format(extra=""))
        assert records["forename"].to_list() == ["Renée", "Tom"], encoding
        assert records["record_id"].to_list() == ["ben:1", "ben:2"]
        assert records["dob"].to_list() == [date(1980, 2, 1), date(1990, 4, 3)]
        assert rejects.height == 0


def test_header_row_quotes_newlines_blank_and_ragged_rows(tmp_path: Path) -> None:
    text = (
        "Benefits extract\n"
        "produced 2012\n"
        "First,Last,DOB,Benefit\n"
        '"Mary\nAnn","O\'Brien ""Mo""",01/02/1980,JSA\n'
        "\n"
        "Tom,Jones,03/04/1990,ESA,EXTRA\n"
        "Sam,Hill,05/06/1985,IS\n"
    )
    write(tmp_path / "ben.csv", text)
    records, rejects = run(tmp_path, CSV_SOURCE.format(extra="header_row = 3"))
    assert records["record_id"].to_list() == ["ben:1", "ben:4"]
    assert records["forename"][0] == "Mary\nAnn"
    assert records["surname"][0] == 'O\'Brien "Mo"'
    assert rejects.rows() == [("ben", 3, None, "row has 5 fields but the header has 4")]


def test_bad_cells_reject_the_row_and_keep_the_others(tmp_path: Path) -> None:
    long_name = "A" * 10_000
    write(
        tmp_path / "ben.csv",
        "First,Last,DOB,Benefit\n"
        "Ann,Lee,31/02/2012,JSA\n"
        "Bob,Ray,01/02/85,JSA\n"
        f"{long_name},Ray,01/02/1985,JSA\n"
        "Cy,Day,01/01/2099,JSA\n"
        "Di,Old,01/01/1850,JSA\n"
        "=cmd|' /C calc'!A0,Fox,02/03/2001,JSA\n",
    )
    records, rejects = run(tmp_path, CSV_SOURCE.format(extra=""))
    assert records["record_id"].to_list() == ["ben:6"]
    assert records["forename"].to_list() == ["=cmd|' /C calc'!A0"]
    reasons = {(r[1], r[2]): r[3] for r in rejects.rows()}
    assert reasons[(1, "DOB")].startswith("not a valid date")
    assert reasons[(2, "DOB")].startswith("two-digit year")
    assert reasons[(3, "First")] == "cell longer than 1000 characters"
    assert reasons[(4, "DOB")] == "date of birth is in the future"
    assert reasons[(5, "DOB")] == "date of birth is before 1900"
    # reasons never repeat the personal value
    assert not any("31/02" in r or "Ann" in r for r in rejects["reason"].to_list())


def test_rejects_file_is_owner_only(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        rej = pl.DataFrame({"source": ["s"], "row": [1], "column": ["c"], "reason": ["r"]})
        out = write_rejects(rej, tmp_path / "rejects.csv")
    finally:
        os.umask(old)
    assert os.stat(out).st_mode & 0o777 == 0o600


MULTI = """
[[sources]]
name = "claims"
kind = "benefits"
path = "claims.csv"
[sources.columns]
group_ref = "Ref"
address = { join = ["A1", "A2", "Town"] }
event_type = { column = "Type", map = { "Jobseekers" = "JSA" } }
event_date = { column = "Start", format = ["iso", "dd-mon-yyyy"] }
[[sources.people]]
role = "claimant"
name = { column = "Claimant", order = "surname_first" }
dob = { column = "C DOB", format = "dd/mm/yyyy" }
[[sources.people]]
role = "partner"
name = { column = "Partner", order = "forename_first" }
dob = { column = "P DOB", format = "dd/mm/yyyy" }
"""


def test_one_row_several_people_name_split_join_map(tmp_path: Path) -> None:
    write(
        tmp_path / "claims.csv",
        "Ref,Claimant,C DOB,Partner,P DOB,A1,A2,Town,Type,Start\n"
        'R1,"SMITH, John Paul",01/02/1980,Jane Ann Smith,03/04/1982,12 Hoe Rd,,Plymouth,Jobseekers,2011-05-01\n'
        'R2,"BROWN, Amy",05/06/1990,,,Flat 2,3 Drake St,Plymouth,ESA,07-Mar-2010\n',
    )
    records, rejects = run(tmp_path, MULTI)
    assert rejects.height == 0
    assert records["record_id"].to_list() == [
        "claims:1:claimant",
        "claims:1:partner",
        "claims:2:claimant",
    ]
    assert records.select("forename", "middle_names", "surname").rows() == [
        ("John", "Paul", "SMITH"),
        ("Jane", "Ann", "Smith"),
        ("Amy", None, "BROWN"),
    ]
    assert records["address"].to_list() == [
        "12 Hoe Rd, Plymouth",
        "12 Hoe Rd, Plymouth",
        "Flat 2, 3 Drake St, Plymouth",
    ]
    assert records["event_type"].to_list() == ["JSA", "JSA", "ESA"]
    assert records["event_date"].to_list() == [date(2011, 5, 1), date(2011, 5, 1), date(2010, 3, 7)]
    assert records["group_ref"].to_list() == ["R1", "R1", "R2"]
    assert records["role"].to_list() == ["claimant", "partner", "claimant"]


XLSX = """
[[sources]]
name = "census"
kind = "school_census"
path = "census.xlsx"
sheet = "Census"
header_row = 4
[sources.columns]
forename = "Forename"
surname = "Surname"
dob = { column = "DOB", format = "dd/mm/yyyy" }
sessions_possible = "Possible"
event_date = { column = "Serial", format = "excel" }
"""


def make_xlsx(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Census"
    ws["A1"] = "School census extract"
    ws.merge_cells("A1:E1")
    ws["A2"] = "Synthetic City"
    ws.append([])
    ws.append(["Forename", "Surname", "DOB", "Possible", "Serial"])
    ws.append(["Ann", "Lee", date(2004, 5, 6), 140, "40909"])
    ws.append(["Bob", "Ray", "07/08/2005", "n/a", 40910])
    wb.create_sheet("Other")
    wb.save(path)


def test_xlsx_header_on_row_4_dates_serials_and_bad_number(tmp_path: Path) -> None:
    make_xlsx(tmp_path / "census.xlsx")
    records, rejects = run(tmp_path, XLSX)
    assert records.select(
        "record_id", "forename", "dob", "sessions_possible", "event_date"
    ).rows() == [
        ("census:1", "Ann", date(2004, 5, 6), 140, date(2012, 1, 1)),
    ]
    assert rejects.rows() == [("census", 2, "Possible", "not a whole number of sessions")]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "the file does not exist"),
        (lambda p: p.write_bytes(b""), "the file is empty"),
        (
            lambda p: p.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 600),
            "is password-protected or not an .xlsx workbook",
        ),
        (
            lambda p: p.write_bytes(b"PK\x03\x04 this is not a real zip"),
            "is not an .xlsx workbook (corrupt or truncated)",
        ),
    ],
)
def test_unusable_xlsx(tmp_path: Path, setup: object, message: str) -> None:
    setup(tmp_path / "census.xlsx")  # type: ignore[operator]
    with pytest.raises(
        InputFileError, match=re.escape(f"source 'census' (census.xlsx): {message}")
    ):
        run(tmp_path, XLSX)


def test_truncated_xlsx_and_wrong_sheet(tmp_path: Path) -> None:
    make_xlsx(tmp_path / "census.xlsx")
    data = (tmp_path / "census.xlsx").read_bytes()
    (tmp_path / "census.xlsx").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match="corrupt or truncated"):
        run(tmp_path, XLSX)
    make_xlsx(tmp_path / "census.xlsx")
    with pytest.raises(InputFileError, match=r"has no sheet 'Pupils' \(sheets: Census, Other\)"):
        run(tmp_path, XLSX.replace('sheet = "Census"', 'sheet = "Pupils"'))


def test_missing_column_duplicate_header_header_only(tmp_path: Path) -> None:
    write(tmp_path / "ben.csv", "First,Surname,DOB,Benefit\nA,B,01/01/2000,JSA\n")
    with pytest.raises(InputFileError, match=r"mapped column 'Last' is not in the file's header"):
        run(tmp_path, CSV_SOURCE.format(extra=""))
    write(tmp_path / "ben.csv", "First,Last,Last,DOB,Benefit\nA,B,C,01/01/2000,JSA\n")
    with pytest.raises(InputFileError, match=r"the header has column 'Last' twice"):
        run(tmp_path, CSV_SOURCE.format(extra=""))
    write(tmp_path / "ben.csv", "First,Last,DOB,Benefit\n")
    records, rejects = run(tmp_path, CSV_SOURCE.format(extra=""))
    assert records.height == 0 and rejects.height == 0


def test_parquet_source(tmp_path: Path) -> None:
    pl.DataFrame({"fn": ["Ann"], "sn": ["Lee"], "born": [date(2001, 2, 3)]}).write_parquet(
        tmp_path / "y.parquet"
    )
    src = """
[[sources]]
name = "yos"
kind = "youth_offending"
path = "y.parquet"
[sources.columns]
forename = "fn"
surname = "sn"
dob = { column = "born", format = "dd/mm/yyyy" }
"""
    records, _ = run(tmp_path, src)
    assert records.select("record_id", "dob").rows() == [("yos:1", date(2001, 2, 3))]


def test_generated_council_ingests_with_planted_rejects(small_council: tuple[Path, object]) -> None:
    import json

    out, _ = small_council
    result = ingest_project(load_project(out / "familymatch.toml"))
    expected = json.loads((out / "truth" / "expected.json").read_text())
    truth = pl.read_parquet(out / "truth" / "records.parquet")
    assert sorted(result.records["record_id"].to_list()) == sorted(truth["record_id"].to_list())
    rejected = sorted((r["source"], r["row"]) for r in expected["rejected_rows"])
    assert sorted(set(result.rejects.select("source", "row").rows())) == rejected
    assert {s.source for s in result.stats} == set(truth["source"].unique().to_list())


def test_a_row_the_csv_module_cannot_parse_is_named_and_blank_rows_keep_their_numbers(
    tmp_path: Path,
) -> None:
    write(tmp_path / "ben.csv", "First,Last,DOB,Benefit\n , ,,\nTom,Jones,03/04/1990,ESA\n")
    records, _ = run(tmp_path, CSV_SOURCE.format(extra=""))
    assert records["record_id"].to_list() == ["ben:2"]  # the blank row 1 is counted
    huge = "x" * 200_000  # past the csv module's field limit
    write(tmp_path / "ben.csv", f"First,Last,DOB,Benefit\nTom,Jones,03/04/1990,ESA\n{huge},H,,\n")
    with pytest.raises(InputFileError, match=r"\(ben.csv\): cannot be read as CSV near row 2 "):
        run(tmp_path, CSV_SOURCE.format(extra=""))
