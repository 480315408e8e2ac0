"""Audit lines that could not be written into a busy SQLite store yet.

A SQLite build holds the store's write lock from its first recorded frame to its commit (minutes
at county scale), and SQLite has one writer at a time. A reading command must not wait for the
build, and must not read without its audit line: so when the store is busy, the line is
appended to an owner-only journal beside the database file (``<db>.audit-pending``, one JSON
object per line, flushed to disk before the command goes on), and the next audit line written
into the store brings every pending line in with it, in the same transaction (see
``familymatch.store.audit``). Appending and bringing in hold an exclusive ``flock`` on the
journal, so no line is lost between the two; the journal is emptied only after the store's
transaction has committed, and a line already in the store (a crash between that commit and the
emptying) is not brought in twice.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Engine

from familymatch.store.engine import sqlite_path

SUFFIX = ".audit-pending"


def journal_path(engine: Engine) -> Path | None:
    """The journal of a SQLite file store (None for PostgreSQL and in-memory SQLite, which
    never make a reader wait for a build)."""
    path = sqlite_path(engine.url.render_as_string(hide_password=False))
    return None if path is None else Path(str(path) + SUFFIX)


@contextmanager
def _locked(path: Path, create: bool) -> Iterator[BinaryIO | None]:
    """The journal opened for reading and appending under an exclusive lock (None if it does
    not exist and ``create`` is false)."""
    flags = os.O_RDWR | os.O_APPEND | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileNotFoundError:
        yield None
        return
    with os.fdopen(fd, "r+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield handle


def append(path: Path, line: dict[str, Any]) -> None:
    """Add one audit line to the journal and flush it to disk."""
    with _locked(path, create=True) as handle:
        assert handle is not None
        handle.write(json.dumps(line, default=str).encode() + b"\n")
        handle.flush()
        os.fsync(handle.fileno())


def _lines(handle: BinaryIO) -> list[dict[str, Any]]:
    handle.seek(0)
    return [json.loads(raw) for raw in handle.read().splitlines() if raw.strip()]


@contextmanager
def pending(path: Path | None) -> Iterator[list[dict[str, Any]]]:
    """The journal's lines, held locked: if the block ends without an exception they have been
    written into the store, and the journal is emptied."""
    with _locked(path, create=False) if path else _nothing() as handle:
        lines = _lines(handle) if handle else []
        yield lines
        if handle and lines:
            handle.truncate(0)
            handle.flush()
            os.fsync(handle.fileno())


def read(path: Path | None) -> list[dict[str, Any]]:
    """The journal's lines, left in it (for showing the log while a build records)."""
    with _locked(path, create=False) if path else _nothing() as handle:
        return _lines(handle) if handle else []


@contextmanager
def _nothing() -> Iterator[None]:
    yield None
