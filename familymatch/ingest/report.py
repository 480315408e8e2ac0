"""How well each mapped column of a source read: filled share, parsed share, and warnings for a
column that is mostly empty or mostly rejected, or a postcode column of which more than a tenth is
no UK postcode (a row without one is placed at an address only through other records of it).
Messages name the source, the column (a header, never a cell) and counts; a date column's warning
suggests the format that would read it."""

from __future__ import annotations

from datetime import date

import polars as pl

from familymatch.ingest.fields import DATE_FIELDS
from familymatch.ingest.inspect import guess_date_format
from familymatch.ingest.readers import RawTable
from familymatch.project import FieldSpec, SourceSpec
from familymatch.standardise import POSTCODE_PATTERN, normalise_postcode

EMPTY_WARN = 0.95  # a column empty on at least this share of rows is "mostly empty"
REJECT_WARN = 0.5  # a column rejected on more than this share of its filled rows
POSTCODE_WARN = 0.1  # a postcode column that is no UK postcode on more than this share filled
# empty by nature on most rows: open spells, no middle name, no partner on the claim
OFTEN_EMPTY = frozenset({"end_date", "middle_names"})

COLUMN_REPORT_SCHEMA = pl.Schema(
    {
        "source": pl.String(),
        "column": pl.String(),
        "field": pl.String(),
        "rows": pl.Int64(),
        "filled": pl.Int64(),
        "rejected": pl.Int64(),
        "parsed_share": pl.Float64(),
    }
)


def _mapped_fields(spec: SourceSpec) -> dict[str, tuple[str, FieldSpec]]:
    """Source column -> (the first canonical field reading it, that field's spec)."""
    groups = [spec.columns, *(s.fields for s in spec.people), *(p.fields for p in spec.periods)]
    out: dict[str, tuple[str, FieldSpec]] = {}
    for fields in groups:
        for name, fs in fields.items():
            for col in fs.columns():
                out.setdefault(col, (name, fs))
    return out


def column_report(spec: SourceSpec, table: RawTable, rejects: pl.DataFrame) -> pl.DataFrame:
    """One row per mapped column: rows read, filled, rejected rows, share of filled that parsed."""
    frame = table.frame
    mapped = _mapped_fields(spec)
    if not mapped:
        return pl.DataFrame(schema=COLUMN_REPORT_SCHEMA)
    filled = frame.select(pl.col(c).is_not_null().sum() for c in mapped).row(0)
    rejected = dict(
        rejects.filter(pl.col("column").is_not_null())
        .group_by("column")
        .agg(pl.col("row").n_unique())
        .iter_rows()
    )
    rows = []
    for (col, (name, _)), n_filled in zip(mapped.items(), filled, strict=True):
        bad = int(rejected.get(col, 0))
        share = (n_filled - bad) / n_filled if n_filled else None
        rows.append((spec.name, col, name, frame.height, n_filled, bad, share))
    return pl.DataFrame(rows, schema=COLUMN_REPORT_SCHEMA, orient="row")


def _format_hint(table: RawTable, column: str, field: FieldSpec, reference: date) -> str:
    """A suggested date format when another one reads most of the column."""
    guess = guess_date_format(table.frame[column], reference)
    if guess is None or guess.format in (field.formats or ("dd/mm/yyyy",)):
        return "."
    return f": is its format {guess.format}?"


def column_warnings(
    spec: SourceSpec, table: RawTable, report: pl.DataFrame, reference: date
) -> list[str]:
    """Warnings for mostly-empty and mostly-rejected columns (no cell content in them)."""
    mapped = _mapped_fields(spec)
    later_slots = {c for slot in spec.people[1:] for f in slot.fields.values() for c in f.columns()}
    out = []
    for row in report.iter_rows(named=True):
        col, rows, filled, bad = row["column"], row["rows"], row["filled"], row["rejected"]
        name, field = mapped[col]
        often_empty = name in OFTEN_EMPTY or col in later_slots
        if rows and filled <= rows * (1 - EMPTY_WARN) and not often_empty:
            out.append(
                f"{spec.name}: column '{col}' is empty on {1 - filled / rows:.0%} of {rows:,} rows."
            )
        elif filled and bad > filled * REJECT_WARN:
            hint = _format_hint(table, col, field, reference) if name in DATE_FIELDS else "."
            out.append(
                f"{spec.name}: column '{col}' parsed on {1 - bad / filled:.0%} of "
                f"{filled:,} rows{hint}"
            )
        elif name == "postcode" and field.columns() == (col,) and filled:
            out.extend(_postcode_warning(spec.name, table.frame[col], filled))
    return out


def _postcode_warning(source: str, column: pl.Series, filled: int) -> list[str]:
    """A warning when more than ``POSTCODE_WARN`` of a postcode column's filled cells are no UK
    postcode once normalised ("PL100 1AB", a town, a phone number): the address stage resolves
    such rows only through other records of the same address, so a whole district of them
    places nobody (a scale-20 council with "PL100"-"PL166" split 432 families this way)."""
    pc = (
        column.cast(pl.String)
        .to_frame("pc")
        .select(normalise_postcode(pl.col("pc")).alias("pc"))["pc"]
    )
    bad = int((pc.is_not_null() & ~pc.str.contains(POSTCODE_PATTERN)).sum())
    if bad <= filled * POSTCODE_WARN:
        return []
    return [
        f"{source}: column '{column.name}' is no UK postcode on {bad / filled:.0%} of "
        f"{filled:,} filled rows; their addresses are resolved only through other records."
    ]


__all__ = ["COLUMN_REPORT_SCHEMA", "column_report", "column_warnings"]
