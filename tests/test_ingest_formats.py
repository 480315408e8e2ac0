"""Ingest of what councils send: two-digit years, long dates, strptime patterns, Excel serials as
text, names in one column in any order, wide rows (one column per term), and the per-column
parse report."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from familymatch.errors import ConfigError
from familymatch.ingest import ingest_project
from familymatch.project import load_project
from tests.conftest import write

TWO_DIGIT = (
    'two-digit year: the mapping needs a century rule (format "dd/mm/yy" or "long" '
    'with century = "past" or a pivot year)'
)
HEAD = """
[project]
reference_date = "2012-06-01"
"""


def ingest(tmp_path: Path, csv: str, source: str) -> tuple[pl.DataFrame, pl.DataFrame, object]:
    write(tmp_path / "src.csv", csv)
    proj = write(
        tmp_path / "familymatch.toml",
        HEAD + '[[sources]]\nname = "src"\nkind = "population"\npath = "src.csv"\n' + source,
    )
    result = ingest_project(load_project(proj))
    return result.records, result.rejects, result


def config_error(tmp_path: Path, source: str) -> str:
    """The message of the ConfigError a project with this one source's mapping raises."""
    write(tmp_path / "src.csv", "DOB\n01/01/2000\n")
    proj = write(
        tmp_path / "familymatch.toml",
        HEAD + '[[sources]]\nname = "s"\nkind = "school_census"\npath = "src.csv"\n' + source,
    )
    with pytest.raises(ConfigError) as err:
        load_project(proj)
    return err.value.message


def dob_source(fmt: str, century: str = "") -> str:
    return f'[sources.columns]\nforename = "First"\ndob = {{ column = "DOB", format = {fmt}{century} }}\n'


def test_two_digit_years_past_century_is_never_after_the_reference_date(tmp_path: Path) -> None:
    csv = "First,DOB\nA,05/03/04\nB,31.12.11\nC,01-06-12\nD,02/06/12\nE,31/02/04\nF,05/03/2004\n"
    records, rejects, _ = ingest(tmp_path, csv, dob_source('"dd/mm/yy"', ', century = "past"'))
    assert records["dob"].to_list() == [
        date(2004, 3, 5),
        date(2011, 12, 31),
        date(2012, 6, 1),  # the reference date itself
        date(1912, 6, 2),  # a day after it: a century earlier
    ]
    assert rejects.select("row", "column").rows() == [(5, "DOB"), (6, "DOB")]
    assert rejects["reason"].to_list() == ["not a valid date (expected dd/mm/yy)"] * 2


def test_two_digit_years_pivot_and_four_digit_fallback(tmp_path: Path) -> None:
    csv = "First,Start\nA,05/03/49\nB,05/03/50\nC,05/03/2004\n"
    source = (
        '[sources.columns]\nforename = "First"\n'
        'event_date = { column = "Start", format = ["dd/mm/yy", "dd/mm/yyyy"], century = 1950 }\n'
    )
    records, rejects, _ = ingest(tmp_path, csv, source)
    assert records["event_date"].to_list() == [
        date(2049, 3, 5),
        date(1950, 3, 5),
        date(2004, 3, 5),
    ]
    assert rejects.height == 0


def test_long_dates_any_case_separators_and_two_digit_years(tmp_path: Path) -> None:
    csv = (
        'First,DOB\nA,5 March 2004\nB,05-Mar-04\nC,5 MAR 04\nD,"5, September, 1999"\n'
        "E,5th Jun 2003\nF,5 Marc 2004\nG,05/03/2004\n"
    )
    records, rejects, _ = ingest(tmp_path, csv, dob_source('"long"', ', century = "past"'))
    assert records["dob"].to_list() == [
        date(2004, 3, 5),
        date(2004, 3, 5),
        date(2004, 3, 5),
        date(1999, 9, 5),
        date(2003, 6, 5),
    ]
    assert rejects["row"].to_list() == [6, 7]


def test_long_dates_without_a_century_read_four_digit_years_only(tmp_path: Path) -> None:
    csv = "First,DOB\nA,5 March 2004\nB,05-Mar-04\n"
    records, rejects, _ = ingest(tmp_path, csv, dob_source('"long"'))
    assert records["dob"].to_list() == [date(2004, 3, 5)]
    assert rejects.select("row", "reason").rows() == [(2, TWO_DIGIT)]


