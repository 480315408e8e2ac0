"""The bad-input corpus: every case writes its files, names the outcome it must produce, and how
many data rows must be kept and rejected (rows lost = rows in the file - kept - rejected = 0).

Used by tests/test_bad_inputs.py; run `python -m tests.bad_input_corpus OUT` to write the files
of every case into OUT for inspection.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import openpyxl

HEADER = "First,Last,DOB,NINO,UPN,Postcode"
TOML = """[project]
reference_date = "2012-06-01"
{project_extra}
[[sources]]
name = "src"
kind = "population"
path = "{path}"
{source_extra}
[sources.columns]
forename = "First"
surname = "Last"
dob = {{ column = "DOB", format = {fmt} }}
{columns_extra}
"""


@dataclass(frozen=True)
class Case:
    name: str
    write: Callable[[Path], None]  # writes the data file(s) into the folder
    exit_code: int  # of `familymatch ingest`
    message: str  # a phrase the output must contain ("" when only the counts matter)
    kept: int = 0  # records
    rejected: int = 0  # rows
    path: str = "src.csv"
    fmt: str = '"dd/mm/yyyy"'
    source_extra: str = ""
    columns_extra: str = 'nino = "NINO"\nupn = "UPN"\npostcode = "Postcode"'
    project_extra: str = ""

    def toml(self) -> str:
        return TOML.format(
            path=self.path,
            fmt=self.fmt,
            source_extra=self.source_extra,
            columns_extra=self.columns_extra,
            project_extra=self.project_extra,
        )


def csv_text(*rows: str, header: str = HEADER, newline: str = "\n") -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        (folder / "src.csv").write_bytes((newline.join([header, *rows]) + newline).encode("utf-8"))

    return write


def raw(data: bytes, name: str = "src.csv") -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        (folder / name).write_bytes(data)

    return write


def xlsx(
    rows: list[list[object]], header_at: int = 1, merged: bool = False, name: str = "src.xlsx"
) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        wb = openpyxl.Workbook()
        ws = wb.active
        assert ws is not None
        ws.title = "Data"
        for i in range(1, header_at):
            ws.cell(row=i, column=1, value=f"title line {i}")
        if merged and header_at > 1:
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=4)
        for j, h in enumerate(HEADER.split(","), start=1):
            ws.cell(row=header_at, column=j, value=h)
        for i, row in enumerate(rows, start=header_at + 1):
            for j, v in enumerate(row, start=1):
                ws.cell(row=i, column=j, value=v)
        wb.save(folder / name)

    return write


def truncated_xlsx(folder: Path) -> None:
    xlsx([["Ann", "Lee", date(2001, 2, 3), "", "", ""]])(folder)
    data = (folder / "src.xlsx").read_bytes()
    (folder / "src.xlsx").write_bytes(data[: len(data) // 3])


GOOD = "Ann,Lee,03/02/2001,AB123456C,,PL1 2AB"
X = 'sheet = "Data"'
CASES: list[Case] = [
    Case("utf8", csv_text(GOOD, "Bob,Ray,04/05/1990,,,PL2 3CD"), 0, "", kept=2),
    Case("bom", raw(("\ufeff" + HEADER + "\n" + GOOD + "\n").encode("utf-8")), 0, "", kept=1),
    Case(
        "windows_1252",
        raw((HEADER + "\nRenée,Lee,03/02/2001,,,\n").encode("cp1252")),
        0,
        "",
        kept=1,
    ),
    Case(
        "mixed_encodings",
        raw(
            (HEADER + "\nRenée,Lee,03/02/2001,,,\n").encode("utf-8")
            + "Zoë,Ray,04/05/1990,,,\n".encode("cp1252")
        ),
        0,
        "",
        kept=2,
    ),
    Case("crlf", csv_text(GOOD, "Bob,Ray,04/05/1990,,,", newline="\r\n"), 0, "", kept=2),
    Case(
        "embedded_newline_and_quotes",
        csv_text('"Mary\nAnn","O\'Brien ""Mo""",03/02/2001,,,'),
        0,
        "",
        kept=1,
    ),
    Case(
        "ragged_rows",
        csv_text(GOOD, "Bob,Ray,04/05/1990,,,,EXTRA", "Cy,Day,05/06/1991"),
        0,
        "row has 7 fields but the header has 6",
        kept=1,
        rejected=2,
    ),
    Case(
        "column_mapped_twice",
        csv_text(GOOD),
        2,
        "column 'First' is already mapped to 'forename'",
        columns_extra='surname2 = "x"'.replace("surname2", "middle_names").replace(
            '"x"', '"First"'
        ),
    ),
    Case(
        "duplicate_headers",
        csv_text("Ann,Lee,Lee,03/02/2001,,,", header="First,Last,Last,DOB,NINO,UPN,Postcode"),
        2,
        "the header has column 'Last' twice",
    ),
    Case("empty_file", raw(b""), 2, "the file is empty"),
    Case("header_only", csv_text(), 0, ""),
    Case(
        "dates_in_three_formats",
        csv_text("Ann,Lee,03/02/2001,,,", "Bob,Ray,1990-05-04,,,", "Cy,Day,05-Jun-1991,,,"),
        0,
        "",
        kept=3,
        fmt='["dd/mm/yyyy", "iso", "dd-mon-yyyy"]',
    ),
    Case(
        "impossible_date",
        csv_text(GOOD, "Bob,Ray,31/02/2011,,,"),
        0,
        "not a valid date",
        kept=1,
        rejected=1,
    ),
    Case(
        "future_date_of_birth",
        csv_text(GOOD, "Bob,Ray,01/01/2090,,,"),
        0,
        "date of birth is in the future",
        kept=1,
        rejected=1,
    ),
    Case(
        "two_digit_year",
        csv_text(GOOD, "Bob,Ray,01/02/85,,,"),
        0,
        "two-digit year: the mapping needs a century rule",
        kept=1,
        rejected=1,
    ),
    Case("excel_serial_as_text", csv_text("Ann,Lee,36925,,,"), 0, "", kept=1, fmt='"excel"'),
    Case("postcode_stray_spaces", csv_text("Ann,Lee,03/02/2001,,, pl1  2ab "), 0, "", kept=1),
    Case(
        "bad_nino_and_upn_check",
        csv_text("Ann,Lee,03/02/2001,TN123456A,A879000000001,"),
        0,
        "",
        kept=1,
    ),
    Case("names_only_punctuation", csv_text("!!!,...,03/02/2001,,,"), 0, "", kept=1),
    Case(
        "ten_thousand_character_cell",
        csv_text(GOOD, "A" * 10_000 + ",Ray,04/05/1990,,,"),
        0,
        "cell longer than 1000 characters",
        kept=1,
        rejected=1,
    ),
    Case(
        "formula_like_values",
        csv_text("=cmd|' /C calc'!A0,+SUM(A1),03/02/2001,,,", "@SUM(1),-2+3,04/05/1990,,,"),
        0,
        "",
        kept=2,
    ),
    Case("duplicate_rows", csv_text(GOOD, GOOD), 0, "", kept=2),
    Case(
        "every_identifier_missing",
        csv_text("Ann,Lee,03/02/2001,,,", "Bob,Ray,04/05/1990,,,"),
        0,
        "",
        kept=2,
    ),
    Case("missing_file", lambda folder: None, 2, "the file does not exist"),
    Case(
        "mapped_column_absent",
        csv_text("Ann,Lee,03/02/2001", header="First,Last,DOB"),
        2,
        "mapped column 'NINO' is not in the file's header",
    ),
    Case(
        "xlsx_header_row_4_merged_title",
        xlsx([["Ann", "Lee", date(2001, 2, 3), "", "", ""]], header_at=4, merged=True),
        0,
        "",
        kept=1,
        path="src.xlsx",
        source_extra=X + "\nheader_row = 4",
    ),
    Case(
        "xlsx_truncated",
        truncated_xlsx,
        2,
        "is not an .xlsx workbook (corrupt or truncated)",
        path="src.xlsx",
        source_extra=X,
    ),
    Case(
        "xlsx_corrupt",
        raw(b"PK\x03\x04 not really a zip", "src.xlsx"),
        2,
        "is not an .xlsx workbook (corrupt or truncated)",
        path="src.xlsx",
        source_extra=X,
    ),
    Case(
        "xlsx_password_protected",
        raw(bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 1024, "src.xlsx"),
        2,
        "is password-protected or not an .xlsx workbook",
        path="src.xlsx",
        source_extra=X,
    ),
    Case(
        "xlsx_wrong_sheet",
        xlsx([["Ann", "Lee", date(2001, 2, 3), "", "", ""]]),
        2,
        "has no sheet 'Pupils' (sheets: Data)",
        path="src.xlsx",
        source_extra='sheet = "Pupils"',
    ),
    Case(
        "project_unknown_key",
        csv_text(GOOD),
        2,
        "project.colour: unknown key",
        project_extra='colour = "red"',
    ),
    Case(
        "path_outside_project",
        csv_text(GOOD),
        2,
        "points outside the project folder",
        path="../outside.csv",
    ),
]


def write_case(case: Case, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    case.write(folder)
    (folder / "familymatch.toml").write_text(case.toml(), encoding="utf-8")
    return folder / "familymatch.toml"


if __name__ == "__main__":
    out = Path(sys.argv[1])
    for c in CASES:
        write_case(c, out / c.name)
    print(f"wrote {len(CASES)} cases under {out}")
