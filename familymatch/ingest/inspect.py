"""The mapping assistant: look at an extract nobody has mapped yet and say, per column, how full
it is, what it most likely is (by its header's words and by the shape of its values) and which
date format reads most of it; then draft the ``[[sources]]`` block.

The examples it returns are personal data: the command prints them only to the terminal of the
coordinator who asked (``--no-examples`` leaves them out); nothing here logs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import fastexcel
import polars as pl

from familymatch.errors import FamilyMatchError, InputFileError
from familymatch.identifiers import NINO_PATTERN, upn_expr
from familymatch.ingest.fields import parse_dates
from familymatch.ingest.readers import ROW, read_source
from familymatch.project import FORMATS, SourceSpec, reads_two_digit_year
from familymatch.standardise import POSTCODE_PATTERN, normalise_postcode

SAMPLE_ROWS = 5000  # values looked at per column
DATE_CANDIDATES = ("dd/mm/yyyy", "iso", "dd/mm/yy", "long", "dd-mon-yyyy", "mm/dd/yyyy", "excel")
SHAPE_SHARE = 0.8  # share of a column's values that must have a shape for it to count

# header words -> canonical field, most specific first (a header matches the first rule it fits)
HEADER_RULES: tuple[tuple[str, str], ...] = (
    ("nino", r"\bnino\b|\bni (no|num|number)\b|national insurance"),
    ("upn", r"\bupn\b|unique pupil|pupil number"),
    ("uprn", r"\buprn\b"),
    ("postcode", r"post ?code|\bpcode\b|\bpc\b"),
    ("dob", r"\bdob\b|\bd o b\b|birth"),
    ("sessions_unauthorised", r"unauth"),
    ("sessions_authorised", r"\bauth"),
    ("sessions_possible", r"\bposs"),
    ("sessions", r"session"),
    ("middle_names", r"middle"),
    ("forename", r"forename|first ?name|given|christian"),
    ("surname", r"surname|last ?name|family name"),
    ("name", r"\bname\b"),
    ("sex", r"\bsex\b|gender"),
    ("address", r"addr|street|\bline\b|house|town|locality"),
    ("end_date", r"\bend\b|\bto\b|until|ceased|closed"),
    ("event_date", r"date|\bstart\b|\bfrom\b"),
    ("group_ref", r"claim (ref|id|no)|household|family (ref|id)|group"),
    ("case_ref", r"\bref\b|\bid\b|client|person|case"),
    ("outcome", r"outcome|disposal|result"),
    ("term", r"\bterm\b"),
    ("school", r"school|establishment|provider|setting"),
    ("relationship", r"relationship|\brole\b"),
    ("event_type", r"type|category|benefit|offence|intervention|reason|service|cohort"),
)
KIND_WORDS: tuple[tuple[str, str], ...] = (
    ("school_census", r"census|attendance|absence"),
    ("exclusions", r"exclu"),
    ("benefits", r"claim|benefit|\bjsa\b|\besa\b"),
    ("youth_offending", r"offen|\byot\b|youth"),
    ("asb_interventions", r"\basb\b|anti ?social"),
)
SEX_VALUES = {"M", "F", "MALE", "FEMALE", "1", "2", "0", "9", "U", "UNKNOWN", "BOY", "GIRL"}


@dataclass(frozen=True)
class DateGuess:
    format: str
    share: float  # of the column's non-empty values


@dataclass
class ColumnGuess:
    column: str
    fill: float
    examples: list[str]
    field: str | None
    reason: str  # "header", "values", "header and values" or ""
    date: DateGuess | None = None

    def as_dict(self, examples: bool) -> dict[str, object]:
        out: dict[str, object] = {
            "column": self.column,
            "fill": round(self.fill, 4),
            "field": self.field,
            "reason": self.reason,
            "date_format": self.date.format if self.date else None,
            "date_share": round(self.date.share, 4) if self.date else None,
        }
        if examples:
            out["examples"] = self.examples
        return out


@dataclass
class Inspection:
    path: Path
    sheet: str | None
    header_row: int
    rows: int
    kind: str
    columns: list[ColumnGuess] = field(default_factory=list)


def _words(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", header.lower()).strip()


def header_field(header: str) -> str | None:
    """The canonical field a header's words name, if any."""
    words = _words(header)
    for name, pattern in HEADER_RULES:
        if re.search(pattern, words):
            return name
    return None


