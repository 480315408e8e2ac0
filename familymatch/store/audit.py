"""The audit log: who (OS user) ran which command, when, on which run and which files (with
their SHA-256), for every command that reads or writes personal data."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sys

import polars as pl
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import OperationalError

from familymatch.errors import FamilyMatchError
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


def audit(
    store: Store | Engine,
    command: str,
    run_id: int | None,
    files: list[tuple[str, str]] | None = None,
) -> None:
    """Record that the OS user ran ``command`` now, on run ``run_id``, reading/writing ``files``
    (path, sha256). On SQLite a build writing its frames holds the write lock until it
    commits; past the busy timeout this is refused in one sentence (the command stops: nothing
    is read without its audit line)."""
    try:
        with as_engine(store).begin() as conn:
            conn.execute(
                insert(s.audit_log).values(
                    at=now(),
                    os_user=os_user(),
                    command=mask_passwords(command),
                    run_id=run_id,
                    files=json.dumps([{"path": str(p), "sha256": h} for p, h in files or []]),
                )
            )
    except OperationalError as exc:
        if not is_busy(exc):
            raise
        raise FamilyMatchError(
            f"{label_of(store)} is busy: a build is recording into it, and this command's "
            "audit line cannot be written until it has finished; try again then."
        ) from None


def read_audit_log(store: Store | Engine, run_id: int | None = None) -> pl.DataFrame:
    """The audit log, oldest first: id, at, os_user, command, run_id, n_files, files (JSON list
    of {path, sha256})."""
    query = select(s.audit_log).order_by(s.audit_log.c.id)
    if run_id is not None:
        query = query.where(s.audit_log.c.run_id == run_id)
    with as_engine(store).connect() as conn:
        rows = conn.execute(query).fetchall()
    return pl.DataFrame(
        {
            "id": [r.id for r in rows],
            "at": [_utc_naive(r.at) for r in rows],
            "os_user": [r.os_user for r in rows],
            "command": [r.command for r in rows],
            "run_id": [r.run_id for r in rows],
            "n_files": [len(json.loads(r.files or "[]")) for r in rows],
            "files": [r.files or "[]" for r in rows],
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
