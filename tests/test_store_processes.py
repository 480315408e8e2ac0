"""Real processes: a writer killed with SIGKILL in the middle of writing leaves no visible run
and the next build succeeds; two builds at once on one database (one refused, one waiting)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from familymatch.errors import FamilyMatchError
from familymatch.store import latest_run, list_runs, lock_holder, open_store, recording_run
from familymatch.store import schema as s
from tests.test_store_support import BACKENDS, make_db_url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_db_url(str(request.param), tmp_path)


ROOT = Path(__file__).resolve().parents[1]

WRITER = """
import pathlib, sys, time
import polars as pl
import familymatch.store.writer as writer
from familymatch.store import open_store, recording_run
from familymatch.store import schema as s

url, mode, flag, hold = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3]), float(sys.argv[4])
store = open_store(url)
early = mode.endswith("-early")  # frames written while the caller computes, as a build does
if mode.startswith("kill"):
    real = writer.bulk_insert

    def stalling(conn, table, frame, run_id):
        n = real(conn, table, frame, run_id)
        if table is s.records:  # records written, persons not yet, transaction open
            flag.write_text("records written")
            time.sleep(0 if early else 120)
        return n

    writer.bulk_insert = stalling
n = 20_000
with recording_run(store, "build") as run:
    if early:
        run.write_while_computing()
    run.add(s.records, pl.DataFrame({"record_id": [f"x:{i}" for i in range(n)], "source": "x",
                                     "row": list(range(n))}))
    if mode == "kill-early":
        time.sleep(120)  # the next stage computing, the records written, not committed
    run.add(s.persons, pl.DataFrame({"record_id": [f"x:{i}" for i in range(n)], "person_id": "P"}))
    if mode.startswith("hold"):
        while early and "persons" not in run.writer.rows:  # SQLite's write lock held
            time.sleep(0.01)
        flag.write_text(str(run.run_id))
        time.sleep(hold)
print(run.run_id)
"""


def start_writer(tmp_path: Path, url: str, mode: str, hold: float = 0.0) -> tuple[Any, Path]:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    flag = tmp_path / f"{mode}.flag"
    proc = subprocess.Popen(
        [sys.executable, str(script), url, mode, str(flag), str(hold)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    # write_text creates the file before it writes: wait for the text, not the file
    while not (flag.exists() and flag.read_text()):
        if proc.poll() is not None:
            raise AssertionError(
                f"writer exited early: {proc.stderr.read() if proc.stderr else ''}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("writer did not reach the flag")
        time.sleep(0.05)
    return proc, flag


def rows_of(url: str, run_id: int) -> int:
    store = open_store(url)
    total = 0
    with store.engine.connect() as conn:
        for table in (s.records, s.persons):
            total += conn.execute(
                select(func.count()).select_from(table).where(table.c.run_id == run_id)
            ).scalar_one()
    return total


@pytest.mark.parametrize("mode", ["kill", "kill-early"])
def test_writer_killed_mid_write_leaves_no_visible_run(
    db_url: str, tmp_path: Path, mode: str
) -> None:
    """Killed while writing at the end, or while computing with its first frame written."""
    proc, _ = start_writer(tmp_path, db_url, mode)
    # while the writer's transaction is open, readers open the store and see no run, at once
    started = time.monotonic()
    assert latest_run(open_store(db_url)) is None
    assert time.monotonic() - started < 5
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    store = open_store(db_url)
    runs = list_runs(store)
    assert runs.select("id", "status").rows() == [(1, "running")]
    assert latest_run(store) is None  # readers see nothing
    assert rows_of(db_url, 1) == 0  # the open transaction was rolled back
    holder = lock_holder(store)
    assert holder is not None and holder.pid == proc.pid
    # the next build clears the dead writer's lock, marks its run failed and succeeds
    with recording_run(store, "build") as run:
        pass
    assert dict(list_runs(store).select("id", "status").iter_rows()) == {
        1: "failed",
        run.run_id: "complete",
    }
    assert latest_run(store) == run.run_id


# the lock taken while the other build writes at the end is the same code as while it writes
# early, which also holds SQLite's write lock: the fast suite runs the harder case
@pytest.mark.parametrize("mode", [pytest.param("hold", marks=pytest.mark.slow), "hold-early"])
def test_two_builds_at_once_one_refused_one_waits(db_url: str, tmp_path: Path, mode: str) -> None:
    """Also while the other build's transaction is open (and holds SQLite's write lock): the
    refusal comes at once, not after the database's busy timeout."""
    proc, flag = start_writer(tmp_path, db_url, mode, hold=2.0)
    other_run = int(flag.read_text())
    store = open_store(db_url)
    started = time.monotonic()
    with pytest.raises(FamilyMatchError) as err, recording_run(store, "build"):
        pass
    assert time.monotonic() - started < 5
    assert f"another build (run {other_run}) is in progress on {store.label}" in str(err.value)
    started = time.monotonic()
    with recording_run(store, "build", wait=60) as run:
        assert time.monotonic() - started > 0.2  # it waited for the other build
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert int(out.strip()) == other_run
    assert dict(list_runs(store).select("id", "status").iter_rows()) == {
        other_run: "complete",
        run.run_id: "complete",
    }
    assert rows_of(db_url, other_run) == 40_000