def guess_date_format(values: pl.Series, reference: date) -> DateGuess | None:
    """The date format (with century "past" for two-digit years) that reads most values."""
    sample = values.drop_nulls().head(SAMPLE_ROWS)
    if sample.is_empty():
        return None
    frame = sample.to_frame("v")
    best: DateGuess | None = None
    for fmt in DATE_CANDIDATES:
        century = "past" if reads_two_digit_year(fmt) else None
        parsed = frame.select(parse_dates(pl.col("v"), (fmt,), century, reference).is_not_null())
        share = _mean(parsed.to_series())
        if share > 0 and (best is None or share > best.share):
            best = DateGuess(fmt, share)
    return best


def _share(sample: pl.Series, expr: pl.Expr) -> float:
    if sample.is_empty():
        return 0.0
    return _mean(sample.to_frame("v").select(expr.fill_null(False)).to_series())


def _mean(flags: pl.Series) -> float:
    """The share of true values of a boolean series."""
    return int(flags.sum()) / flags.len() if flags.len() else 0.0


def value_shape(sample: pl.Series, reference: date) -> tuple[str | None, DateGuess | None]:
    """What the values look like: nino, upn, postcode, date, name, sex or nothing known."""
    v = pl.col("v")
    upper = v.str.to_uppercase()
    shapes = {
        "nino": upper.str.replace_all(r"[^A-Z0-9]", "").str.contains(NINO_PATTERN),
        "upn": upn_expr(v).is_not_null(),
        "postcode": normalise_postcode(v).str.contains(POSTCODE_PATTERN),
        "sex": upper.is_in(list(SEX_VALUES)),
    }
    for name, expr in shapes.items():
        if _share(sample, expr) >= SHAPE_SHARE:
            return name, None
    guess = guess_date_format(sample, reference)
    if guess is not None and guess.share >= SHAPE_SHARE and guess.format != "excel":
        return "date", guess
    if _share(sample, v.str.contains(r"^[A-Za-z][A-Za-z' -]*,? [A-Za-z' -]+$")) >= SHAPE_SHARE:
        return "name", None
    return None, guess if guess is not None and guess.share >= SHAPE_SHARE else None


DATE_FIELD_NAMES = ("dob", "event_date", "end_date")
NAME_FIELD_NAMES = ("name", "forename", "surname", "middle_names")


def decide(by_header: str | None, shape: str | None) -> tuple[str | None, str]:
    """The field and why: an identifier's shape beats the header; the header says which date
    or which part of a name; values alone give a full name or an event date."""
    if shape in ("nino", "upn", "postcode"):
        return shape, "header and values" if by_header == shape else "values"
    if shape == "date":
        if by_header in DATE_FIELD_NAMES:
            return by_header, "header and values"
        return "event_date", "values"
    if shape == "name" and by_header in NAME_FIELD_NAMES:
        return by_header, "header and values"
    if shape == "sex" and by_header in (None, "sex"):
        return "sex", "header and values" if by_header else "values"
    if by_header is not None:
        return by_header, "header"
    if shape == "name":
        return "name", "values"
    return None, ""


def _guess_column(frame: pl.DataFrame, column: str, reference: date) -> ColumnGuess:
    values = frame[column]
    non_null = values.drop_nulls()
    sample = non_null.head(SAMPLE_ROWS)
    shape, date_guess = value_shape(sample, reference)
    name, reason = decide(header_field(column), shape)
    if name in DATE_FIELD_NAMES and date_guess is None:
        date_guess = guess_date_format(sample, reference)
    return ColumnGuess(
        column=column,
        fill=non_null.len() / frame.height if frame.height else 0.0,
        examples=non_null.unique(maintain_order=True).head(3).to_list(),
        field=name,
        reason=reason,
        date=date_guess if name in DATE_FIELD_NAMES else None,
    )


def _guess_kind(path: Path, columns: list[ColumnGuess]) -> str:
    words = _words(path.stem) + " " + " ".join(_words(c.column) for c in columns)
    for kind, pattern in KIND_WORDS:
        if re.search(pattern, words):
            return kind
    return "population"


def first_sheet(path: Path) -> str | None:
    try:
        names = fastexcel.read_excel(path).sheet_names
    except Exception:
        return None
    return names[0] if names else None


