"""The store: atomic runs, bulk round trips, double-import detection, the audit log, owner-only
files and masked passwords; on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import event, func, insert, select

from familymatch.canonical import CANONICAL_SCHEMA, conform
from familymatch.errors import FamilyMatchError
from familymatch.store import (
    audit,
    break_lock,
    delete_run,
    find_previous_import,
    latest_run,
    list_runs,
    lock_holder,
    open_store,
    read_audit_log,
    read_table,
    recording_run,
    run_info,
    safe_url,
)
from familymatch.store import schema as s
from familymatch.store.audit import now
from familymatch.store.engine import Store, mask_passwords
from tests.test_store_support import BACKENDS, make_db_url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_db_url(str(request.param), tmp_path)


SHA_A = "a" * 64
SHA_B = "b" * 64


def records_frame(n: int = 3) -> pl.DataFrame:
    rows = {
        "record_id": [f"benefits:{i}" for i in range(1, n + 1)],
        "source": ["benefits"] * n,
        "kind": ["benefits"] * n,
        "row": list(range(1, n + 1)),
        "forename": ["Ann", "", None][:n] + ["Bo"] * max(0, n - 3),
        "surname": ["Test", "Case", "O'Neil"][:n] + ["X"] * max(0, n - 3),
        "dob": [date(1980, 1, 31), None, date(2005, 12, 1)][:n] + [None] * max(0, n - 3),
        "event_type": ["JSA"] * n,
        "event_date": [date(2011, 5, 1)] * n,
        "sessions_possible": [100, None, 7][:n] + [0] * max(0, n - 3),
        "sessions": [1.5, None, 0.0][:n] + [None] * max(0, n - 3),
    }
    return conform(pl.DataFrame(rows))


def source_files_frame(sha: str = SHA_A, source: str = "benefits") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source": [source],
            "kind": ["benefits"],
            "path": ["extracts/rb.csv"],
            "sha256": [sha],
            "rows_read": [3],
            "records": [3],
            "rows_rejected": [0],
        }
    )


def count_rows(store: Store, table: s.Table, run_id: int) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(table).where(table.c.run_id == run_id)
            ).scalar_one()
        )


def test_run_round_trip_keeps_types_nulls_and_empty_strings(db_url: str) -> None:
    store = open_store(db_url)
    recs = records_frame()
    with recording_run(
        store,
        "build",
        reference_date=date(2012, 6, 1),
        rule_set="phase1",
        rule_set_sha256=SHA_B,
        framework="tf-2012",
        framework_sha256=SHA_A,
        parameters={"as_of": "2012-06-01"},
    ) as run:
        run.add(s.source_files, source_files_frame())
        run.add(s.records, recs)
        run.add(s.persons, pl.DataFrame({"record_id": recs["record_id"], "person_id": "P1"}))
        run.add(
            s.indicator_results,
            pl.DataFrame(
                {
                    "household_id": ["H1"],
                    "criterion": ["work"],
                    "indicator": ["benefit"],
                    "met": [True],
                    "value": [0.149],
                    "threshold": [0.15],
                    "note": ["near miss"],
                }
            ),
        )
        run.summary = {"households": 1}
    back = read_table(store, s.records, run.run_id).sort("row")
    assert back.schema == CANONICAL_SCHEMA
    assert back.equals(recs)
    assert back["forename"].to_list() == ["Ann", "", None]
    info = run_info(store, run.run_id)
    assert info["status"] == "complete"
    assert info["reference_date"] == date(2012, 6, 1)
    assert (info["rule_set_sha256"], info["framework"]) == (SHA_B, "tf-2012")
    assert json.loads(info["parameters"]) == {"as_of": "2012-06-01"}
    assert json.loads(info["summary"]) == {"households": 1}
    assert info["os_user"] and info["software_version"] and info["command_line"]
    results = read_table(store, s.indicator_results, run.run_id)
    assert results.row(0) == ("H1", "work", "benefit", True, 0.149, 0.15, "near miss")
    assert set(run.seconds) == {"source_files", "records", "persons", "indicator_results"}
    assert latest_run(store) == run.run_id
    assert lock_holder(store) is None


def test_exception_inside_run_leaves_nothing_visible(db_url: str) -> None:
    store = open_store(db_url)
    with pytest.raises(RuntimeError, match="boom"), recording_run(store, "build") as run:
        run.add(s.records, records_frame())
        raise RuntimeError("boom")
    assert latest_run(store) is None
    assert count_rows(store, s.records, run.run_id) == 0
    assert list_runs(store)["status"].to_list() == ["failed"]
    with pytest.raises(FamilyMatchError, match=rf"run {run.run_id} is failed, not complete"):
        read_table(store, s.records, run.run_id)
    assert lock_holder(store) is None
    with recording_run(store, "build") as again:
        again.add(s.records, records_frame())
    assert latest_run(store) == again.run_id
    assert count_rows(store, s.records, again.run_id) == 3


@pytest.mark.parametrize("early", [False, True])
def test_failure_while_writing_rolls_back_every_table(db_url: str, early: bool) -> None:
    """Also when the frames are written as they come (the writer's error is raised at the next
    hand-over or at the end)."""
    store = open_store(db_url)
    missing = "table membership needs column 'household_id'"
    with pytest.raises(FamilyMatchError, match=missing), recording_run(store, "build") as run:
        if early:
            run.write_while_computing()
        run.add(s.records, records_frame())
        run.add(s.persons, pl.DataFrame({"record_id": ["benefits:1"], "person_id": ["P1"]}))
        run.add(s.membership, pl.DataFrame({"record_id": ["benefits:1"], "person_id": ["P"]}))
    assert count_rows(store, s.records, run.run_id) == 0
    assert count_rows(store, s.persons, run.run_id) == 0
    assert latest_run(store) is None
    assert lock_holder(store) is None


def test_unknown_run_field_is_refused_and_lock_released(db_url: str) -> None:
    store = open_store(db_url)
    with (
        pytest.raises(FamilyMatchError, match="runs have no field"),
        recording_run(store, "build", colour="red"),
    ):
        pass
    assert lock_holder(store) is None


def test_second_writer_in_same_process_is_refused_with_a_clear_message(
    db_url: str,
) -> None:
    store = open_store(db_url)
    with recording_run(store, "build") as first:
        with pytest.raises(FamilyMatchError) as err, recording_run(store, "build"):
            pass
        message = str(err.value)
        assert f"another build (run {first.run_id}) is in progress on {store.label}" in message
        assert f"process {os.getpid()}" in message
        first.add(s.records, records_frame())
    assert latest_run(store) == first.run_id
    assert list_runs(store)["status"].to_list() == ["complete"]


def test_stale_lock_of_a_dead_process_is_cleared(db_url: str) -> None:
    store = open_store(db_url)
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(finished.stdout)
    run_id = insert_running_run(store)
    with store.engine.begin() as conn:
        conn.execute(
            insert(s.locks).values(
                name="build", run_id=run_id, pid=dead_pid, host=socket.gethostname()
            )
        )
    with recording_run(store, "build") as run:
        run.add(s.records, records_frame())
    statuses = dict(list_runs(store).select("id", "status").iter_rows())
    assert statuses == {run_id: "failed", run.run_id: "complete"}


def test_lock_from_another_machine_is_refused_until_broken(db_url: str) -> None:
    store = open_store(db_url)
    run_id = insert_running_run(store)
    with store.engine.begin() as conn:
        conn.execute(insert(s.locks).values(name="build", run_id=run_id, pid=1, host="other-host"))
    refused = rf"another build \(run {run_id}\).*other-host"
    with pytest.raises(FamilyMatchError, match=refused), recording_run(store, "build", wait=0.3):
        pass
    holder = break_lock(store)
    assert holder is not None and holder.host == "other-host"
    with recording_run(store, "build") as run:
        pass
    statuses = dict(list_runs(store).select("id", "status").iter_rows())
    assert statuses == {run_id: "failed", run.run_id: "complete"}


def insert_running_run(store: Store) -> int:
    """A runs row as a writer that died would leave it."""
    with store.engine.begin() as conn:
        result = conn.execute(
            insert(s.runs).values(kind="build", status="running", started_at=now())
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def test_double_import_is_found_by_hash_only_in_complete_runs(db_url: str) -> None:
    store = open_store(db_url)
    assert find_previous_import(store, SHA_A) is None
    with recording_run(store, "build") as first:
        first.add(s.source_files, source_files_frame(SHA_A))
    with pytest.raises(RuntimeError), recording_run(store, "build") as failed:
        failed.add(s.source_files, source_files_frame(SHA_B))
        raise RuntimeError("stop")
    found = find_previous_import(store, SHA_A)
    assert found is not None
    assert (found.run_id, found.source, found.path) == (first.run_id, "benefits", "extracts/rb.csv")
    assert find_previous_import(store, SHA_A, source="benefits") is not None
    assert find_previous_import(store, SHA_A, source="school_census") is None
    assert find_previous_import(store, SHA_B) is None  # only a failed run saw it


def test_audit_log_records_user_command_run_and_files(db_url: str) -> None:
    store = open_store(db_url)
    with recording_run(store, "build") as run:
        pass
    audit(store, "cohort build", run.run_id, [("extracts/rb.csv", SHA_A), ("x.xlsx", SHA_B)])
    audit(store.engine, "db upgrade postgresql://u:hunter2@db/fm", None, [])
    log = read_audit_log(store)
    assert log.height == 2
    first = log.row(0, named=True)
    assert first["command"] == "cohort build"
    assert first["run_id"] == run.run_id
    assert first["n_files"] == 2
    assert json.loads(first["files"])[1] == {"path": "x.xlsx", "sha256": SHA_B}
    assert first["os_user"]
    assert first["at"] is not None
    assert "hunter2" not in log["command"][1]
    assert read_audit_log(store, run_id=run.run_id).height == 1


def test_sqlite_files_are_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = open_store(f"sqlite:///{tmp_path / 'sub' / 'fm.db'}")
        with recording_run(store, "build") as run:
            run.add(s.records, records_frame())
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "sub").iterdir() if p.name.startswith("fm.db")]
    assert tmp_path / "sub" / "fm.db" in files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_safe_url_masks_passwords_everywhere() -> None:
    url = "postgresql+psycopg://fm:s3cret@db.example:5432/fm"
    assert safe_url(url) == "postgresql+psycopg://fm:***@db.example:5432/fm"
    assert "s3cret" not in mask_passwords(f"familymatch cohort build --db {url} -v")
    assert safe_url("sqlite:///x.db") == "sqlite:///x.db"


def test_unreachable_database_message_has_no_password() -> None:
    url = "postgresql+psycopg://fm:s3cret@127.0.0.1:1/fm?connect_timeout=2"
    with pytest.raises(FamilyMatchError) as err:
        open_store(url)
    assert "s3cret" not in str(err.value)
    assert "cannot be reached" in str(err.value)
    with pytest.raises(FamilyMatchError, match="not a usable database URL"):
        open_store("nosuchdb://x/y")


def test_database_error_names_the_table_never_the_values(db_url: str) -> None:
    store = open_store(db_url)
    members = pl.DataFrame(
        {
            "record_id": ["benefits:1", "benefits:2"],
            "person_id": ["P1", "P2"],
            "household_id": ["SECRET-SURNAME-HH", None],  # NOT NULL violated on row 2
        }
    )
    with pytest.raises(FamilyMatchError) as err, recording_run(store, "build") as run:
        run.add(s.records, records_frame())
        run.add(s.membership, members)
    message = str(err.value)
    assert message.startswith("store: writing 2 rows to table membership failed (")
    assert "SECRET" not in message and "benefits:2" not in message
    assert count_rows(store, s.records, run.run_id) == 0
    assert list_runs(store)["status"].to_list() == ["failed"]


def test_disk_full_while_writing_leaves_no_visible_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'full.db'}"
    store = open_store(url)
    with recording_run(store, "build") as ok:
        ok.add(s.records, records_frame())
    store.engine.dispose()
    store = open_store(url)

    @event.listens_for(store.engine, "connect")
    def _small_disk(dbapi_conn: object, _: object) -> None:
        dbapi_conn.execute("PRAGMA max_page_count=60")  # type: ignore[attr-defined]

    store.engine.dispose()  # new connections get the limit
    full = "database or disk is full"
    with pytest.raises(FamilyMatchError, match=full), recording_run(store, "build") as run:
        run.add(s.records, records_frame(20_000))
    assert latest_run(store) == ok.run_id
    assert count_rows(store, s.records, run.run_id) == 0
    assert dict(list_runs(store).select("id", "status").iter_rows()) == {
        ok.run_id: "complete",
        run.run_id: "failed",
    }


def test_ctrl_c_during_a_run_marks_it_failed_and_frees_the_lock(db_url: str) -> None:
    store = open_store(db_url)
    with pytest.raises(KeyboardInterrupt), recording_run(store, "build") as run:
        run.add(s.records, records_frame())
        raise KeyboardInterrupt
    assert list_runs(store)["status"].to_list() == ["failed"]
    assert lock_holder(store) is None
    assert count_rows(store, s.records, run.run_id) == 0


def test_delete_run_removes_it_from_every_table(db_url: str) -> None:
    store = open_store(db_url)
    with recording_run(store, "build") as keep:
        keep.add(s.records, records_frame())
    with recording_run(store, "build") as gone:
        gone.add(s.records, records_frame())
        gone.add(s.persons, pl.DataFrame({"record_id": ["benefits:1"], "person_id": ["P1"]}))
    delete_run(store, gone.run_id)
    assert list_runs(store)["id"].to_list() == [keep.run_id]
    assert count_rows(store, s.records, gone.run_id) == 0
    assert count_rows(store, s.persons, gone.run_id) == 0
    assert count_rows(store, s.records, keep.run_id) == 3
