"""Every case of the bad-input corpus: the exact outcome, and no row lost."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from familymatch.ingest import ingest_project
from familymatch.project import load_project
from tests.bad_input_corpus import CASES, Case, write_case

runner = CliRunner()


def test_corpus_has_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_case(case: Case, tmp_path: Path) -> None:
    project = write_case(case, tmp_path / "p")
    result = runner.invoke(
        app, ["ingest", "-p", str(project), "--rejects", str(tmp_path / "rejects.csv")]
    )
    assert result.exit_code == case.exit_code, result.output
    assert case.message in re.sub(r"\s+", " ", result.output) or case.message in result.output, (
        result.output
    )
    if case.exit_code != 0:
        assert not (tmp_path / "rejects.csv").exists()  # nothing half-written
        return
    ingested = ingest_project(load_project(project))
    rows_rejected = ingested.rejects["row"].n_unique() if ingested.rejects.height else 0
    assert (ingested.records.height, rows_rejected) == (case.kept, case.rejected)
    rows_in_file = sum(s.rows_read for s in ingested.stats)
    assert rows_in_file - (ingested.records.height + rows_rejected) == 0  # no row lost
