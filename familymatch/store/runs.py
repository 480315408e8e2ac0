"""Recording runs atomically and reading them back.

A run is recorded in four steps:

1. the build lock: a ``locks`` row (name ``build``, this process's pid and host), inserted in its
   own transaction; a second writer finds the row and waits (``wait`` seconds) or refuses with
   ``another build (run N) is in progress on <database>``. A lock left by a dead process on this
   host is removed; ``break_lock`` removes one left by another machine;
2. holding the lock, every ``running`` row left by a dead writer is marked ``failed`` and this
   run's row is inserted with status ``running``;
3. the caller computes and hands over its frames (``RunWriter.add``);
4. every frame is written and the run marked ``complete`` in ONE transaction (bulk
   ``executemany`` / ``COPY``) on a writer thread, then the lock row is deleted. A build starts
   that transaction early (``RunWriter.write_while_computing``), so its frames are written as
   they become final while its later stages compute.

A run killed at any point (an exception, Ctrl-C, ``kill -9``, a full disk) leaves no data: the
database rolls the last transaction back, and the ``running`` row, which readers ignore (they
only see ``complete`` runs), is marked ``failed`` by the next writer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from familymatch import __version__
from familymatch.errors import FamilyMatchError
from familymatch.logs import get_logger
from familymatch.store import schema as s
from familymatch.store.audit import audit, command_line, now, os_user
from familymatch.store.bulk import _polars_type, read_frame
from familymatch.store.engine import Store, as_engine, is_busy, label_of
from familymatch.store.writer import FrameWriter

log = get_logger(__name__)
__all__ = ["audit", "recording_run", "RunWriter", "find_previous_import", "read_table"]
LOCK_NAME = "build"
POLL_SECONDS = 0.25


# --------------------------------------------------------------------------- the build lock


@dataclass(frozen=True)
class LockHolder:
    run_id: int | None
    pid: int | None
    host: str | None
    acquired_at: dt.datetime | None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_holder(store: Store | Engine) -> LockHolder | None:
    """Who holds the build lock (None if nobody)."""
    with as_engine(store).connect() as conn:
        row = conn.execute(select(s.locks).where(s.locks.c.name == LOCK_NAME)).first()
    if row is None:
        return None
    return LockHolder(row.run_id, row.pid, row.host, row.acquired_at)


def _holder_kind(engine: Engine, holder: LockHolder) -> str:
    if holder.run_id is None:
        return "build"
    with engine.connect() as conn:
        kind = conn.execute(select(s.runs.c.kind).where(s.runs.c.id == holder.run_id)).scalar()
    return str(kind or "build")


def _clear_dead_lock(engine: Engine, holder: LockHolder) -> bool:
    """Remove the lock if its process is dead on this host; True if removed."""
    if holder.host != socket.gethostname() or holder.pid is None or _pid_alive(holder.pid):
        return False
    with engine.begin() as conn:
        gone = conn.execute(
            delete(s.locks).where(
                s.locks.c.name == LOCK_NAME,
                s.locks.c.pid == holder.pid,
                s.locks.c.host == holder.host,
            )
        ).rowcount
    if gone:
        log.warning("removed the build lock of process %s, which is no longer running", holder.pid)
    return bool(gone)


def _insert_lock(engine: Engine, host: str) -> str:
    """Try to insert this process's lock row: "taken", "held" (another row is there) or
    "busy" (SQLite: another connection holds the write lock past the busy timeout, as a build
    writing its frames does)."""
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(s.locks).values(
                    name=LOCK_NAME, run_id=None, pid=os.getpid(), host=host, acquired_at=now()
                )
            )
        return "taken"
    except IntegrityError:
        return "held"
    except OperationalError as exc:
        if is_busy(exc):
            return "busy"
        raise


def acquire_lock(store: Store | Engine, wait: float = 0.0) -> None:
    """Take the build lock, waiting up to ``wait`` seconds for another writer to finish."""
    engine = as_engine(store)
    deadline = time.monotonic() + max(wait, 0.0)
    host = socket.gethostname()
    while True:
        # a live holder is seen by reading, without waiting on a build's write lock to insert
        holder, outcome = lock_holder(engine), "held"
        if holder is None:
            outcome = _insert_lock(engine, host)
            if outcome == "taken":
                return
            holder = lock_holder(engine)
        if holder is None:  # released meanwhile, or SQLite busy with a writer holding no lock
            if outcome == "busy" and time.monotonic() >= deadline:
                raise FamilyMatchError(
                    f"{label_of(store)} is busy with another writer; try again when it has "
                    "finished."
                )
            continue
        if _clear_dead_lock(engine, holder):
            continue
        if time.monotonic() >= deadline:
            run = f"run {holder.run_id}" if holder.run_id is not None else "starting"
            raise FamilyMatchError(
                f"another {_holder_kind(engine, holder)} ({run}) is in progress on "
                f"{label_of(store)} (process {holder.pid} on {holder.host}); wait for it to "
                "finish, or if that process is gone run `familymatch db unlock`."
            )
        time.sleep(POLL_SECONDS)


def release_lock(store: Store | Engine) -> None:
    """Give up this process's build lock."""
    with as_engine(store).begin() as conn:
        conn.execute(
            delete(s.locks).where(s.locks.c.name == LOCK_NAME, s.locks.c.pid == os.getpid())
        )


