"""Frames written while the caller computes (``RunWriter.write_while_computing``, the build's
way): still one transaction, rolled back on any failure, the same rows as writing at the end."""

from __future__ import annotations

import importlib
import shutil
import time
from pathlib import Path

import pytest

import familymatch.store.writer as writer
from familymatch.store import (
    audit,
    latest_run,
    list_runs,
    lock_holder,
    open_store,
    read_audit_log,
    recording_run,
)
from familymatch.store import schema as s
from familymatch.store.runs import RunWriter
from rules import build
from tests.test_store import count_rows, records_frame
from tests.test_store_support import BACKENDS, make_db_url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_db_url(str(request.param), tmp_path)


def written(run: RunWriter, table: str) -> None:
    """Wait until the writer thread has written ``table`` (in the open transaction)."""
    deadline = time.monotonic() + 60
    while run.writer is None or table not in run.writer.rows:
        assert time.monotonic() < deadline, f"{table} not written"
        time.sleep(0.01)


def test_a_later_failure_rolls_back_what_was_written_early(db_url: str) -> None:
    store = open_store(db_url)
    with pytest.raises(RuntimeError, match="later stage"), recording_run(store, "build") as run:
        run.write_while_computing()
        run.add(s.records, records_frame())
        written(run, "records")
        assert count_rows(store, s.records, run.run_id) == 0  # nobody else sees it yet
        raise RuntimeError("a later stage failed")
    assert count_rows(store, s.records, run.run_id) == 0
    assert list_runs(store)["status"].to_list() == ["failed"]
    assert lock_holder(store) is None
    with recording_run(store, "build") as again:
        again.write_while_computing()
        again.add(s.records, records_frame())
    assert again.rows == {"records": 3}
    assert latest_run(store) == again.run_id
    assert count_rows(store, s.records, again.run_id) == 3


def test_ctrl_c_while_the_writer_is_writing_stops_it_and_rolls_back(db_url: str) -> None:
    store = open_store(db_url)
    with pytest.raises(KeyboardInterrupt), recording_run(store, "build") as run:
        run.write_while_computing()
        run.add(s.records, records_frame(600_000))  # seconds of writing, even on a busy machine
        deadline = time.monotonic() + 60
        while run.writer is not None and run.writer._driver is None:  # writing has begun
            assert time.monotonic() < deadline
            time.sleep(0.01)
        raise KeyboardInterrupt
    assert run.writer is not None and "records" not in run.writer.rows  # stopped mid-frame
    assert count_rows(store, s.records, run.run_id) == 0
    assert list_runs(store)["status"].to_list() == ["failed"]
    assert lock_holder(store) is None


def test_a_build_failing_after_its_frames_were_written_leaves_the_store_as_before(
    small_council: tuple[Path, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The records, pairs and addresses are written while the households and rules compute; a
    failure in the rules stage leaves no row of the run in any table."""
    folder = tmp_path / "c"
    shutil.copytree(small_council[0], folder)
    (folder / "familymatch.db").unlink(missing_ok=True)
    first = build.build_cohort(folder / "familymatch.toml")
    store = open_store(f"sqlite:///{folder / 'familymatch.db'}")
    before = {t.name: count_rows(store, t, first.run_id + 1) for t in s.RUN_TABLES}
    tables: list[str] = []
    real = writer.bulk_insert

    def noting(conn, table, frame, run_id):  # type: ignore[no-untyped-def]
        n = real(conn, table, frame, run_id)
        tables.append(table.name)
        return n

    def failing_rules(*args: object, **kwargs: object) -> None:
        deadline = time.monotonic() + 60
        while not {"link_pairs", "addresses", "households"} <= set(tables):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        raise RuntimeError("rules failed")

    monkeypatch.setattr(writer, "bulk_insert", noting)
    monkeypatch.setattr(build, "evaluate", failing_rules)
    with pytest.raises(RuntimeError, match="rules failed"):
        build.build_cohort(folder / "familymatch.toml")
    assert {"records", "persons", "link_pairs", "record_addresses", "households"} <= set(tables)
    assert before == {t.name: count_rows(store, t, first.run_id + 1) for t in s.RUN_TABLES}
    assert sum(before.values()) == 0
    assert list_runs(store).select("id", "status").rows() == [
        (first.run_id, "complete"),
        (first.run_id + 1, "failed"),
    ]
    assert latest_run(store) == first.run_id
    assert lock_holder(store) is None


def test_a_reader_during_an_early_writing_build_does_not_wait_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the writer holds the write lock from its first frame to the commit: another
    command reads freely, its audit line goes into the owner-only journal at once, the log
    shows it while the build records, and the next line written brings it in, once."""
    audit_module = importlib.import_module("familymatch.store.audit")  # the package's `audit`
    monkeypatch.setattr(audit_module, "AUDIT_WAIT_MS", 100)  # is the function
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store, reader = open_store(url), open_store(url)
    journal = tmp_path / "store.db.audit-pending"
    with recording_run(store, "build") as run:
        run.write_while_computing()
        run.add(s.records, records_frame())
        written(run, "records")
        assert latest_run(reader) is None  # reading is not blocked
        t = time.monotonic()
        audit(reader, "cohort show", 1)
        audit(reader, "cohort lists", 1)
        assert time.monotonic() - t < 5  # two waits of 0.1 s, not the 30 s busy timeout
        assert journal.stat().st_mode & 0o777 == 0o600
        waiting = read_audit_log(reader)
        assert waiting["command"].to_list() == ["cohort show", "cohort lists"]
        assert waiting["id"].to_list() == [None, None]
    audit(reader, "audit-log", None)
    log = read_audit_log(reader)
    assert log["command"].to_list() == ["cohort show", "cohort lists", "audit-log"]
    assert log["run_id"].to_list() == [1, 1, None]
    assert log["id"].null_count() == 0
    assert journal.read_bytes() == b""
    assert read_audit_log(reader).height == 3  # brought in once


def test_a_pending_line_already_in_the_store_is_not_brought_in_twice(tmp_path: Path) -> None:
    """A crash between the store's commit and the journal's emptying leaves lines in both."""
    from familymatch.store.audit_journal import append

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    audit(store, "cohort show", None)
    (line,) = read_audit_log(store).select("at", "os_user", "command", "run_id", "files").rows()
    at, user, command, run_id, files = line
    kept = {"at": at.isoformat() + "+00:00", "os_user": user, "command": command}
    append(tmp_path / "store.db.audit-pending", {**kept, "run_id": run_id, "files": files})
    audit(store, "cohort lists", None)
    assert read_audit_log(store)["command"].to_list() == ["cohort show", "cohort lists"]
