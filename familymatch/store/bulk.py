"""Bulk writes and reads of polars frames: multi-row ``INSERT``s (``executemany``) in chunks on
SQLite, ``COPY`` on PostgreSQL; never row-by-row ORM inserts.

Writes happen on a connection the caller holds inside its transaction, so a run's frames commit
or roll back together.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import polars as pl
from sqlalchemy import Connection, Table, select

from familymatch.errors import FamilyMatchError

SQLITE_CHUNK = 10_000  # rows gathered (and held as Python values) at a time
SQLITE_VARIABLES = 999  # bound values per statement: the lowest limit of any SQLite build
COPY_CHUNK = 100_000


def table_frame(table: Table, frame: pl.DataFrame, run_id: int | None) -> pl.DataFrame:
    """The frame's columns that ``table`` holds, in table order, with ``run_id`` filled in.

    Columns the frame lacks or holds only nulls in are left out (null in the database); a
    missing NOT NULL column is an error naming the table and column.
    """
    names: list[str] = []
    for col in table.columns:
        if col.name == "run_id" and run_id is not None or col.name in frame.columns:
            names.append(col.name)
        elif not col.nullable and not col.primary_key:
            raise FamilyMatchError(
                f"store: table {table.name} needs column '{col.name}', which the frame lacks."
            )
    if run_id is not None:
        frame = frame.with_columns(pl.lit(run_id, dtype=pl.Int64).alias("run_id"))
    return frame.select(names)


def _sqlite_values(frame: pl.DataFrame) -> pl.DataFrame:
    """Dates and datetimes as the text SQLAlchemy's SQLite types store and read back."""
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Date:
            exprs.append(pl.col(name).dt.strftime("%Y-%m-%d"))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(pl.col(name).dt.strftime("%Y-%m-%d %H:%M:%S.%6f"))
        elif isinstance(dtype, pl.Duration | pl.List | pl.Struct | pl.Array):
            raise FamilyMatchError(f"store: column '{name}' has type {dtype}, which is not stored.")
    return frame.with_columns(exprs) if exprs else frame


def _driver_error(exc: Exception) -> str:
    """What went wrong, without the values (PostgreSQL messages can quote a row's data)."""
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate is not None:  # psycopg: the error class and code only
        return f"{type(exc).__name__}, SQLSTATE {sqlstate}"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def bulk_insert(
    conn: Connection, table: Table, frame: pl.DataFrame, run_id: int | None = None
) -> int:
    """Insert ``frame`` into ``table`` on ``conn`` (inside the caller's transaction); returns the
    number of rows written. A database error is raised as a FamilyMatchError naming the table
    (never the values); the caller's transaction then rolls back."""
    sub = table_frame(table, frame, run_id)
    try:
        return _insert(conn, table, sub, run_id)
    except FamilyMatchError:
        raise
    except Exception as exc:
        raise FamilyMatchError(
            f"store: writing {sub.height:,} rows to table {table.name} failed "
            f"({_driver_error(exc)})."
        ) from None


def index_key(table: Table) -> list[str]:
    """The columns after ``run_id`` of the table's first index that starts with it (empty if
    none): a run's rows written in this order append to that index's B-tree instead of landing
    at random pages of it, which at city scale halves the writing (docs/decisions/0015)."""
    for index in sorted(table.indexes, key=lambda ix: ix.name or ""):
        cols = [c.name for c in index.columns]
        if cols[:1] == ["run_id"]:
            return cols[1:]
    return []


def index_ordered_chunks(table: Table, sub: pl.DataFrame, size: int) -> Iterator[pl.DataFrame]:
    """``sub`` in chunks of ``size`` rows, in the order of the table's run index (nulls first,
    bytewise, as both databases compare text); only one chunk is gathered at a time."""
    key = [c for c in index_key(table) if c in sub.columns]
    if not key:
        order = None
    else:
        order = sub.select(pl.arg_sort_by(key, nulls_last=False, maintain_order=True))
    for start in range(0, sub.height, size):
        if order is None:
            yield sub.slice(start, size)
        else:
            yield sub[order.to_series().slice(start, size)]