def break_lock(store: Store | Engine) -> LockHolder | None:
    """Remove the build lock whoever holds it (for a writer that died on another machine);
    its run is marked failed. Returns the holder removed."""
    engine = as_engine(store)
    holder = lock_holder(engine)
    with engine.begin() as conn:
        conn.execute(delete(s.locks).where(s.locks.c.name == LOCK_NAME))
        if holder is not None and holder.run_id is not None:
            conn.execute(
                update(s.runs)
                .where(s.runs.c.id == holder.run_id, s.runs.c.status == "running")
                .values(status="failed", finished_at=now())
            )
    return holder


# --------------------------------------------------------------------------- recording a run


@dataclass
class RunWriter:
    """Collects a run's frames; ``commit`` writes them all in one transaction. After
    ``write_while_computing`` they are written as they are added, on a thread of their own, in
    that same transaction (familymatch/store/writer.py)."""

    store: Store
    run_id: int
    frames: list[tuple[Table, pl.DataFrame]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # rows written, by table
    family_refs: pl.DataFrame | None = None
    writer: FrameWriter | None = None

    def write_while_computing(self) -> None:
        """From now on each frame ``add`` receives is written at once, beside the caller's
        work, instead of at ``commit`` (the run's transaction, and SQLite's write lock, begin
        with the first). Households need their family references assigned before they are
        added."""
        if self.writer is None:
            self.writer = FrameWriter(self.store.engine, self.run_id)
            for table, frame in self.frames:
                self.writer.put(table, self._with_refs(table, frame))
            self.frames = []

    def add(self, table: Table, frame: pl.DataFrame) -> None:
        """Hand over ``frame`` for ``table`` (written at commit, or at once: see above)."""
        if self.writer is not None:
            self.writer.put(table, self._with_refs(table, frame))
        else:
            self.frames.append((table, frame))

    def assign_family_refs(self, members: pl.DataFrame) -> pl.DataFrame:
        """Give this run's households stable family references (see
        :func:`familymatch.store.families.assign_stable_household_ids`); ``members`` holds
        household_id, person_key and optionally person_id (the build's person each key belongs
        to). The households frame gets a ``family_ref`` column when written and the members'
        keys are kept for the next run. Returns household_id, family_ref,
        previous_household_id, status (kept/new)."""
        from familymatch.store.families import assign_stable_household_ids

        refs = assign_stable_household_ids(self.store, members)
        self.family_refs = refs
        cols = [c for c in ("household_id", "person_key", "person_id") if c in members.columns]
        kept = members.select(cols).drop_nulls(["household_id", "person_key"])
        self.add(s.household_keys, kept.unique(maintain_order=True))
        return refs

    def _with_refs(self, table: Table, frame: pl.DataFrame) -> pl.DataFrame:
        if table is not s.households or self.family_refs is None:
            return frame
        refs = self.family_refs.select("household_id", "family_ref")
        return frame.drop("family_ref", strict=False).join(refs, on="household_id", how="left")

    def commit(self) -> None:
        """Write what is not yet written, mark the run complete, commit."""
        self.write_while_computing()
        assert self.writer is not None
        summary = json.dumps(self.summary, default=str, sort_keys=True)

        def complete(conn: Connection) -> None:
            conn.execute(
                update(s.runs)
                .where(s.runs.c.id == self.run_id)
                .values(status="complete", finished_at=now(), summary=summary)
            )

        self.writer.finish(complete)
        self.rows, self.seconds = self.writer.rows, self.writer.seconds

    def abort(self) -> None:
        """Roll back whatever the writer has written (nothing if it has not started)."""
        if self.writer is not None:
            self.writer.abort()


RUN_FIELDS = frozenset(c.name for c in s.runs.columns) - {
    "id",
    "kind",
    "status",
    "started_at",
    "finished_at",
    "summary",
    "parameters",
}


def _start_run(engine: Engine, kind: str, params: dict[str, Any], fields: dict[str, Any]) -> int:
    unknown = set(fields) - RUN_FIELDS
    if unknown:
        raise FamilyMatchError(f"store: runs have no field(s) {', '.join(sorted(unknown))}.")
    values = {
        "software_version": __version__,
        "os_user": os_user(),
        "command_line": command_line(),
        **fields,
    }
    with engine.begin() as conn:
        # we hold the lock, so a run still marked running was left by a writer that died
        stale = conn.execute(
            update(s.runs)
            .where(s.runs.c.status == "running")
            .values(status="failed", finished_at=now())
        ).rowcount
        if stale:
            log.warning("marked %s run(s) left running by a stopped process as failed", stale)
        run_id = int(
            conn.execute(
                insert(s.runs).values(
                    kind=kind,
                    status="running",
                    started_at=now(),
                    parameters=json.dumps(params, default=str, sort_keys=True),
                    **values,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        conn.execute(
            update(s.locks)
            .where(s.locks.c.name == LOCK_NAME, s.locks.c.pid == os.getpid())
            .values(run_id=run_id)
        )
    return run_id


@contextlib.contextmanager
def recording_run(
    store: Store, kind: str, *, wait: float = 0.0, **fields: Any
) -> Iterator[RunWriter]:
    """Record a run: take the lock (waiting up to ``wait`` s), yield a writer, write everything
    and mark the run complete when the block ends; on any failure the run is marked failed and
    nothing it wrote is visible. ``fields`` are ``runs`` columns (``parameters`` may be a dict)."""
    params = fields.pop("parameters", None) or {}
    acquire_lock(store, wait)
    try:
        run_id = _start_run(store.engine, kind, params, fields)
        writer = RunWriter(store, run_id)
        try:
            yield writer
            writer.commit()
        except BaseException:
            writer.abort()
            with contextlib.suppress(Exception), store.engine.begin() as conn:
                conn.execute(
                    update(s.runs)
                    .where(s.runs.c.id == run_id)
                    .values(status="failed", finished_at=now())
                )
            raise
    finally:
        with contextlib.suppress(Exception):
            release_lock(store)


def delete_run(store: Store | Engine, run_id: int) -> None:
    """Remove a run and its rows from every table, in one transaction (for benchmarks and for
    clearing failed runs; the audit log keeps its lines). A run in progress is refused."""
    engine = as_engine(store)
    holder = lock_holder(engine)
    if holder is not None and holder.run_id == run_id:
        raise FamilyMatchError(f"run {run_id} is in progress on {label_of(store)}.")
    with engine.begin() as conn:
        for table in s.RUN_TABLES:
            conn.execute(delete(table).where(table.c.run_id == run_id))
        conn.execute(delete(s.runs).where(s.runs.c.id == run_id))


# --------------------------------------------------------------------------- reading runs


def latest_run(store: Store | Engine, kind: str = "build", before: int | None = None) -> int | None:
    """The newest complete run of ``kind`` (optionally older than run ``before``)."""
    query = select(s.runs.c.id).where(s.runs.c.kind == kind, s.runs.c.status == "complete")
    if before is not None:
        query = query.where(s.runs.c.id < before)
    with as_engine(store).connect() as conn:
        found = conn.execute(query.order_by(s.runs.c.id.desc()).limit(1)).scalar()
    return None if found is None else int(found)


def run_info(store: Store | Engine, run_id: int) -> dict[str, Any]:
    """The ``runs`` row of a complete run (an error naming the run otherwise)."""
    with as_engine(store).connect() as conn:
        row = conn.execute(select(s.runs).where(s.runs.c.id == run_id)).mappings().first()
    if row is None or row["status"] != "complete":
        state = "does not exist" if row is None else f"is {row['status']}, not complete"
        raise FamilyMatchError(f"run {run_id} {state} in {label_of(store)}.")
    return dict(row)


def list_runs(store: Store | Engine) -> pl.DataFrame:
    """Every run (any status): id, kind, status, started_at, finished_at, reference_date,
    rule_set, os_user."""
    cols = [
        s.runs.c.id,
        s.runs.c.kind,
        s.runs.c.status,
        s.runs.c.started_at,
        s.runs.c.finished_at,
        s.runs.c.reference_date,
        s.runs.c.rule_set,
        s.runs.c.os_user,
    ]
    with as_engine(store).connect() as conn:
        rows = conn.execute(select(*cols).order_by(s.runs.c.id)).fetchall()
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema=[c.name for c in cols],
        orient="row",
        infer_schema_length=None,
    )


def read_table(store: Store | Engine, table: Table, run_id: int, **equals: Any) -> pl.DataFrame:
    """Rows of ``table`` for one complete run (optionally filtered by column equality)."""
    run_info(store, run_id)
    with as_engine(store).connect() as conn:
        return read_frame(conn, table, run_id, **equals)


def read_kind(store: Store | Engine, table: Table, kind: str) -> pl.DataFrame:
    """Rows of ``table`` from every complete run of ``kind`` (e.g. every attachment of every
    ``attach`` run), with their ``run_id``, oldest run first."""
    from familymatch.store.bulk import frame_of

    cols = list(table.columns)
    query = (
        select(*cols)
        .join(s.runs, s.runs.c.id == table.c.run_id)
        .where(s.runs.c.kind == kind, s.runs.c.status == "complete")
        .order_by(table.c.run_id)
    )
    with as_engine(store).connect() as conn:
        return frame_of(conn.execute(query).fetchall(), cols)


@dataclass(frozen=True)
class PreviousImport:
    run_id: int
    source: str
    path: str
    finished_at: dt.datetime | None


def find_previous_import(
    store: Store | Engine, sha256: str, source: str | None = None
) -> PreviousImport | None:
    """The newest complete run that already imported a file with this SHA-256 (for ``source``
    if given), so a caller can skip re-importing it and say so."""
    query = (
        select(s.source_files.c.run_id, s.source_files.c.source, s.source_files.c.path)
        .add_columns(s.runs.c.finished_at)
        .join(s.runs, s.runs.c.id == s.source_files.c.run_id)
        .where(s.source_files.c.sha256 == sha256, s.runs.c.status == "complete")
    )
    if source is not None:
        query = query.where(s.source_files.c.source == source)
    with as_engine(store).connect() as conn:
        row = conn.execute(query.order_by(s.source_files.c.run_id.desc()).limit(1)).first()
    if row is None:
        return None
    return PreviousImport(int(row.run_id), row.source, row.path, row.finished_at)


IN_CHUNK = 900  # values per IN (...) list: well inside every SQLite build's variable limit


def read_rows_in(
    store: Store, table: Table, run_id: int, column: str, values: list[str]
) -> pl.DataFrame:
    """Rows of ``table`` for one complete run whose ``column`` is one of ``values`` (a few
    hundred families' rows without reading a city's: the tables are indexed by run and
    household or record)."""
    run_info(store, run_id)
    cols = [c for c in table.columns if c.name != "run_id"]
    rows: list[tuple[Any, ...]] = []
    uniq = sorted(set(values))
    with store.engine.connect() as conn:
        for start in range(0, len(uniq), IN_CHUNK):
            chunk = uniq[start : start + IN_CHUNK]
            query = select(*cols).where(table.c.run_id == run_id, table.c[column].in_(chunk))
            rows.extend(tuple(r) for r in conn.execute(query))
    types = {c.name: _polars_type(c.type) for c in cols}
    schema = {n: (t if t is not None else pl.Datetime("us")) for n, t in types.items()}
    return pl.DataFrame(rows, schema=schema, orient="row")
