"""The project file: valid files load; every kind of mistake names the file and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from familymatch.errors import ConfigError
from familymatch.project import load_project
from tests.conftest import write

GOOD = """
[project]
name = "Test"
reference_date = "2012-06-01"

[[sources]]
name = "ben"
kind = "benefits"
path = "data/ben.csv"
[sources.columns]
forename = "First"
surname = "Last"
dob = { column = "DOB", format = "dd/mm/yyyy" }
"""


def load_text(tmp_path: Path, text: str) -> object:
    return load_project(write(tmp_path / "familymatch.toml", text))


def test_valid_project_resolves_paths_and_default_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FAMILYMATCH_DATABASE_URL", raising=False)
    p = load_project(write(tmp_path / "familymatch.toml", GOOD))
    assert p.reference_date.isoformat() == "2012-06-01"
    assert p.rule_set == "phase1"
    assert p.sources[0].path == (tmp_path / "data" / "ben.csv").resolve()
    assert p.sources[0].format == "csv"
    assert p.database_url == f"sqlite:///{(tmp_path / 'familymatch.db').resolve()}"
    assert p.sources[0].columns["dob"].formats == ("dd/mm/yyyy",)


def test_database_url_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAMILYMATCH_DATABASE_URL", "postgresql+psycopg://u:secret@h/db")
    p = load_project(write(tmp_path / "familymatch.toml", GOOD))
    assert p.database_url == "postgresql+psycopg://u:secret@h/db"


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (("[project]", "[project]\ncolour = 1"), "project.colour", "unknown key"),
        (
            ('kind = "benefits"', 'kind = "benefits"\nsheeet = "x"'),
            "sources[0].sheeet",
            "unknown key",
        ),
        (
            ('reference_date = "2012-06-01"', 'reference_date = "2012-02-31"'),
            "project.reference_date",
            "is not a date",
        ),
        (
            ('kind = "benefits"', 'kind = "welfare"'),
            "sources[0].kind",
            "'welfare' is not a source kind",
        ),
        (
            ('forename = "First"', 'firstname = "First"'),
            "sources[0].columns.firstname",
            "is not a canonical field",
        ),
        (
            ('surname = "Last"', 'surname = "First"'),
            "sources[0].columns.surname",
            "column 'First' is already mapped to 'forename'",
        ),
        (
            ('path = "data/ben.csv"', 'path = "../outside.csv"'),
            "sources[0].path",
            "points outside the project folder",
        ),
        (
            ('format = "dd/mm/yyyy"', 'format = "yy-mm-dd"'),
            "sources[0].columns.dob.format",
            "'yy-mm-dd' is not a date format",
        ),
        (
            ('path = "data/ben.csv"', 'path = "data/ben.xlsx"'),
            "sources[0].sheet",
            "is required for an .xlsx source",
        ),
        (
            ("[[sources]]", '[gazetteer.columns]\nuprn = "UPRN"\n[[sources]]'),
            "gazetteer",
            "needs [project] gazetteer",
        ),
        (
            (
                'reference_date = "2012-06-01"',
                'reference_date = "2012-06-01"\ngazetteer = "llpg.csv"\n'
                '[gazetteer.columns]\nuprn = "U"\nstreet = "S"',
            ),
            "gazetteer.columns.street",
            "is not a canonical field",
        ),
        (
            ('reference_date = "2012-06-01"', 'reference_date = "2012-06-01"\ngazetteer = "a.txt"'),
            "project.gazetteer",
            "is not a csv, xlsx, parquet file",
        ),
    ],
)
def test_mistakes_name_file_and_key(
    tmp_path: Path, change: tuple[str, str], key: str, problem: str
) -> None:
    text = GOOD.replace(*change)
    with pytest.raises(ConfigError, match=re.escape(f"{key}: ") + ".*" + re.escape(problem)):
        load_text(tmp_path, text)


def test_missing_reference_date(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"project.reference_date: is required"):
        load_text(tmp_path, GOOD.replace('reference_date = "2012-06-01"', ""))


def test_duplicate_source_names(tmp_path: Path) -> None:
    second = GOOD[GOOD.index("[[sources]]") :]
    with pytest.raises(ConfigError, match=r"sources\[1\].name: source name 'ben' is used twice"):
        load_text(tmp_path, GOOD + second)


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_text(tmp_path, "[project\n")
    with pytest.raises(ConfigError, match="the project file does not exist"):
        load_project(tmp_path / "nope.toml")


def test_gazetteer_defaults_and_mapping(tmp_path: Path) -> None:
    plain = load_text(
        tmp_path, GOOD.replace("[project]", '[project]\ngazetteer = "lookups/llpg.csv"')
    )
    spec = plain.gazetteer  # type: ignore[attr-defined]
    assert spec.path == (tmp_path / "lookups" / "llpg.csv").resolve() and spec.format == "csv"
    assert {k: v.column for k, v in spec.columns.items()} == {
        "address": "address",
        "postcode": "postcode",
        "uprn": "uprn",
    }
    mapped = load_text(
        tmp_path,
        GOOD.replace("[project]", '[project]\ngazetteer = "llpg.csv"').replace(
            "[[sources]]",
            '[gazetteer.columns]\nuprn = "UPRN"\naddress = { join = ["SAO", "PAO", "STREET"] }\n[[sources]]',
        ),
    )
    columns = mapped.gazetteer.columns  # type: ignore[attr-defined]
    assert columns["uprn"].column == "UPRN" and columns["address"].join == ("SAO", "PAO", "STREET")
    assert load_text(tmp_path, GOOD).gazetteer is None  # type: ignore[attr-defined]
