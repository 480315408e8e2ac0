"""The later refreshes written by a second process (fixtures/background.py) are the files one
process writes, byte for byte and owner-only; a failure there is a clear error here."""

from __future__ import annotations

import multiprocessing as mp
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from familymatch.errors import FamilyMatchError
from fixtures.background import TIMELINE, LaterParts
from fixtures.generate import generate, write_first
from fixtures.timeline import YEARLY


def files(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_a_second_process_writes_the_same_files(tmp_path: Path) -> None:
    generate(tmp_path / "one", scale=0.01, seed=5, timeline=YEARLY)
    later = LaterParts(YEARLY)  # started first, given the council when it is written
    council, _ = write_first(tmp_path / "two", 0.01, 5)
    later.send(council)
    later.wait(YEARLY[1])
    assert (tmp_path / "two" / f"familymatch_{YEARLY[1]}.toml").is_file()
    later.wait(TIMELINE)
    later.close()
    one, two = files(tmp_path / "one"), files(tmp_path / "two")
    assert len(one) > 60 and list(one) == list(two)
    assert [k for k in one if one[k] != two[k]] == []
    assert {mode for _, mode in two.values()} == {0o600}


def test_a_failure_in_the_second_process_is_raised_in_the_first(tmp_path: Path) -> None:
    council, _ = write_first(tmp_path / "c", 0.01, 5)
    (tmp_path / "c" / "extracts_period2").write_text("in the way")  # a file where a folder goes
    later = LaterParts(YEARLY).send(council)
    with pytest.raises(FamilyMatchError, match="generating the later extracts failed: File"):
        later.wait(YEARLY[1])
    later.stop()


def test_workbooks_written_by_another_process_are_the_same_files(tmp_path: Path) -> None:
    write_first(tmp_path / "one", 0.01, 5)
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        write_first(tmp_path / "two", 0.01, 5, pool=pool)
    one, two = files(tmp_path / "one"), files(tmp_path / "two")
    assert sum(name.endswith(".xlsx") for name in two) == 3
    assert list(one) == list(two) and [k for k in one if one[k] != two[k]] == []
