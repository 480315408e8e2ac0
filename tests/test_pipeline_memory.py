"""The pipeline keeps one copy of a city's canonical records (issue 15): the build's records
are columns of the standardised frame, with the values the ingest read."""

from __future__ import annotations

import shutil
from pathlib import Path

from familymatch.canonical import CANONICAL_SCHEMA
from familymatch.ingest import ingest_project
from familymatch.pipeline import link_project
from familymatch.project import load_project

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "sample"


def _address(frame_column: object) -> int:
    return int(frame_column.to_arrow().buffers()[1].address)  # type: ignore[attr-defined]


def test_records_are_the_canonical_columns_of_std_without_a_copy(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "c")
    project = load_project(tmp_path / "c" / "familymatch.toml")
    read = ingest_project(project).records
    linked = link_project(project)
    kept = linked.ingest.records
    assert kept.columns == list(CANONICAL_SCHEMA)
    assert kept.sort("record_id").equals(read.sort("record_id"))
    assert kept.height == read.height == 468
    # one buffer, shared: the row numbers the records table stores are std's own
    assert _address(kept["row"]) == _address(linked.std["row"])