def test_strptime_pattern_and_excel_serials_typed_as_text(tmp_path: Path) -> None:
    csv = "First,DOB\nA,5 March 2004\nB,38051\nC,38051.0\nD,March 5 2004\n"
    records, rejects, _ = ingest(tmp_path, csv, dob_source('["%d %B %Y", "excel"]'))
    assert records["dob"].to_list() == [date(2004, 3, 5)] * 3
    assert rejects.select("row", "column").rows() == [(4, "DOB")]


def test_a_two_digit_year_without_the_format_says_how_to_map_it(tmp_path: Path) -> None:
    records, rejects, result = ingest(
        tmp_path, "First,DOB\nA,05/03/04\n", dob_source('"dd/mm/yyyy"')
    )
    assert records.height == 0
    assert rejects["reason"].to_list() == [TWO_DIGIT]
    assert result.warnings == [  # type: ignore[attr-defined]
        "src: column 'DOB' parsed on 0% of 1 rows: is its format dd/mm/yy?"
    ]


@pytest.mark.parametrize(
    ("spec", "key", "message"),
    [
        ('{ column = "DOB", format = "dd/mm/yy" }', "dob.century", "is required with format"),
        ('{ column = "DOB", format = "%d/%m/%y" }', "dob.century", "is required"),
        ('{ column = "DOB", format = "dd/mm/yy", century = "future" }', "dob.century", "pivot"),
        ('{ column = "DOB", format = "dd/mm/yy", century = 50 }', "dob.century", "pivot"),
        ('{ column = "DOB", format = "yy/mm/dd" }', "dob.format", "is not a date format"),
        ('{ column = "DOB", format = "%d %Q %Y" }', "dob.format", "strptime pattern"),
        ('{ column = "DOB", format = "%d %B" }', "dob.format", "strptime pattern"),
        ('{ column = "DOB", century = "past" }', "dob.century", "give one"),
    ],
)
def test_date_mapping_errors_name_the_file_and_dotted_key(
    tmp_path: Path, spec: str, key: str, message: str
) -> None:
    error = config_error(tmp_path, f"[sources.columns]\ndob = {spec}\n")
    assert f"familymatch.toml: sources[0].columns.{key}: " in error
    assert message in error


def test_name_order_auto(tmp_path: Path) -> None:
    csv = (
        'Name\nJohn SMITH\nSMITH John\n"SMITH, John Paul"\nMary Ann JONES\nJohn Paul Smith\n'
        "JOHN SMITH\nHelena BONHAM CARTER\n"
    )
    source = '[sources.columns]\nname = { column = "Name", order = "auto" }\n'
    records, _, _ = ingest(tmp_path, csv, source)
    assert records.select("forename", "middle_names", "surname").rows() == [
        ("John", None, "SMITH"),
        ("John", None, "SMITH"),
        ("John", "Paul", "SMITH"),
        ("Mary", "Ann", "JONES"),
        ("John", "Paul", "Smith"),
        ("JOHN", None, "SMITH"),
        ("Helena", None, "BONHAM CARTER"),
    ]


WIDE = """
[sources.columns]
upn = "UPN"
name = { column = "Pupil", order = "auto" }
[[sources.periods]]
label = "aut"
term = { constant = "2011/12-autumn" }
sessions_possible = "Aut Poss"
sessions_unauthorised = "Aut Unauth"
[[sources.periods]]
label = "spr"
term = { constant = "2011/12-spring" }
sessions_possible = "Spr Poss"
sessions_unauthorised = "Spr Unauth"
"""


def test_wide_rows_give_one_record_per_period(tmp_path: Path) -> None:
    csv = (
        "UPN,Pupil,Aut Poss,Aut Unauth,Spr Poss,Spr Unauth\n"
        "A1,Amy LEE,140,10,120,30\n"
        "B2,Ben FOX,,,110,5\n"  # joined in spring: no autumn record
        "C3,Cy DAY,140,x,120,0\n"  # a bad cell rejects the row
        "D4,Di RAY,,,,\n"  # no period at all
    )
    records, rejects, _ = ingest(tmp_path, csv, WIDE)
    assert records.select(
        "record_id", "term", "sessions_possible", "sessions_unauthorised", "surname"
    ).rows() == [
        ("src:1:aut", "2011/12-autumn", 140, 10, "LEE"),
        ("src:1:spr", "2011/12-spring", 120, 30, "LEE"),
        ("src:2:spr", "2011/12-spring", 110, 5, "FOX"),
    ]
    assert rejects.select("row", "column").rows() == [(3, "Aut Unauth")]