def _insert(conn: Connection, table: Table, sub: pl.DataFrame, run_id: int | None) -> int:
    if sub.height == 0:
        return 0
    prep = conn.dialect.identifier_preparer
    quoted = ", ".join(prep.quote(c) for c in sub.columns)
    name = prep.format_table(table)
    raw: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        for name_, dtype in sub.schema.items():
            if isinstance(dtype, pl.List | pl.Struct | pl.Array | pl.Duration):
                raise FamilyMatchError(
                    f"store: column '{name_}' has type {dtype}, which is not stored."
                )
        sql = f"COPY {name} ({quoted}) FROM STDIN WITH (FORMAT csv)"
        with raw.cursor() as cur, cur.copy(sql) as copy:
            # CSV: an unquoted empty field is NULL, a quoted "" is the empty string
            for chunk in index_ordered_chunks(table, sub, COPY_CHUNK):
                copy.write(chunk.write_csv(include_header=False).encode("utf-8"))
        return sub.height
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    # the run id is the same on every row: written into the statement, not bound per row
    const = {"run_id": str(int(run_id))} if run_id is not None else {}
    cursor = raw.cursor()
    try:
        for chunk in index_ordered_chunks(table, sub, SQLITE_CHUNK):
            # dates as text chunk by chunk: no second copy of a whole frame's date columns
            chunk = _sqlite_values(chunk) if sqlite else chunk
            cols, flat = chunk_values(chunk.drop(list(const)))
            names = ", ".join(prep.quote(c) for c in [*const, *cols])
            one = "(" + ", ".join([*const.values(), *[mark] * len(cols)]) + ")"
            for n_rows, params in row_groups(flat, len(cols), chunk.height):
                values = ", ".join([one] * n_rows)
                cursor.executemany(f"INSERT INTO {name} ({names}) VALUES {values}", params)
    finally:
        cursor.close()
    return sub.height


def chunk_values(chunk: pl.DataFrame) -> tuple[list[str], list[Any]]:
    """The chunk's columns that hold a value in it, and its values row after row (row 0's
    columns, then row 1's, ...), as a multi-row INSERT binds them.

    A column null throughout the chunk is left out of the INSERT (it is null in the table either
    way): rows are written in index order, so a records chunk is mostly one source's rows and
    binds only the dozen columns that source fills, not all 29 (docs/decisions/0015). Each
    column's list is laid into every ``width``-th place of the flat list by one slice
    assignment: no Python tuple per row."""
    cols = [c.name for c in chunk.iter_columns() if c.null_count() < chunk.height]
    cols = cols or chunk.columns[:1]  # a row of nulls still inserts one
    flat: list[Any] = [None] * (chunk.height * len(cols))
    for i, name in enumerate(cols):
        flat[i :: len(cols)] = chunk[name].to_list()
    return cols, flat


def row_groups(
    flat: list[Any], width: int, n_rows: int
) -> Iterator[tuple[int, list[tuple[Any, ...]]]]:
    """The values of ``n_rows`` rows (``width`` each, row after row) as parameters of multi-row
    INSERTs: (rows per statement, one tuple per statement). As many rows as
    ``SQLITE_VARIABLES`` allows go in one ``VALUES (..), (..)`` (a third less CPU than one
    statement per row: docs/decisions/0015); the remainder, if any, in one shorter statement."""
    per = max(1, SQLITE_VARIABLES // width) if width else 1
    groups, step = n_rows // per, per * width
    if groups:
        yield per, [tuple(flat[g * step : (g + 1) * step]) for g in range(groups)]
    if groups * per < n_rows:
        yield n_rows - groups * per, [tuple(flat[groups * step :])]


def read_frame(conn: Connection, table: Table, run_id: int, **equals: Any) -> pl.DataFrame:
    """One run's rows of ``table`` as a frame (without ``run_id``), with the table's types."""
    cols = [c for c in table.columns if c.name != "run_id"]
    query = select(*cols).where(table.c.run_id == run_id)
    for col, value in equals.items():
        query = query.where(table.c[col] == value)
    return frame_of(conn.execute(query).fetchall(), cols)


def frame_of(rows: Sequence[Any], cols: Sequence[Any]) -> pl.DataFrame:
    """Result rows of the columns ``cols`` as a frame with the columns' types."""
    frame = pl.DataFrame(
        [tuple(r) for r in rows],
        schema=[c.name for c in cols],
        orient="row",
        infer_schema_length=None,
    )
    casts = {c.name: t for c in cols if (t := _polars_type(c.type)) is not None}
    return frame.with_columns(pl.col(n).cast(t) for n, t in casts.items())


def _polars_type(sa_type: Any) -> pl.DataType | None:
    """The polars type of a column type (None: datetimes, left as the driver returns them)."""
    name = type(sa_type).__name__
    if name in ("Integer", "BigInteger"):
        return pl.Int64()
    if name == "Float":
        return pl.Float64()
    if name == "Boolean":
        return pl.Boolean()
    if name == "Date":
        return pl.Date()
    if name == "DateTime":
        return None
    return pl.String()
