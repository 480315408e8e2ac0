"""Schema migrations: a database at the first released schema (0001), with data, is brought to
the current schema without losing a row; the upgraded schema is exactly ``schema.py``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Connection, inspect, text

from familymatch.errors import FamilyMatchError
from familymatch.store import (
    current_revision,
    head_revision,
    latest_run,
    make_engine,
    open_store,
    read_table,
    upgrade,
)
from familymatch.store import schema as s
from tests.test_store_support import BACKENDS, make_db_url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_db_url(str(request.param), tmp_path)


def test_upgrade_creates_exactly_the_current_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) is None
    assert upgrade(engine) == head_revision() == "0005"
    insp = inspect(engine)
    tables = set(insp.get_table_names()) - {"alembic_version"}
    assert tables == set(s.metadata.tables)
    for table in s.metadata.sorted_tables:
        found = {c["name"]: c["nullable"] for c in insp.get_columns(table.name)}
        wanted = {c.name: c.nullable or bool(c.primary_key) for c in table.columns}
        assert set(found) == set(wanted), table.name
        indexes = {i["name"] for i in insp.get_indexes(table.name)}
        assert {i.name for i in table.indexes} <= indexes, table.name
        assert insp.get_foreign_keys(table.name) == [], table.name
    # upgrading again is a no-op
    assert upgrade(engine) == "0005"
    engine.dispose()


def _complete_build(conn: Connection) -> None:
    """Run 1: a complete build, with the first release's columns of ``runs``."""
    conn.execute(
        text(
            "INSERT INTO runs (kind, status, started_at, reference_date, rule_set, os_user)"
            " VALUES ('build', 'complete', :t, :r, 'phase1', 'tester')"
        ),
        {"t": "2012-06-02 10:00:00", "r": date(2012, 6, 1)},
    )


def _fill_first_release(db_url: str) -> None:
    """Rows as the first release wrote them (its columns only)."""
    engine = make_engine(db_url)
    assert upgrade(engine, "0001") == "0001"
    with engine.begin() as conn:
        _complete_build(conn)
        for i in range(1, 4):
            conn.execute(
                text(
                    'INSERT INTO records (run_id, record_id, source, "row", surname, dob)'
                    " VALUES (1, :rid, 'benefits', :row, 'Test', :dob)"
                ),
                {"rid": f"benefits:{i}", "row": i, "dob": date(1980, 1, i)},
            )
        conn.execute(
            text("INSERT INTO households (run_id, household_id, n_members) VALUES (1, 'H1', 3)")
        )
        conn.execute(
            text(
                "INSERT INTO cohort (run_id, household_id, n_criteria, combination, in_cohort)"
                " VALUES (1, 'H1', 2, 'education+work', :t)"
            ),
            {"t": True},
        )
        conn.execute(
            text(
                "INSERT INTO audit_log (at, os_user, command, run_id, files)"
                " VALUES (:t, 'tester', 'cohort build', 1, '[]')"
            ),
            {"t": "2012-06-02 10:00:00"},
        )
    engine.dispose()


def test_upgrade_from_first_release_keeps_every_row(db_url: str) -> None:
    _fill_first_release(db_url)
    store = open_store(db_url)  # upgrades
    assert current_revision(store.engine) == "0005"
    assert latest_run(store) == 1
    recs = read_table(store, s.records, 1).sort("row")
    assert recs["record_id"].to_list() == ["benefits:1", "benefits:2", "benefits:3"]
    assert recs["dob"].to_list() == [date(1980, 1, 1), date(1980, 1, 2), date(1980, 1, 3)]
    households = read_table(store, s.households, 1)
    assert households.select("household_id", "n_members", "family_ref").rows() == [("H1", 3, None)]
    assert read_table(store, s.cohort, 1)["combination"].to_list() == ["education+work"]
    insp = inspect(store.engine)
    assert [t for t in insp.get_table_names() if insp.get_foreign_keys(t)] == []
    assert {i["name"] for i in insp.get_indexes("records")} == {"ix_records_run_record"}
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version FROM schema_info")).scalar() == 3
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM claims")).scalar() == 0


def test_database_made_before_migrations_is_stamped_then_upgraded(
    db_url: str,
) -> None:
    _fill_first_release(db_url)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    assert current_revision(engine) == "0001"
    engine.dispose()
    store = open_store(db_url)
    assert current_revision(store.engine) == "0005"
    assert read_table(store, s.records, 1).height == 3


def test_database_from_a_newer_release_is_refused(db_url: str) -> None:
    store = open_store(db_url)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    store.engine.dispose()
    with pytest.raises(FamilyMatchError, match="written by a newer familymatch"):
        open_store(db_url)


def test_downgrade_from_0003_and_up_again(db_url: str) -> None:
    """0003 and 0004 are reversible: down to 0002 restores the old claims tables and drops the
    address tables, up again adds them."""
    from alembic import command

    from familymatch.store.migrations import alembic_config

    engine = make_engine(db_url)
    upgrade(engine)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    assert current_revision(engine) == "0002"
    assert "amount" in {c["name"] for c in inspect(engine).get_columns("claims")}
    tables = set(inspect(engine).get_table_names())
    assert "submissions" not in tables and "record_addresses" not in tables
    assert upgrade(engine) == "0005"
    assert {"record_addresses", "addresses"} <= set(inspect(engine).get_table_names())
    assert "amount_pence" in {c["name"] for c in inspect(engine).get_columns("claims")}
    engine.dispose()


def test_upgrade_from_0004_keeps_member_keys_without_person_ids(db_url: str) -> None:
    """0005 adds household_keys.person_id: a build's keys written at 0004 keep a null person
    id, and are compared key by key (each key a member) against a build with person ids."""
    from familymatch.store.families import previous_members
    from familymatch.store.members import member_changes, members_as_people

    engine = make_engine(db_url)
    assert upgrade(engine, "0004") == "0004"
    with engine.begin() as conn:
        _complete_build(conn)
        conn.execute(
            text("INSERT INTO households (run_id, household_id, family_ref) VALUES (1, 'H1', 'F1')")
        )
        for key in ("nino:AB1", "upn:U1"):
            conn.execute(
                text(
                    "INSERT INTO household_keys (run_id, household_id, person_key)"
                    " VALUES (1, 'H1', :k)"
                ),
                {"k": key},
            )
    engine.dispose()
    store = open_store(db_url)  # upgrades
    assert current_revision(store.engine) == "0005"
    old = read_table(store, s.household_keys, 1).sort("person_key")
    assert old.select("person_key", "person_id").rows() == [("nino:AB1", None), ("upn:U1", None)]
    people, by_person = members_as_people(previous_members(store, 1))
    assert not by_person and people["person"].n_unique() == 2
    new = pl.DataFrame(
        {"family_ref": ["F1"] * 2, "person": ["P9"] * 2, "person_key": ["nino:AB1", "name:X"]}
    )
    assert member_changes(people, new).select("joined", "left").rows() == [(0, 1)]
