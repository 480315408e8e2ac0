"""Field specifications as polars expressions: each gives a value and, where it can fail, a
'bad' flag with a reason. Messages never contain the cell's content (it may be personal data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from familymatch.project import FieldSpec

MAX_CELL = 1000
EXCEL_EPOCH = date(1899, 12, 30)
INT_FIELDS = frozenset({"sessions_possible", "sessions_authorised", "sessions_unauthorised"})
FLOAT_FIELDS = frozenset({"sessions"})
DATE_FIELDS = frozenset({"dob", "event_date", "end_date"})
ISO_ANY = r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"

_PATTERNS: dict[str, tuple[str, str]] = {
    "dd/mm/yyyy": (r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{4}$", "%d/%m/%Y"),
    "mm/dd/yyyy": (r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{4}$", "%m/%d/%Y"),
    "dd-mon-yyyy": (r"^\d{1,2}[- ][A-Za-z]{3}[- ]\d{4}$", "%d-%b-%Y"),
}


@dataclass(frozen=True)
class Check:
    """A per-row failure condition on one source column."""

    bad: pl.Expr
    column: str
    reason: str


def text(spec: FieldSpec) -> pl.Expr:
    """The field's text value (trimmed upstream; empty is null)."""
    if spec.constant is not None:
        return pl.lit(spec.constant, dtype=pl.String)
    if spec.join:
        return pl.concat_str([pl.col(c) for c in spec.join], separator=spec.sep, ignore_nulls=True)
    assert spec.column is not None
    expr = pl.col(spec.column)
    if spec.mapping:
        expr = expr.replace(dict(spec.mapping))
    return expr


def _parse_dates(raw: pl.Expr, formats: tuple[str, ...]) -> pl.Expr:
    candidates: list[pl.Expr] = []
    normalised = raw.str.replace_all(r"[.\-]", "/")
    for fmt in formats:
        if fmt == "iso":
            continue  # ISO is always tried below
        if fmt == "excel":
            serial = raw.str.replace(r"\.0+$", "")
            ok = serial.str.contains(r"^\d{1,7}$")
            days = serial.cast(pl.Int64, strict=False)
            candidates.append(
                pl.when(ok & days.is_between(1, 2_958_465)).then(
                    pl.lit(EXCEL_EPOCH) + pl.duration(days=days)
                )
            )
            continue
        pattern, strf = _PATTERNS[fmt]
        source = raw if fmt == "dd-mon-yyyy" else normalised
        if fmt == "dd-mon-yyyy":
            source = raw.str.replace_all(" ", "-")
        candidates.append(
            pl.when(raw.str.contains(pattern)).then(
                source.str.strptime(pl.Date, strf, strict=False)
            )
        )
    candidates.append(
        pl.when(raw.str.contains(ISO_ANY)).then(
            raw.str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
        )
    )
    return pl.coalesce(candidates).cast(pl.Date)


def date_value(spec: FieldSpec, name: str, today: date) -> tuple[pl.Expr, list[Check]]:
    """A date field: its value and the checks that reject a row."""
    raw = text(spec)
    formats = spec.formats or ("dd/mm/yyyy",)
    value = _parse_dates(raw, formats)
    col = spec.column or name
    two_digit = raw.str.contains(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2}$")
    checks = [
        Check(raw.is_not_null() & two_digit, col, "two-digit year is ambiguous; use four digits"),
        Check(
            raw.is_not_null() & value.is_null() & ~two_digit,
            col,
            f"not a valid date (expected {' or '.join(formats)})",
        ),
    ]
    if name == "dob":
        checks.append(Check(value > pl.lit(today), col, "date of birth is in the future"))
        checks.append(Check(value < pl.lit(date(1900, 1, 1)), col, "date of birth is before 1900"))
    return value, checks


def number_value(spec: FieldSpec, name: str) -> tuple[pl.Expr, list[Check]]:
    raw = text(spec)
    cleaned = raw.str.replace_all(",", "").str.replace(r"\.0+$", "")
    col = spec.column or name
    if name in INT_FIELDS:
        value = cleaned.cast(pl.Int64, strict=False)
        what = "a whole number of sessions"
    else:
        value = cleaned.cast(pl.Float64, strict=False)
        what = "a number"
    checks = [
        Check(raw.is_not_null() & value.is_null(), col, f"not {what}"),
        Check(value < 0, col, "negative number of sessions"),
    ]
    return value, checks


def long_cell_checks(spec: FieldSpec, name: str) -> list[Check]:
    return [
        Check(pl.col(c).str.len_chars() > MAX_CELL, c, f"cell longer than {MAX_CELL} characters")
        for c in spec.columns()
    ]


def split_name(spec: FieldSpec) -> dict[str, pl.Expr]:
    """forename, middle_names, surname from one name column."""
    assert spec.column is not None
    s = pl.col(spec.column).str.replace_all(r"\s+", " ")
    if spec.order == "surname_first":
        has_comma = s.str.contains(",")
        parts = s.str.splitn(",", 2)
        comma_surname = parts.struct.field("field_0").str.strip_chars()
        comma_rest = parts.struct.field("field_1").str.strip_chars()
        tokens = s.str.split(" ")
        surname = pl.when(has_comma).then(comma_surname).otherwise(tokens.list.first())
        rest = pl.when(has_comma).then(comma_rest.str.split(" ")).otherwise(tokens.list.slice(1))
        rest = rest.list.eval(pl.element().filter(pl.element() != ""))
        forename = rest.list.first()
        middle = rest.list.slice(1).list.join(" ")
    else:
        tokens = s.str.split(" ")
        n = tokens.list.len()
        forename = pl.when(n > 1).then(tokens.list.first())
        surname = tokens.list.last()
        middle = tokens.list.slice(1, n - 2).list.join(" ")
    empty_to_null = lambda e: pl.when(e == "").then(None).otherwise(e)  # noqa: E731
    return {
        "forename": empty_to_null(forename),
        "middle_names": empty_to_null(middle),
        "surname": empty_to_null(surname),
    }
