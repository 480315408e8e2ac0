"""A run's rows are written in the order of their table's run index (so they append to its
B-tree), whatever order the frame holds them in, and every row arrives once."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from sqlalchemy import text

from familymatch.store import open_store, read_table, recording_run
from familymatch.store import schema as s
from familymatch.store.bulk import (
    SQLITE_CHUNK,
    SQLITE_VARIABLES,
    chunk_values,
    index_key,
    index_ordered_chunks,
    row_groups,
)


def test_index_key_is_the_run_index_after_run_id() -> None:
    assert index_key(s.membership) == ["household_id"]
    assert index_key(s.record_addresses) == ["address_id"]
    assert index_key(s.link_pairs) == ["record_id_l"]
    assert index_key(s.persons) == []  # no run index: written as handed over


def test_chunks_come_in_index_order_nulls_first() -> None:
    frame = pl.DataFrame(
        {"record_id": ["r1", "r2", "r3", "r4", "r5"], "address_id": ["A9", None, "A10", "A2", None]}
    )
    chunks = list(index_ordered_chunks(s.record_addresses, frame, 2))
    assert [c.height for c in chunks] == [2, 2, 1]
    # bytewise, as SQLite and PostgreSQL (C collation) compare text; nulls first; ties in order
    assert pl.concat(chunks)["record_id"].to_list() == ["r2", "r5", "r3", "r4", "r1"]


def test_rows_are_stored_in_index_order_and_all_arrive(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'o.db'}")
    ids = [f"H{n:03d}" for n in (7, 3, 11, 3, 1)]
    frame = pl.DataFrame(
        {"record_id": [f"r{n}" for n in range(5)], "person_id": "P1", "household_id": ids}
    )
    with recording_run(store, "build") as run:
        run.add(s.membership, frame)
    with store.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT record_id, household_id FROM membership ORDER BY rowid")
        ).fetchall()
    assert [tuple(r) for r in stored] == [
        ("r4", "H001"),
        ("r1", "H003"),
        ("r3", "H003"),
        ("r0", "H007"),
        ("r2", "H011"),
    ]
    assert run.rows == {"membership": 5}


def test_chunk_values_leave_out_columns_null_in_the_chunk() -> None:
    chunk = pl.DataFrame(
        {"a": ["x", "y"], "b": [None, None], "c": [1, None]}, schema_overrides={"b": pl.String}
    )
    assert chunk_values(chunk) == (["a", "c"], ["x", 1, "y", None])  # row after row
    assert chunk_values(chunk.select("b")) == (["b"], [None, None])


def test_row_groups_fill_statements_up_to_the_variable_limit() -> None:
    width = 3
    per = SQLITE_VARIABLES // width  # 333 rows of 3 values in one statement
    n = 2 * per + 5
    flat = list(range(n * width))
    groups = list(row_groups(flat, width, n))
    assert [(rows, len(params)) for rows, params in groups] == [(per, 2), (5, 1)]
    assert [len(p) for _, params in groups for p in params] == [per * 3, per * 3, 15]
    assert [v for _, params in groups for p in params for v in p] == flat  # each value once
    assert list(row_groups([], width, 0)) == []


def test_a_remainder_of_rows_reads_back_in_order(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'g.db'}")
    n = SQLITE_VARIABLES // 3 * 2 + 7  # two full statements of membership rows and seven more
    frame = pl.DataFrame(
        {
            "record_id": [f"r{i:05d}" for i in range(n)],
            "person_id": [f"P{i % 17}" for i in range(n)],
            "household_id": [f"H{i // 4:05d}" for i in range(n)],
        }
    )
    with recording_run(store, "build") as run:
        run.add(s.membership, frame)
    assert read_table(store, s.membership, run.run_id).equals(frame)
    assert run.rows == {"membership": n}


def test_rows_with_columns_null_in_some_chunks_read_back_identical(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'n.db'}")
    n = 2 * SQLITE_CHUNK + 7  # three chunks; the first holds no uprn, so leaves the column out
    frame = pl.DataFrame(
        {
            "record_id": [f"r{i:06d}" for i in range(n)],
            "address_id": [f"A{i:06d}" if i >= 7 else None for i in range(n)],
            "resolved_by": "postcode",
            "uprn": [None if i < SQLITE_CHUNK + 10 or i % 2 else str(i) for i in range(n)],
        }
    )
    with recording_run(store, "build") as run:
        run.add(s.record_addresses, frame)
    back = read_table(store, s.record_addresses, run.run_id)
    assert back.sort("record_id").equals(frame.sort("record_id"))
    with store.engine.connect() as conn:
        run_ids = conn.execute(text("SELECT DISTINCT run_id FROM record_addresses")).fetchall()
    assert [tuple(r) for r in run_ids] == [(run.run_id,)]
