"""A run's frames written on a thread of their own while the caller computes the next ones.

A build's records are final after the standardise stage and its pairs after the link stage,
minutes before the rules finish at city scale; written as they come, on one connection in one
transaction (``BEGIN IMMEDIATE`` on SQLite at the first frame, ``COMMIT`` after the last), they
take the second core while the link stage computes (``sqlite3_step`` and psycopg's ``COPY``
release the GIL). Nothing is visible to other connections until the commit, and any failure,
in the caller or here, rolls everything back (docs/decisions/0015, 9).

The writer holds only the frames it has been handed and not yet written (never a copy): each is
dropped as soon as it is in the database.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, Table

from familymatch.store.bulk import bulk_insert
from familymatch.store.engine import IMMEDIATE, SQLITE_CACHE_KB

# the writer's SQLite page cache: it runs beside the link stage's peak, and 64 MB buys it nothing
WRITER_CACHE_KB = 8_192
ABORT_POLL_S = 0.05

Last = Callable[[Connection], None]


@contextlib.contextmanager
def _small_cache(conn: Connection) -> Iterator[None]:
    """SQLite's page cache at ``WRITER_CACHE_KB`` while the writer writes (rows come in index
    order, so only each B-tree's right edge is touched: decision 0015, 11), the engine's
    again before the connection goes back to the pool."""
    sqlite = conn.dialect.name == "sqlite"
    driver: Any = conn.connection.driver_connection
    if sqlite:
        driver.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KB}")
    try:
        yield
    finally:
        if sqlite:
            with contextlib.suppress(Exception):
                driver.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}")


class _Stop(Exception):
    """The caller gave up the run: roll back."""


class FrameWriter:
    """Writes ``(table, frame)`` in the order given, each with ``run_id``, on a thread holding
    the run's one transaction; ``finish`` runs ``last`` on the same connection and commits,
    ``abort`` rolls back. ``rows`` and ``seconds`` are by table, as written."""

    def __init__(self, engine: Engine, run_id: int) -> None:
        self.engine, self.run_id = engine, run_id
        self.rows: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self._queue: queue.SimpleQueue[tuple[Table, pl.DataFrame] | Last | None] = (
            queue.SimpleQueue()
        )
        self._error: BaseException | None = None
        self._driver: Any = None  # the DB-API connection, to interrupt a statement on abort
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"run-{run_id}-writer", daemon=True)
        self._thread.start()

    def put(self, table: Table, frame: pl.DataFrame) -> None:
        """Hand over a final frame (raises the writer's error if it has failed)."""
        self._raise_failure()
        self._queue.put((table, frame))

    def finish(self, last: Last) -> None:
        """Write what is queued, run ``last(conn)``, commit; raises the writer's error."""
        self._queue.put(last)
        self._thread.join()
        self._raise_failure()

    def abort(self) -> None:
        """Stop at once (the statement running is interrupted) and roll back."""
        self._stopping.set()
        self._queue.put(None)
        while self._thread.is_alive():
            # an interrupt only stops a statement running, so it is repeated until one has
            # been stopped or the frame is done (statements are a third of the writing)
            driver = self._driver
            if driver is not None:
                with contextlib.suppress(Exception):
                    # sqlite3: interrupt() may be called from any thread; psycopg: cancel()
                    (driver.interrupt if hasattr(driver, "interrupt") else driver.cancel)()
            self._thread.join(ABORT_POLL_S)

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            first = self._queue.get()  # the transaction (and SQLite's write lock) starts here
            if first is None or self._stopping.is_set():
                return
            with self.engine.connect() as plain:
                conn = plain.execution_options(**{IMMEDIATE: True})
                self._driver = conn.connection.driver_connection
                with _small_cache(conn), conn.begin():  # commits at the end, or rolls back
                    self._write_all(conn, first)
        except _Stop:
            pass
        except BaseException as exc:
            if not self._stopping.is_set():  # after abort, the interrupt is expected
                self._error = exc
        finally:
            self._driver = None

    def _write_all(self, conn: Connection, item: tuple[Table, pl.DataFrame] | Last | None) -> None:
        while True:
            if item is None or self._stopping.is_set():
                raise _Stop
            if not isinstance(item, tuple):
                item(conn)
                return
            table, frame = item
            item = None
            start = time.perf_counter()
            n = bulk_insert(conn, table, frame, self.run_id)
            del frame  # the caller's reference, if it still holds one, is the only one left
            name = table.name
            self.rows[name] = self.rows.get(name, 0) + n
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            item = self._queue.get()
