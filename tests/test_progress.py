"""`cohort build` reports every stage, in order, with what it produced (issue 15 item 5): bars on
a terminal's stderr, nothing with `--json` or off a terminal."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from familymatch.addresses import resolve_addresses
from familymatch.progress import BUILD_STAGES, StageEvent
from familymatch.progress_view import stage_bars
from familymatch.standardise import standardise
from rules.build import build_cohort

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "fixtures" / "sample"


def test_build_calls_back_every_stage_in_order_with_counts(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "c")
    events: list[StageEvent] = []
    terminal = io.StringIO()
    console = Console(file=terminal, force_terminal=True, width=100)
    with stage_bars(console) as bars:
        result = build_cohort(tmp_path / "c" / "familymatch.toml", progress=events.append)
        for event in events:
            bars(event)
    # each stage starts, then ends, before the next starts
    expected = [(st, done) for st in BUILD_STAGES for done in (False, True)]
    assert [(e.stage, e.done) for e in events] == expected
    counts = {e.stage: (e.count, e.unit) for e in events if e.done}
    linked = result.linked
    assert counts["ingest"] == (linked.ingest.records.height, "records")
    assert counts["standardise"] == (linked.std.height, "records")
    # the stage's count is the entities resolved from the text; the person step after linkage
    # can only join them (familymatch/addresses/persons.py)
    by_text = resolve_addresses(standardise(linked.ingest.records), None).addresses.height
    assert counts["addresses"] == (by_text, "addresses")
    assert linked.addresses.addresses.height <= by_text
    assert counts["link"] == (linked.link.persons["person_id"].n_unique(), "persons")
    assert counts["households"] == (linked.households.households.height, "households")
    assert counts["rules"] == (result.summary["cohort"]["total"], "families in the cohort")
    n_records = counts["record"][0]
    assert n_records is not None and n_records > 2 * linked.ingest.records.height
    assert set(result.seconds) == set(BUILD_STAGES)
    drawn = terminal.getvalue()
    for st in BUILD_STAGES:
        assert st in drawn
    assert f"{linked.ingest.records.height:,} records" in drawn


def test_no_bars_off_a_terminal() -> None:
    quiet = io.StringIO()
    with stage_bars(Console(file=quiet, force_terminal=False)) as bars:
        bars(StageEvent("ingest"))
        bars(StageEvent("ingest", done=True, count=5, unit="records"))
    assert quiet.getvalue() == ""


def test_json_build_on_a_terminal_keeps_stdout_pure_json_and_draws_nothing(
    tmp_path: Path,
) -> None:
    shutil.copytree(SAMPLE, tmp_path / "c")
    proj = str(tmp_path / "c" / "familymatch.toml")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TTY_COMPATIBLE": "1"}  # rich: a terminal
    built = subprocess.run(
        [sys.executable, "-m", "cli", "cohort", "build", "--json", "-p", proj],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["run_id"] == 1
    assert "households" not in built.stderr and "━" not in built.stderr
