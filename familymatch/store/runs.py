"""Opening the store, recording runs atomically, reading them back.

A build is recorded in three steps: (1) a ``runs`` row with status ``running`` and a ``locks``
row, committed; (2) every frame written in ONE transaction (bulk ``executemany`` in chunks);
(3) status ``complete`` in the same transaction. A build killed at any point leaves either
nothing or a ``running`` row with no data, which readers ignore and the next build marks
``failed``. A second build on the same database while one is running is refused with a message
naming the run in progress.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from familymatch import __version__
from familymatch.errors import FamilyMatchError
from familymatch.logs import get_logger
from familymatch.store import schema as s

log = get_logger(__name__)
CHUNK = 20_000


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database>"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return str(os.getuid())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Store:
    engine: Engine
    url: str

    @property
    def label(self) -> str:
        return safe_url(self.url)


def open_store(url: str) -> Store:
    """Open (creating if needed) the database at ``url``; SQLite files are owner-only."""
    sa_url = make_url(url)
    is_sqlite = sa_url.get_backend_name() == "sqlite"
    if is_sqlite and sa_url.database and sa_url.database != ":memory:":
        path = Path(sa_url.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        os.chmod(path, 0o600)
    try:
        engine = create_engine(url, future=True)
    except Exception as exc:
        raise FamilyMatchError(
            f"database {safe_url(url)}: cannot be opened ({type(exc).__name__})."
        ) from None
    if is_sqlite:

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

    try:
        s.metadata.create_all(engine)
        with engine.begin() as conn:
            if conn.execute(select(s.schema_info.c.version)).first() is None:
                conn.execute(insert(s.schema_info).values(version=s.SCHEMA_VERSION))
    except OperationalError as exc:
        raise FamilyMatchError(
            f"database {safe_url(url)}: cannot be reached or created ({exc.orig.__class__.__name__})."
        ) from None
    if is_sqlite and sa_url.database and sa_url.database != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            p = Path(sa_url.database + suffix)
            if p.exists():
                os.chmod(p, 0o600)
    return Store(engine=engine, url=url)


def bulk_insert(conn: Connection, table: Table, frame: pl.DataFrame, run_id: int) -> None:
    """Insert a frame's rows through the driver's executemany (SQLite) or COPY (PostgreSQL),
    not row-by-row ORM inserts. Columns the frame lacks are left null."""
    cols = [c.name for c in table.columns if c.name == "run_id" or c.name in frame.columns]
    sub = frame.with_columns(pl.lit(run_id).alias("run_id")).select(cols)
    if sub.height == 0:
        return
    dialect = conn.dialect.name
    quoted = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in cols)
    name = conn.dialect.identifier_preparer.format_table(table)
    if dialect == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {name} ({quoted}) FROM STDIN") as copy:  # type: ignore[union-attr]
            for row in sub.iter_rows():
                copy.write_row(row)
        return
    if dialect == "sqlite":
        sub = sub.with_columns(
            [pl.col(c).dt.strftime("%Y-%m-%d") for c, t in sub.schema.items() if t == pl.Date]
        )
    marks = ", ".join(["?" if dialect == "sqlite" else "%s"] * len(cols))
    sql = f"INSERT INTO {name} ({quoted}) VALUES ({marks})"
    cursor = conn.connection.cursor()
    try:
        for start in range(0, sub.height, CHUNK):
            cursor.executemany(sql, sub.slice(start, CHUNK).rows())
    finally:
        cursor.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _acquire_lock(store: Store, run_id: int) -> None:
    host = socket.gethostname()
    for attempt in range(2):
        try:
            with store.engine.begin() as conn:
                conn.execute(
                    insert(s.locks).values(
                        name="build", run_id=run_id, pid=os.getpid(), host=host, acquired_at=_now()
                    )
                )
            return
        except IntegrityError:
            with store.engine.begin() as conn:
                held = conn.execute(select(s.locks).where(s.locks.c.name == "build")).first()
                if held is None:
                    continue
                if held.host == host and not _pid_alive(int(held.pid)) and attempt == 0:
                    conn.execute(delete(s.locks).where(s.locks.c.name == "build"))
                    conn.execute(
                        update(s.runs)
                        .where(s.runs.c.id == held.run_id, s.runs.c.status == "running")
                        .values(status="failed", finished_at=_now())
                    )
                    continue
            with store.engine.begin() as conn:
                conn.execute(delete(s.runs).where(s.runs.c.id == run_id))
            raise FamilyMatchError(
                f"another build (run {held.run_id}) is in progress on {store.label}; "
                "wait for it to finish."
            ) from None
    raise FamilyMatchError(f"could not take the build lock on {store.label}.")


@contextlib.contextmanager
def recording_run(store: Store, kind: str, **fields: Any) -> Iterator[RunWriter]:
    """Start a run, yield a writer; on success the run is complete, on failure it is failed."""
    params = fields.pop("parameters", {})
    with store.engine.begin() as conn:
        # runs left 'running' by a process that died are marked failed
        stale = (
            conn.execute(select(s.runs.c.id).where(s.runs.c.status == "running")).scalars().all()
        )
        held = conn.execute(select(s.locks.c.run_id)).scalars().all()
        for rid in stale:
            if rid not in held:
                conn.execute(update(s.runs).where(s.runs.c.id == rid).values(status="failed"))
        run_id = int(
            conn.execute(
                insert(s.runs).values(
                    kind=kind,
                    status="running",
                    started_at=_now(),
                    software_version=__version__,
                    os_user=_os_user(),
                    parameters=json.dumps(params, default=str, sort_keys=True),
                    **fields,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
    _acquire_lock(store, run_id)
    writer = RunWriter(store, run_id)
    try:
        yield writer
        writer.commit()
    except BaseException:
        with store.engine.begin() as conn:
            conn.execute(
                update(s.runs)
                .where(s.runs.c.id == run_id)
                .values(status="failed", finished_at=_now())
            )
        raise
    finally:
        with store.engine.begin() as conn:
            conn.execute(delete(s.locks).where(s.locks.c.run_id == run_id))


class RunWriter:
    """Collects a run's frames and writes them in one transaction."""

    def __init__(self, store: Store, run_id: int) -> None:
        self.store = store
        self.run_id = run_id
        self.frames: list[tuple[Table, pl.DataFrame]] = []
        self.summary: dict[str, Any] = {}

    def add(self, table: Table, frame: pl.DataFrame) -> None:
        self.frames.append((table, frame))

    def commit(self) -> None:
        with self.store.engine.begin() as conn:
            for table, frame in self.frames:
                bulk_insert(conn, table, frame, self.run_id)
            conn.execute(
                update(s.runs)
                .where(s.runs.c.id == self.run_id)
                .values(
                    status="complete",
                    finished_at=_now(),
                    summary=json.dumps(self.summary, default=str, sort_keys=True),
                )
            )


