"""A writer waiting for the build lock outlasts another writer's long SQLite transaction (the
demo's outcome import beside a build's record stage) instead of failing on SQLite's busy
timeout."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from familymatch.errors import FamilyMatchError
from familymatch.store import engine as store_engine
from familymatch.store import open_store
from familymatch.store import runs as store_runs
from familymatch.store.runs import acquire_lock, release_lock


def test_a_waiting_writer_outlasts_a_long_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.db"
    monkeypatch.setattr(store_engine, "BUSY_TIMEOUT_MS", 50)  # short, so the test is quick
    monkeypatch.setattr(store_runs, "POLL_SECONDS", 0.01)
    store = open_store(f"sqlite:///{db}")
    other = sqlite3.connect(db, timeout=0, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # a writer's transaction holds SQLite's write lock
    timer = threading.Timer(0.5, other.rollback)
    timer.start()
    start = time.monotonic()
    try:
        acquire_lock(store, wait=5.0)
    finally:
        timer.join()
    assert time.monotonic() - start >= 0.4
    release_lock(store)
    # without a wait, the busy store is refused in one sentence
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(FamilyMatchError, match="is busy with another writer"):
        acquire_lock(store, wait=0.0)
    other.rollback()
