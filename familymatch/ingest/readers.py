"""Read an extract (CSV, XLSX, Parquet) into a frame of text columns plus its data-row numbers.

Every reader returns a :class:`RawTable`: all cells as trimmed text (null when empty), a ``__row``
column with the 1-based data-row number (header rows not counted, blank rows skipped but still
numbered), and the rows that could not be split into the header's columns (ragged CSV rows).
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import fastexcel
import polars as pl

from familymatch.errors import InputFileError
from familymatch.project import SourceSpec

ROW = "__row"
OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")


@dataclass
class RawTable:
    """The cells of one source as text, with row numbers and the rows that could not be read."""

    frame: pl.DataFrame
    ragged: list[tuple[int, str]] = field(default_factory=list)  # (row, reason)
    encoding: str | None = None


def _label(spec: SourceSpec) -> str:
    return f"source '{spec.name}' ({spec.path.name})"


def decode_csv_bytes(data: bytes, encoding: str) -> tuple[str, str]:
    """Decode CSV bytes: UTF-8 with or without BOM, else Windows-1252 (Excel's 'CSV')."""
    if encoding == "auto":
        if data.startswith(b"\xef\xbb\xbf"):
            return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
        try:
            return data.decode("utf-8", errors="strict"), "utf-8"
        except UnicodeDecodeError:
            return data.decode("cp1252", errors="replace"), "cp1252"
    if encoding == "utf-8-sig" or (encoding == "utf-8" and data.startswith(b"\xef\xbb\xbf")):
        return data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="strict"), "utf-8-sig"
    return data.decode(encoding, errors="strict"), encoding


def _dedupe_check(spec: SourceSpec, header: list[str]) -> list[str]:
    names = [h.strip() for h in header]
    mapped = spec.mapped_columns()
    seen: set[str] = set()
    out: list[str] = []
    for i, name in enumerate(names):
        if name in seen:
            if name in mapped:
                raise InputFileError(
                    f"{_label(spec)}: the header has column '{name}' twice, so the mapping is ambiguous."
                )
            name = f"{name}__dup{i}"
        seen.add(name)
        out.append(name or f"__blank{i}")
    return out


def read_csv(spec: SourceSpec) -> RawTable:
    data = spec.path.read_bytes()
    if not data.strip():
        raise InputFileError(f"{_label(spec)}: the file is empty.")
    try:
        text, used = decode_csv_bytes(data, spec.encoding)
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{_label(spec)}: is not valid {spec.encoding} text (byte {exc.start}); "
            "set `encoding` in the project file."
        ) from None
    del data
    with no_gc():  # millions of lists and strings, no cycles: collecting them is half the read
        return _csv_table(spec, text, used)


def _csv_table(spec: SourceSpec, text: str, used: str) -> RawTable:
    records = _csv_records(spec, text)
    if len(records) < spec.header_row:
        raise InputFileError(f"{_label(spec)}: has no header row at line {spec.header_row}.")
    header = _dedupe_check(spec, records[spec.header_row - 1])
    body = records[spec.header_row :]
    del records
    rows, numbers, ragged = _usable_rows(body, len(header))
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    del rows, body
    frame = pl.DataFrame(
        {
            name: pl.Series(name, col, dtype=pl.String)
            for name, col in zip(header, columns, strict=True)
        }
    )
    frame = frame.with_columns(pl.Series(ROW, numbers, dtype=pl.Int64))
    return RawTable(frame=_clean(frame), ragged=ragged, encoding=used)


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (on again after, if it was on)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _csv_records(spec: SourceSpec, text: str) -> list[list[str]]:
    """Every record of the file (the csv module's loop, in C); a file it cannot parse raises
    InputFileError naming the data row, found by reading it again record by record."""
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=spec.delimiter))
    except csv.Error:
        pass
    line = data_row = 0
    try:
        for _ in csv.reader(io.StringIO(text, newline=""), delimiter=spec.delimiter):
            line += 1
            data_row += line > spec.header_row
    except csv.Error as exc:
        raise InputFileError(
            f"{_label(spec)}: cannot be read as CSV near row {data_row + 1} ({exc})."
        ) from None
    raise AssertionError("the csv module failed once and not twice")  # pragma: no cover


