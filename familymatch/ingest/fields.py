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


LONG_TWO_DIGIT = r"^\d{1,2}(?:st|nd|rd|th)?[\s,/-]+[A-Za-z]+\.?[\s,/-]+\d{2}$"
DAY_MONTH_YY = r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2})$"


def _iso(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """The date year-month-day from integer parts (years 1000-9999); null when it does not
    exist (31 February, month 13)."""
    number = year.cast(pl.Int64) * 10_000 + month.cast(pl.Int64) * 100 + day.cast(pl.Int64)
    return number.cast(pl.String).str.strptime(pl.Date, "%Y%m%d", strict=False)


def century_year(
    yy: pl.Expr, month: pl.Expr, day: pl.Expr, century: str | int | None, reference: date
) -> pl.Expr:
    """The full year of a two-digit year: ``"past"`` = the latest such date on or before
    ``reference``; a pivot year P = the year in P..P+99 ending in those two digits."""
    yy = yy.cast(pl.Int32)
    if century == "past":
        this = reference.year - reference.year % 100 + yy
        # after the reference date in this century (compared as yyyymmdd numbers): the last one
        late = this * 10_000 + month * 100 + day > int(reference.strftime("%Y%m%d"))
        return pl.when(late).then(this - 100).otherwise(this)
    pivot = int(century) if century is not None else 1900
    return pivot + (yy - pivot % 100) % 100


def _day_month_yy(raw: pl.Expr, century: str | int | None, reference: date) -> pl.Expr:
    part = raw.str.extract_groups(DAY_MONTH_YY)
    day, month, yy = (part.struct.field(str(i)).cast(pl.Int32) for i in (1, 2, 3))
    return _iso(century_year(yy, month, day, century, reference), month, day)


def _long(raw: pl.Expr, century: str | int | None, reference: date) -> pl.Expr:
    """ "5 March 2004", "05-Mar-04", "5th Sept 99": one spelling (lower case, single spaces,
    no ordinal suffix), then strptime, whose %B reads full and three-letter month names."""
    text = (
        raw.str.to_lowercase()
        .str.replace_all(r"(\d)(?:st|nd|rd|th)\b", "$1")
        .str.replace_all(r"[\s,/-]+", " ")
        .str.replace(r"\bsept\b", "sep")
    )
    four = pl.when(text.str.contains(r"^\d{1,2} [a-z]+ \d{4}$")).then(
        text.str.strptime(pl.Date, "%d %B %Y", strict=False)
    )
    if century is None:
        return four
    two = _pattern(text, "%d %B %y", century, reference)
    return four.when(text.str.contains(r"^\d{1,2} [a-z]+ \d{2}$")).then(two)


def _pattern(raw: pl.Expr, fmt: str, century: str | int | None, reference: date) -> pl.Expr:
    parsed = raw.str.strptime(pl.Date, fmt, strict=False)
    if century is None:
        return parsed
    month, day = parsed.dt.month(), parsed.dt.day()
    return _iso(century_year(parsed.dt.year() % 100, month, day, century, reference), month, day)


def _excel(raw: pl.Expr) -> pl.Expr:
    """Serial day numbers (1900 system), as numbers or as text ("40123", "40123.0")."""
    serial = raw.str.replace(r"\.\d*$", "")
    ok = raw.str.contains(r"^\d{1,7}(?:\.\d*)?$")
    days = serial.cast(pl.Int64, strict=False)
    return pl.when(ok & days.is_between(1, 2_958_465)).then(
        pl.lit(EXCEL_EPOCH) + pl.duration(days=days)
    )


def parse_dates(
    raw: pl.Expr, formats: tuple[str, ...], century: str | int | None, reference: date
) -> pl.Expr:
    """The first format (in order) that reads each cell; ISO dates are always accepted."""
    candidates: list[pl.Expr] = []
    normalised = raw.str.replace_all(r"[.\-]", "/")
    for fmt in formats:
        if fmt == "iso":
            continue  # ISO is always tried below
        if fmt == "excel":
            candidates.append(_excel(raw))
        elif fmt == "dd/mm/yy":
            candidates.append(_day_month_yy(raw, century, reference))
        elif fmt == "long":
            candidates.append(_long(raw, century, reference))
        elif "%" in fmt:
            candidates.append(_pattern(raw, fmt, century, reference))
        else:
            pattern, strf = _PATTERNS[fmt]
            source = raw.str.replace_all(" ", "-") if fmt == "dd-mon-yyyy" else normalised
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


def date_value(
    spec: FieldSpec, name: str, today: date, reference: date | None = None
) -> tuple[pl.Expr, list[Check]]:
    """A date field: its value and the checks that reject a row. ``reference`` is the
    project's reference date (the latest a two-digit year with century "past" may give)."""
    raw = text(spec)
    formats = spec.formats or ("dd/mm/yyyy",)
    value = parse_dates(raw, formats, spec.century, reference or today)
    col = spec.column or name
    two_digit = raw.str.contains(DAY_MONTH_YY) & pl.lit("dd/mm/yy" not in formats)
    if "long" in formats and spec.century is None:
        two_digit = two_digit | raw.str.contains(LONG_TWO_DIGIT)
    checks = [
        Check(
            raw.is_not_null() & value.is_null() & two_digit,
            col,
            'two-digit year: the mapping needs a century rule (format "dd/mm/yy" or "long" '
            'with century = "past" or a pivot year)',
        ),
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


CAPITALS_WORD = r"^[A-Z][A-Z'-]*[A-Z]$"  # SMITH, O'NEIL, SMITH-JONES (not an initial)


def _comma_split(s: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Surname and the other words of "SURNAME, Forename Middle"."""
    parts = s.str.splitn(",", 2)
    surname = parts.struct.field("field_0").str.strip_chars()
    rest = parts.struct.field("field_1").str.strip_chars().str.split(" ")
    return surname, rest


def _capitals_split(tokens: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(applies, surname, other words): the words in capitals are the surname when the name
    also has words that are not all capitals ("John SMITH", "SMITH John")."""
    caps = pl.element().str.contains(CAPITALS_WORD)
    capitals = tokens.list.eval(pl.element().filter(caps))
    others = tokens.list.eval(pl.element().filter(~caps))
    applies = (capitals.list.len() > 0) & others.list.eval(
        pl.element().str.contains("[a-z]")
    ).list.any()
    return applies, capitals.list.join(" "), others


def split_name(spec: FieldSpec) -> dict[str, pl.Expr]:
    """forename, middle_names, surname from one name column (order: surname_first,
    forename_first or auto; a comma always marks "SURNAME, Forename Middle")."""
    assert spec.column is not None
    s = pl.col(spec.column).str.replace_all(r"\s+", " ")
    tokens = s.str.split(" ")
    has_comma = s.str.contains(",")
    comma_surname, comma_rest = _comma_split(s)
    n = tokens.list.len()
    if spec.order == "surname_first":
        surname = pl.when(has_comma).then(comma_surname).otherwise(tokens.list.first())
        rest = pl.when(has_comma).then(comma_rest).otherwise(tokens.list.slice(1))
    else:
        # forename first: the last word is the surname; a lone word is a surname
        surname = tokens.list.last()
        rest = tokens.list.slice(0, n - 1)
        if spec.order == "auto":
            capitals, caps_surname, caps_rest = _capitals_split(tokens)
            surname = (
                pl.when(has_comma)
                .then(comma_surname)
                .when(capitals)
                .then(caps_surname)
                .otherwise(surname)
            )
            rest = (
                pl.when(has_comma).then(comma_rest).when(capitals).then(caps_rest).otherwise(rest)
            )
    rest = rest.list.eval(pl.element().filter(pl.element() != ""))
    forename = rest.list.first()
    middle = rest.list.slice(1).list.join(" ")
    empty_to_null = lambda e: pl.when(e == "").then(None).otherwise(e)  # noqa: E731
    return {
        "forename": empty_to_null(forename),
        "middle_names": empty_to_null(middle),
        "surname": empty_to_null(surname),
    }
