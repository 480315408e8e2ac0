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
from typing import Any

import fastexcel
import polars as pl

from familymatch.errors import FamilyMatchError, InputFileError
from familymatch.identifiers import NINO_PATTERN, upn_expr
from familymatch.ingest.fields import LONG_TWO_DIGIT, parse_dates
from familymatch.ingest.readers import ROW, read_source
from familymatch.project import FORMATS, PERIOD_FIELDS, SourceSpec, reads_two_digit_year
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
    ("detail", r"(incident|event|episode) (ref|id|no|number)"),
    ("case_ref", r"\bref\b|\bid\b|client|person|case"),
    ("outcome", r"outcome|disposal|result"),
    ("term", r"\bterm\b"),
    ("school", r"school|establishment|provider|setting"),
    ("relationship", r"relationship|\brole\b"),
    (
        "event_type",
        r"type|category|benefit|offence|intervention|reason|service|cohort|provision|status",
    ),
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
    century: bool = False  # some values have two-digit years: the mapping needs `century`
    also: tuple[str, ...] = ()  # further formats that read the values the first does not

    @property
    def formats(self) -> tuple[str, ...]:
        return (self.format, *self.also)


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
            "date_format": list(self.date.formats) if self.date else None,
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

    def document(self, draft: str, examples: bool = True) -> dict[str, Any]:
        """What `sources inspect --json` prints."""
        return {
            "file": str(self.path),
            "sheet": self.sheet,
            "rows": self.rows,
            "kind": self.kind,
            "columns": [c.as_dict(examples=examples) for c in self.columns],
            "draft": draft,
        }


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
    """The date format that reads most values, then any other format that reads at least 1% of
    them more (a column of "05/03/2004" and Excel serials: ["dd/mm/yyyy", "excel"])."""
    sample = values.drop_nulls().head(SAMPLE_ROWS)
    if sample.is_empty():
        return None
    frame = sample.to_frame("v")
    parsed = {
        fmt: frame.select(parse_dates(pl.col("v"), (fmt,), "past", reference).is_not_null())
        .to_series()
        .fill_null(False)
        for fmt in DATE_CANDIDATES
    }
    order = sorted(DATE_CANDIDATES, key=lambda f: -int(parsed[f].sum()))  # ties: list order
    read = parsed[order[0]]
    if not read.any():
        return None
    formats = [order[0]]
    for fmt in order[1:]:
        if int((parsed[fmt] & ~read).sum()) >= max(1, 0.01 * sample.len()):
            formats.append(fmt)
            read = read | parsed[fmt]
    two_digit = _share(sample, pl.col("v").str.contains(LONG_TWO_DIGIT)) > 0
    century = any(reads_two_digit_year(f) for f in formats) or ("long" in formats and two_digit)
    return DateGuess(formats[0], _mean(read), century, tuple(formats[1:]))


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
    if guess is not None and guess.share >= SHAPE_SHARE and guess.formats != ("excel",):
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
        century = ', century = "past"' if guess.date.century else ""
        fmts = [_toml_str(f) for f in guess.date.formats]
        fmt = fmts[0] if len(fmts) == 1 else f"[{', '.join(fmts)}]"
        return f"{guess.field} = {{ column = {col}, format = {fmt}{century} }}"
    return f"{guess.field} = {col}"


PERSON_SLOT_FIELDS = frozenset(
    {"forename", "middle_names", "surname", "name", "dob", "sex", "nino", "upn", "case_ref"}
    | {"relationship"}
)


def prefix_groups(
    columns: list[ColumnGuess], fields: frozenset[str]
) -> dict[str, list[ColumnGuess]]:
    """Columns of ``fields`` whose header is a prefix word followed by the field's words
    ("Claimant DOB" / "Partner DOB", "Aut11 Poss" / "Spr12 Poss"), grouped by that word, when
    two or more words head two or more such columns each (one column per field in a group).
    The keys are the headers' own spelling of the word."""
    by_word: dict[str, list[ColumnGuess]] = {}
    for g in columns:
        words = g.column.split()
        if (
            g.field in fields
            and len(words) >= 2
            and words[0].isidentifier()
            and header_field(" ".join(words[1:])) == g.field
        ):
            by_word.setdefault(words[0], []).append(g)
    groups = {
        word: cols
        for word, cols in by_word.items()
        if len(cols) >= 2 and len({c.field for c in cols}) == len(cols)
    }
    return groups if len(groups) >= 2 else {}


SEASONS = {"aut": "autumn", "autumn": "autumn", "spr": "spring", "spring": "spring"} | {
    "sum": "summer",
    "summer": "summer",
}


def term_of(word: str) -> str | None:
    """The canonical term a column prefix names: "Aut11" -> "2011/12-autumn", "Sum12" ->
    "2011/12-summer", "Spring2012" -> "2011/12-spring"; None if it names none."""
    m = re.fullmatch(r"([a-z]+)[_-]?(\d{2}|\d{4})", word.lower())
    if m is None or m.group(1) not in SEASONS:
        return None
    season, year = SEASONS[m.group(1)], int(m.group(2)) % 100
    first = year if season == "autumn" else (year - 1) % 100
    return f"20{first:02d}/{(first + 1) % 100:02d}-{season}"


def _group_lines(groups: dict[str, list[ColumnGuess]], block: str) -> list[str]:
    """[[sources.people]] (role = the word) or [[sources.periods]] (label = the word, and the
    term it names) blocks."""
    lines: list[str] = []
    for word, cols in groups.items():
        lines += ["", f"[[sources.{block}]]"]
        if block == "people":
            lines.append(f"role = {_toml_str(word.lower())}")
        else:
            term = term_of(word)
            lines.append(f"label = {_toml_str(word)}")
            lines.append(
                f"term = {{ constant = {_toml_str(term)} }}"
                if term
                else '# term = { constant = "2011/12-autumn" }    # set the period\'s term'
            )
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
    roles = prefix_groups(inspection.columns, PERSON_SLOT_FIELDS)
    periods = prefix_groups(inspection.columns, PERIOD_FIELDS)
    grouped = {g.column for groups in (roles, periods) for cols in groups.values() for g in cols}
    shared = [g for g in inspection.columns if g.column not in grouped]
    lines += ["", "[sources.columns]", *_column_lines(shared)]
    lines += [*_group_lines(roles, "people"), *_group_lines(periods, "periods")]
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


def inspect_command(
    file: Path, sheet: str | None, header_row: int, toml: Path | None
) -> tuple[Inspection, str]:
    """`sources inspect`: the file's inspection and its draft [[sources]] block (written to
    ``toml`` when given)."""
    found = inspect_file(file, sheet, header_row)
    draft = draft_toml(found, str(file))
    if toml is not None:
        write_draft(toml, draft)
    return found, draft