def _usable_rows(
    body: list[list[str]], width: int
) -> tuple[list[list[str]], Sequence[int], list[tuple[int, str]]]:
    """The data rows with a value and ``width`` fields, their 1-based numbers (blank rows are
    skipped but numbered), and the rows with another number of fields. The usual file (no blank
    and no ragged row) is checked in C: field counts and the rows' joined text."""
    lengths = list(map(len, body))
    stripped = list(map(str.strip, map("".join, body)))  # "" exactly when every cell is blank
    if lengths.count(width) == len(body) and stripped.count("") == 0:
        return body, range(1, len(body) + 1), []
    rows, numbers, ragged = [], [], []
    for i, (record, n, text) in enumerate(zip(body, lengths, stripped, strict=True), start=1):
        if not text:
            continue
        if n != width:
            ragged.append((i, f"row has {n} fields but the header has {width}"))
            continue
        rows.append(record)
        numbers.append(i)
    return rows, numbers, ragged


def read_xlsx(spec: SourceSpec) -> RawTable:
    head = spec.path.read_bytes()[:8]
    if head == OLE2_MAGIC:
        raise InputFileError(
            f"{_label(spec)}: is password-protected or not an .xlsx workbook (it is an OLE2 file); "
            "save it unprotected as .xlsx."
        )
    if not zipfile.is_zipfile(spec.path):
        raise InputFileError(f"{_label(spec)}: is not an .xlsx workbook (corrupt or truncated).")
    try:
        reader = fastexcel.read_excel(spec.path)
    except Exception:
        raise InputFileError(
            f"{_label(spec)}: is not an .xlsx workbook (corrupt or truncated)."
        ) from None
    if spec.sheet not in reader.sheet_names:
        raise InputFileError(
            f"{_label(spec)}: has no sheet '{spec.sheet}' (sheets: {', '.join(reader.sheet_names)})."
        )
    try:
        sheet = reader.load_sheet_by_name(
            spec.sheet or "", header_row=spec.header_row - 1, dtypes="string"
        )
        frame = sheet.to_polars()
    except Exception as exc:
        raise InputFileError(
            f"{_label(spec)}: sheet '{spec.sheet}' cannot be read ({type(exc).__name__})."
        ) from None
    header = _dedupe_check(spec, [str(c) for c in frame.columns])
    frame = frame.rename(dict(zip(frame.columns, header, strict=True)))
    frame = frame.with_columns(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(ROW))
    frame = _clean(frame.with_columns(pl.exclude(ROW).cast(pl.String)))
    value_cols = [c for c in frame.columns if c != ROW]
    if value_cols:
        frame = frame.filter(pl.any_horizontal(pl.col(value_cols).is_not_null()))
    return RawTable(frame=frame)


def read_parquet(spec: SourceSpec) -> RawTable:
    try:
        frame = pl.read_parquet(spec.path)
    except Exception:
        raise InputFileError(f"{_label(spec)}: is not a readable Parquet file.") from None
    _dedupe_check(spec, frame.columns)
    casts = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Date or dtype == pl.Datetime:
            casts.append(pl.col(name).dt.strftime("%Y-%m-%d"))
        else:
            casts.append(pl.col(name).cast(pl.String))
    frame = frame.select(casts).with_columns(
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(ROW)
    )
    return RawTable(frame=_clean(frame))


def _clean(frame: pl.DataFrame) -> pl.DataFrame:
    """Trim every text cell; empty becomes null."""
    text = [c for c in frame.columns if c != ROW]
    return frame.with_columns(
        [
            pl.when(pl.col(c).str.strip_chars() == "")
            .then(None)
            .otherwise(pl.col(c).str.strip_chars())
            .alias(c)
            for c in text
        ]
    )


def read_source(spec: SourceSpec) -> RawTable:
    """Read one source's file; a file that cannot be used at all raises InputFileError."""
    if not spec.path.exists():
        raise InputFileError(f"{_label(spec)}: the file does not exist.")
    if not spec.path.is_file():
        raise InputFileError(f"{_label(spec)}: is not a file.")
    if spec.path.stat().st_size == 0:
        raise InputFileError(f"{_label(spec)}: the file is empty.")
    readers = {"csv": read_csv, "xlsx": read_xlsx, "parquet": read_parquet}
    table = readers[spec.format](spec)
    missing = sorted(spec.mapped_columns() - set(table.frame.columns))
    if missing:
        raise InputFileError(
            f"{_label(spec)}: mapped column '{missing[0]}' is not in the file's header"
            + (f" (nor {len(missing) - 1} more)." if len(missing) > 1 else ".")
        )
    return table