def inspect_file(
    path: Path, sheet: str | None = None, header_row: int = 1, reference: date | None = None
) -> Inspection:
    """Guess every column of one extract (CSV, XLSX, Parquet)."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise InputFileError(f"{path.name}: is not a .csv, .xlsx or .parquet file.")
    if fmt == "xlsx" and sheet is None:
        sheet = first_sheet(path)
    spec = SourceSpec(
        name="inspect",
        kind="population",
        path=path,
        format=fmt,
        sheet=sheet,
        header_row=header_row,
    )
    frame = read_source(spec).frame.drop(ROW)
    reference = reference or date.today()
    columns = [_guess_column(frame, c, reference) for c in frame.columns]
    return Inspection(
        path=path,
        sheet=sheet,
        header_row=header_row,
        rows=frame.height,
        kind=_guess_kind(path, columns),
        columns=columns,
    )


def _toml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _field_line(guess: ColumnGuess) -> str:
    assert guess.field is not None
    col = _toml_str(guess.column)
    if guess.field == "name":
        return f'name = {{ column = {col}, order = "auto" }}'
    if guess.date is not None:
        century = ', century = "past"' if reads_two_digit_year(guess.date.format) else ""
        return f"{guess.field} = {{ column = {col}, format = {_toml_str(guess.date.format)}{century} }}"
    return f"{guess.field} = {col}"


PERSON_SLOT_FIELDS = frozenset(
    {"forename", "middle_names", "surname", "name", "dob", "sex", "nino", "upn", "case_ref"}
    | {"relationship"}
)


def person_slots(columns: list[ColumnGuess]) -> dict[str, list[ColumnGuess]]:
    """Several people on one row: person columns whose header is a role word followed by a
    field's words ("Claimant DOB", "Partner DOB"), when two or more roles have two or more
    such columns each, and no role has a field twice."""
    by_role: dict[str, list[ColumnGuess]] = {}
    for g in columns:
        words = _words(g.column).split()
        if (
            g.field in PERSON_SLOT_FIELDS
            and len(words) >= 2
            and words[0].isidentifier()
            and header_field(" ".join(words[1:])) == g.field
        ):
            by_role.setdefault(words[0], []).append(g)
    roles = {
        role: cols
        for role, cols in by_role.items()
        if len(cols) >= 2 and len({c.field for c in cols}) == len(cols)
    }
    return roles if len(roles) >= 2 else {}


def _people_lines(roles: dict[str, list[ColumnGuess]]) -> list[str]:
    lines: list[str] = []
    for role, cols in roles.items():
        lines += ["", "[[sources.people]]", f"role = {_toml_str(role)}"]
        lines += [_field_line(g) for g in cols]
    return lines


def _column_lines(columns: list[ColumnGuess]) -> list[str]:
    """The [sources.columns] lines: address columns joined, a field's later columns and empty
    or unrecognised columns as comments."""
    lines: list[str] = []
    used: set[str] = set()
    addresses = [g.column for g in columns if g.field == "address" and g.fill > 0]
    for g in columns:
        fill = f"{g.fill:.0%} filled"
        if g.field is None:
            lines.append(f"# {_toml_str(g.column)}: not recognised ({fill})")
        elif g.fill == 0:
            lines.append(f"# {_field_line(g)}    # empty")
        elif g.field == "address" and len(addresses) > 1:
            if "address" not in used:
                joined = ", ".join(_toml_str(c) for c in addresses)
                lines.append(f"address = {{ join = [{joined}] }}")
                used.add("address")
        elif g.field in used or (g.field == "name" and used & set(NAME_FIELD_NAMES)):
            lines.append(f"# {_field_line(g)}    # {g.field} again: a second person? ({fill})")
        else:
            used.add(g.field)
            lines.append(_field_line(g))
    return lines


def draft_toml(inspection: Inspection, path_text: str) -> str:
    """A draft ``[[sources]]`` block: one line per recognised column, the rest as comments."""
    stem = re.sub(r"[^a-z0-9_]+", "_", inspection.path.stem.lower()).strip("_") or "source"
    lines = [
        "[[sources]]",
        f"name = {_toml_str(stem)}",
        f"kind = {_toml_str(inspection.kind)}    # check: see docs/contracts.md section 2",
        f"path = {_toml_str(path_text)}",
    ]
    if inspection.sheet is not None:
        lines.append(f"sheet = {_toml_str(inspection.sheet)}")
    if inspection.header_row != 1:
        lines.append(f"header_row = {inspection.header_row}")
    roles = person_slots(inspection.columns)
    in_slots = {g.column for cols in roles.values() for g in cols}
    shared = [g for g in inspection.columns if g.column not in in_slots]
    lines += ["", "[sources.columns]", *_column_lines(shared), *_people_lines(roles)]
    return "\n".join(lines) + "\n"


def write_draft(path: Path, draft: str) -> None:
    """Write the draft block; never over an existing file (it may be the project file)."""
    if path.exists():
        raise FamilyMatchError(f"{path}: already exists; give a new file for the draft.")
    path.write_text(draft, encoding="utf-8")


__all__ = [
    "ColumnGuess",
    "DateGuess",
    "Inspection",
    "draft_toml",
    "guess_date_format",
    "header_field",
    "inspect_file",
    "write_draft",
]