def latest_run(store: Store, kind: str = "build") -> int | None:
    with store.engine.connect() as conn:
        return conn.execute(
            select(s.runs.c.id)
            .where(s.runs.c.kind == kind, s.runs.c.status == "complete")
            .order_by(s.runs.c.id.desc())
            .limit(1)
        ).scalar()


def run_info(store: Store, run_id: int) -> dict[str, Any]:
    with store.engine.connect() as conn:
        row = conn.execute(select(s.runs).where(s.runs.c.id == run_id)).mappings().first()
    if row is None or row["status"] != "complete":
        raise FamilyMatchError(f"run {run_id} is not a complete run in {store.label}.")
    return dict(row)


def read_table(store: Store, table: Table, run_id: int, **equals: Any) -> pl.DataFrame:
    """Rows of ``table`` for one complete run (optionally filtered by column equality)."""
    run_info(store, run_id)
    q = select(*[c for c in table.columns if c.name != "run_id"]).where(table.c.run_id == run_id)
    for col, value in equals.items():
        q = q.where(table.c[col] == value)
    with store.engine.connect() as conn:
        result = conn.execute(q)
        rows = result.fetchall()
        names = list(result.keys())
    return pl.DataFrame(
        [tuple(r) for r in rows], schema=names, orient="row", infer_schema_length=None
    )


def audit(store: Store, command: str, run_id: int | None, files: list[tuple[str, str]]) -> None:
    """Record who ran which command on which run and files (the audit log)."""
    with store.engine.begin() as conn:
        conn.execute(
            insert(s.audit_log).values(
                at=_now(),
                os_user=_os_user(),
                command=command,
                run_id=run_id,
                files=json.dumps([{"path": p, "sha256": h} for p, h in files]),
            )
        )