def test_wide_rows_with_people_give_one_record_per_person_and_period(tmp_path: Path) -> None:
    source = """
[[sources.people]]
role = "child"
forename = "Child"
[[sources.people]]
role = "parent"
forename = "Parent"
[[sources.periods]]
label = "2011"
event_type = { constant = "CIN" }
event_date = { column = "Start 2011", format = "iso" }
[[sources.periods]]
label = "2012"
event_type = { constant = "CPP" }
event_date = { column = "Start 2012", format = "iso" }
"""
    csv = "Child,Parent,Start 2011,Start 2012\nAl,Bo,2011-01-02,2012-03-04\nCe,,,2012-05-06\n"
    records, _, _ = ingest(tmp_path, csv, source)
    assert records.select("record_id", "forename", "event_type", "event_date").rows() == [
        ("src:1:child:2011", "Al", "CIN", date(2011, 1, 2)),
        ("src:1:child:2012", "Al", "CPP", date(2012, 3, 4)),
        ("src:1:parent:2011", "Bo", "CIN", date(2011, 1, 2)),
        ("src:1:parent:2012", "Bo", "CPP", date(2012, 3, 4)),
        ("src:2:child:2012", "Ce", "CPP", date(2012, 5, 6)),
    ]


@pytest.mark.parametrize(
    ("period", "key", "message"),
    [
        ('term = { constant = "x" }', "periods[0].label", "is required"),
        ('label = "a:b"', "periods[0].label", "without ':'"),
        ('label = "a"\nforename = "F"', "periods[0].forename", "is not a per-period field"),
        ('label = "a"\nschool = "S2"', "periods[0].school", "mapped in [sources.columns] too"),
    ],
)
def test_period_mapping_errors(tmp_path: Path, period: str, key: str, message: str) -> None:
    source = f'[sources.columns]\nupn = "U"\nschool = "S"\n[[sources.periods]]\n{period}\n'
    error = config_error(tmp_path, source)
    assert f"familymatch.toml: sources[0].{key}: " in error
    assert message in error


def test_column_report_counts_filled_and_parsed_rows_and_warns(tmp_path: Path) -> None:
    csv = "First,DOB,Ref\n" + "".join(
        f"P{i},{'01/02/2003' if i < 6 else 'soon'},\n" for i in range(10)
    )
    source = (
        '[sources.columns]\nforename = "First"\ndob = { column = "DOB", format = "dd/mm/yyyy" }\n'
        'case_ref = "Ref"\n'
    )
    _, rejects, result = ingest(tmp_path, csv, source)
    report = result.columns  # type: ignore[attr-defined]
    assert report.select("column", "field", "rows", "filled", "rejected").rows() == [
        ("First", "forename", 10, 10, 0),
        ("DOB", "dob", 10, 10, 4),
        ("Ref", "case_ref", 10, 0, 0),
    ]
    assert report["parsed_share"].to_list() == [1.0, 0.6, None]
    assert result.warnings == [  # type: ignore[attr-defined]
        "src: column 'Ref' is empty on 100% of 10 rows."
    ]
    assert rejects["row"].to_list() == [7, 8, 9, 10]


def test_column_warnings_are_logged_for_ingest_and_cohort_build(tmp_path: Path) -> None:
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("familymatch.ingest")
    logger.addHandler(handler)
    try:
        ingest(tmp_path, "First,DOB\nA,05/03/04\nB,06/03/04\n", dob_source('"dd/mm/yyyy"'))
    finally:
        logger.removeHandler(handler)
    assert seen == ["src: column 'DOB' parsed on 0% of 2 rows: is its format dd/mm/yy?"]


@pytest.mark.parametrize(
    ("bad", "warnings"),
    [
        (1, []),  # one in ten is a typo's share: no warning
        (
            3,
            [
                "src: column 'Postcode' is no UK postcode on 30% of 10 filled rows; their "
                "addresses are resolved only through other records."
            ],
        ),
    ],
)
def test_a_postcode_column_mostly_no_uk_postcode_is_warned_of(
    tmp_path: Path, bad: int, warnings: list[str]
) -> None:
    # "PL161 8AB": a district of three digits (the scale-20 generator's); written without a space
    # or in lower case a postcode is still one
    cells = ["PL161 8AB"] * bad + ["pl16 1ab", "PL161AB", "PL1 1AB"] + ["TQ1 2AB"] * (7 - bad)
    csv = "First,Postcode\n" + "".join(f"P{i},{pc}\n" for i, pc in enumerate(cells))
    source = '[sources.columns]\nforename = "First"\npostcode = "Postcode"\n'
    records, _, result = ingest(tmp_path, csv, source)
    assert records.height == 10
    assert result.warnings == warnings  # type: ignore[attr-defined]
