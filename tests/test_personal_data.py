"""Personal data never leaks: the demo at debug level prints only counts and references."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from cli import app
from familymatch.ingest import ingest_project
from familymatch.project import load_project


def personal_values(folder: Path) -> set[str]:
    """Every name, date of birth, NINO, UPN and postcode in the synthetic council's extracts."""
    records = ingest_project(load_project(folder / "familymatch.toml")).records
    values: set[str] = set()
    for col in ("forename", "surname", "nino", "upn", "postcode"):
        values |= {v for v in records[col].drop_nulls().to_list() if len(v) >= 4}
    for d in records["dob"].drop_nulls().unique().to_list():
        values |= {d.isoformat(), d.strftime("%d/%m/%Y")}
    return values


def test_demo_at_debug_level_prints_no_personal_data(debug_demo: tuple[Path, str]) -> None:
    out, text = debug_demo
    assert "familymatch.link: link:" in text  # the debug log is in what we search
    values = personal_values(out)
    assert len(values) > 1000
    words = set(re.findall(r"[A-Za-z0-9/\-]+", text))
    leaked = sorted(v for v in values if v in words or (" " in v and v in text))
    assert leaked == []


def test_error_messages_name_rows_not_content(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(
        "First,Last,DOB\nPriyanka,Quennell,31/02/2011\n", encoding="utf-8"
    )
    (tmp_path / "familymatch.toml").write_text(
        '[project]\nreference_date = "2012-06-01"\n[[sources]]\nname = "a"\nkind = "population"\npath = "a.csv"\n'
        '[sources.columns]\nforename = "First"\nsurname = "Last"\ndob = { column = "DOB", format = "dd/mm/yyyy" }\n'
        'upn = "Missing"\n',
        encoding="utf-8",
    )
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", "-p", str(tmp_path / "familymatch.toml")])
    assert result.exit_code == 2
    assert "mapped column 'Missing' is not in the file's header" in result.output
    (tmp_path / "familymatch.toml").write_text(
        (tmp_path / "familymatch.toml").read_text().replace('upn = "Missing"\n', ""),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["ingest", "-p", str(tmp_path / "familymatch.toml")])
    assert result.exit_code == 0
    assert "a: 1 row(s), column 'DOB': not a valid date" in result.output
    for secret in ("Priyanka", "Quennell", "31/02/2011"):
        assert secret not in result.output
