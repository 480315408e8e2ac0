"""The audit log: who (OS user) ran which command, when, on which run and which files (with
their SHA-256), for every command that reads or writes personal data."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import OperationalError

from familymatch.errors import FamilyMatchError
from familymatch.store import audit_journal
from familymatch.store import engine as engine_module
from familymatch.store import schema as s
from familymatch.store.engine import Store, as_engine, is_busy, label_of, mask_passwords


def os_user() -> str:
    """The operating-system user running this process."""
    try:
        return getpass.getuser()
    except Exception:
        return str(os.getuid())


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def command_line() -> str:
    """This process's command line, with any database password masked."""
    return mask_passwords(" ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]]))


def _utc_naive(value: dt.datetime | None) -> dt.datetime | None:
    """A timestamp as naive UTC (SQLite returns naive UTC, PostgreSQL aware)."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


AUDIT_WAIT_MS = 1_000  # how long an audit line waits for SQLite's write lock before the journal


def audit(
    store: Store | Engine,
    command: str,
    run_id: int | None,
    files: list[tuple[str, str]] | None = None,
) -> None:
    """Record that the OS user ran ``command`` now, on run ``run_id``, reading/writing ``files``
    (path, sha256). A SQLite store whose write lock a recording build holds gets the line in
    its journal instead (``audit_journal``), and the next line written into the store brings it
    in: the command neither waits for the build nor goes on without its line."""
    line = {
        "at": now(),
        "os_user": os_user(),
        "command": mask_passwords(command),
        "run_id": run_id,
        "files": json.dumps([{"path": str(p), "sha256": h} for p, h in files or []]),
    }
    engine = as_engine(store)
    journal = audit_journal.journal_path(engine)
    try:
        _write(engine, journal, [line])
    except OperationalError as exc:
        if not is_busy(exc):
            raise
        if journal is None:
            raise FamilyMatchError(
                f"{label_of(store)} is busy: a build is recording into it, and this command's "
                "audit line cannot be written until it has finished; try again then."
            ) from None
        audit_journal.append(journal, line)


def _write(engine: Engine, journal: Path | None, lines: list[dict[str, Any]]) -> None:
    """Insert ``lines`` and the journal's pending lines in one transaction, waiting at most
    ``AUDIT_WAIT_MS`` for SQLite's write lock."""
    with (
        engine.connect() as conn,
        _short_wait(conn),
        audit_journal.pending(journal) as old,
        conn.begin(),
    ):
        # a pending line found in the store was brought in before a crash left it behind
        fresh = [row for row in map(_parsed, old) if not _already_in(conn, row)]
        for row in [*fresh, *lines]:
            conn.execute(insert(s.audit_log).values(**row))


@contextmanager
def _short_wait(conn: Connection) -> Iterator[None]:
    """SQLite's busy timeout lowered for this connection (set on the driver's connection, so
    no transaction begins)."""
    raw = conn.connection.dbapi_connection if conn.dialect.name == "sqlite" else None
    if raw is not None:
        raw.execute(f"PRAGMA busy_timeout={AUDIT_WAIT_MS}")
    try:
        yield
    finally:
        if raw is not None:
            raw.execute(f"PRAGMA busy_timeout={engine_module.BUSY_TIMEOUT_MS}")


def _parsed(line: dict[str, Any]) -> dict[str, Any]:
    """A journal line as the row it stands for."""
    return {**line, "at": dt.datetime.fromisoformat(line["at"])}


def _already_in(conn: Connection, row: dict[str, Any]) -> bool:
    log = s.audit_log.c
    found = conn.execute(
        select(log.id).where(
            log.at == row["at"], log.os_user == row["os_user"], log.command == row["command"]
        )
    ).first()
    return found is not None


def read_audit_log(store: Store | Engine, run_id: int | None = None) -> pl.DataFrame:
    """The audit log, oldest first: id, at, os_user, command, run_id, n_files, files (JSON list
    of {path, sha256}). Lines still in the journal (a build is recording) come last, id null."""
    engine = as_engine(store)
    journal = audit_journal.journal_path(engine)
    if journal is not None and journal.exists():
        try:
            _write(engine, journal, [])  # bring pending lines in first, if the store is free
        except OperationalError as exc:
            if not is_busy(exc):
                raise
    query = select(s.audit_log).order_by(s.audit_log.c.id)
    if run_id is not None:
        query = query.where(s.audit_log.c.run_id == run_id)
    with engine.connect() as conn:
        rows = [r._asdict() for r in conn.execute(query).fetchall()]
    waiting = [{**_parsed(x), "id": None} for x in audit_journal.read(journal)]
    rows += [r for r in waiting if run_id is None or r["run_id"] == run_id]
    return pl.DataFrame(
        {
            "id": [r["id"] for r in rows],
            "at": [_utc_naive(r["at"]) for r in rows],
            "os_user": [r["os_user"] for r in rows],
            "command": [r["command"] for r in rows],
            "run_id": [r["run_id"] for r in rows],
            "n_files": [len(json.loads(r["files"] or "[]")) for r in rows],
            "files": [r["files"] or "[]" for r in rows],
        },
        schema={
            "id": pl.Int64,
            "at": pl.Datetime("us"),
            "os_user": pl.String,
            "command": pl.String,
            "run_id": pl.Int64,
            "n_files": pl.Int64,
            "files": pl.String,
        },
    )
