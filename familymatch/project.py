"""The project file (``familymatch.toml``): what a coordinator's build reads, validated on load.

Every problem is a :class:`ConfigError` naming the file and the dotted key
(``familymatch.toml: sources[2].columns.dob: ...``). The syntax is documented in
``docs/contracts.md`` section 1 and ``docs/project-file.md``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from familymatch.canonical import FACT_FIELDS, MAPPABLE_FIELDS, SOURCE_KINDS
from familymatch.config import ConfigContext
from familymatch.errors import ConfigError

DATE_FORMATS = ("dd/mm/yyyy", "mm/dd/yyyy", "iso", "excel", "dd-mon-yyyy", "dd/mm/yy", "long")
# formats that read only with a century rule (and any strptime pattern with %y); "long" reads
# four-digit years without one and two-digit years ("5 Mar 04") only with one
TWO_DIGIT_YEAR_FORMATS = ("dd/mm/yy",)
NAME_ORDERS = ("surname_first", "forename_first", "auto")
PERIOD_FIELDS = frozenset(FACT_FIELDS)
FORMATS = ("csv", "xlsx", "parquet")
ENCODINGS = ("auto", "utf-8", "utf-8-sig", "cp1252")
PERSON_KEYS = frozenset(
    {"forename", "middle_names", "surname", "dob", "sex", "nino", "upn", "case_ref", "name"}
    | {"relationship", "address", "postcode", "uprn"}
)
DATABASE_ENV = "FAMILYMATCH_DATABASE_URL"


@dataclass(frozen=True)
class FieldSpec:
    """How one canonical field is read from a source row."""

    column: str | None = None
    constant: str | None = None
    join: tuple[str, ...] = ()
    sep: str = ", "
    formats: tuple[str, ...] = ()  # date formats tried in order
    mapping: tuple[tuple[str, str], ...] = ()
    order: str | None = None  # for `name`: surname_first / forename_first / auto
    century: str | int | None = None  # two-digit years: "past" or a pivot year (e.g. 1950)

    def columns(self) -> tuple[str, ...]:
        """The source columns this field reads."""
        if self.column is not None:
            return (self.column,)
        return self.join


@dataclass(frozen=True)
class PersonSlot:
    """One person described by a row (claimant, partner, ...)."""

    role: str | None
    fields: dict[str, FieldSpec]


@dataclass(frozen=True)
class Period:
    """One period of a wide row (a term's columns side by side with the others')."""

    label: str
    fields: dict[str, FieldSpec]


@dataclass(frozen=True)
class SourceSpec:
    """One extract and how its columns map onto the canonical record."""

    name: str
    kind: str
    path: Path
    format: str
    encoding: str = "auto"
    delimiter: str = ","
    sheet: str | None = None
    header_row: int = 1
    columns: dict[str, FieldSpec] = field(default_factory=dict)
    people: tuple[PersonSlot, ...] = ()
    periods: tuple[Period, ...] = ()

    def slots(self) -> tuple[PersonSlot, ...]:
        """The person slots of a row: the declared people, or one unnamed slot."""
        return self.people or (PersonSlot(role=None, fields={}),)

    def mapped_columns(self) -> set[str]:
        """Every source column any field reads."""
        cols: set[str] = set()
        for spec in self.columns.values():
            cols.update(spec.columns())
        groups: list[dict[str, FieldSpec]] = [slot.fields for slot in self.people]
        groups += [period.fields for period in self.periods]
        for fields in groups:
            for spec in fields.values():
                cols.update(spec.columns())
        return cols


@dataclass(frozen=True)
class Project:
    """A validated project file."""

    path: Path
    name: str
    reference_date: date
    rule_set: str
    database_url: str
    postcode_lookup: Path | None
    sources: tuple[SourceSpec, ...]
    terms: Path | None = None  # the council's term calendar; None = the packaged rules/terms.toml
    gazetteer: SourceSpec | None = None  # [project] gazetteer + [gazetteer.columns]

    @property
    def folder(self) -> Path:
        return self.path.parent

    def source(self, name: str) -> SourceSpec:
        for src in self.sources:
            if src.name == name:
                return src
        raise ConfigError(f"{self.path.name}: no source named '{name}'.")


_Ctx = ConfigContext


def _expect(ctx: _Ctx, key: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if isinstance(value, bool) and kind is not bool:
        raise ctx.fail(key, f"must be {what}, not true/false.")
    if not isinstance(value, kind):
        raise ctx.fail(key, f"must be {what}, not {type(value).__name__} {value!r}.")
    return value


def _check_keys(ctx: _Ctx, key: str, table: dict[str, Any], allowed: set[str]) -> None:
    ctx.keys(key, table, allowed)


def _resolve_path(ctx: _Ctx, key: str, value: Any, folder: Path) -> Path:
    text = _expect(ctx, key, value, str, "a file path")
    raw = Path(text)
    if raw.is_absolute():
        return raw
    resolved = (folder / raw).resolve()
    if not resolved.is_relative_to(folder.resolve()):
        raise ctx.fail(key, f"'{text}' points outside the project folder; use an absolute path.")
    return resolved


def _field_spec(ctx: _Ctx, key: str, name: str, value: Any) -> FieldSpec:
    if isinstance(value, str):
        if not value.strip():
            raise ctx.fail(key, "column name is empty.")
        return FieldSpec(column=value)
    table = _expect(ctx, key, value, dict, "a column name or a table")
    if name == "name":
        _check_keys(ctx, key, table, {"column", "order"})
        column = _expect(ctx, f"{key}.column", table.get("column"), str, "a column name")
        order = table.get("order", "surname_first")
        if order not in NAME_ORDERS:
            raise ctx.fail(f"{key}.order", f"must be one of {', '.join(NAME_ORDERS)}.")
        return FieldSpec(column=column, order=order)
    allowed = {"column", "format", "century", "map", "constant", "join", "sep"}
    _check_keys(ctx, key, table, allowed)
    if "constant" in table:
        if len(table) != 1:
            raise ctx.fail(key, "a constant cannot be combined with other keys.")
        const = table["constant"]
        if isinstance(const, bool) or not isinstance(const, str | int | float):
            raise ctx.fail(f"{key}.constant", "must be a string or a number.")
        return FieldSpec(constant=str(const))
    if "join" in table:
        parts = _expect(ctx, f"{key}.join", table["join"], list, "a list of column names")
        if not parts or not all(isinstance(p, str) and p for p in parts):
            raise ctx.fail(f"{key}.join", "must be a non-empty list of column names.")
        if set(table) - {"join", "sep"}:
            raise ctx.fail(key, "join takes only `join` and `sep`.")
        sep = _expect(ctx, f"{key}.sep", table.get("sep", ", "), str, "a string")
        return FieldSpec(join=tuple(parts), sep=sep)
    if "column" not in table:
        raise ctx.fail(key, "needs `column`, `constant` or `join`.")
    column = _expect(ctx, f"{key}.column", table["column"], str, "a column name")
    formats, century = _date_formats(ctx, key, table)
    mapping: tuple[tuple[str, str], ...] = ()
    if "map" in table:
        m = _expect(ctx, f"{key}.map", table["map"], dict, "a table of code = value")
        mapping = tuple((str(k), str(v)) for k, v in m.items())
    return FieldSpec(column=column, formats=formats, mapping=mapping, century=century)


def reads_two_digit_year(fmt: str) -> bool:
    """Whether a date format reads two-digit years only with a century rule, and so needs one."""
    if "%" in fmt:
        return any(d in fmt for d in ("%y", "%D", "%x"))
    return fmt in TWO_DIGIT_YEAR_FORMATS


def check_pattern(fmt: str) -> bool:
    """A strptime pattern (containing %) that reads back a whole date, in Python and polars."""
    import polars as pl

    sample = datetime(2004, 3, 5)
    try:
        text = sample.strftime(fmt)
        if datetime.strptime(text, fmt).date() != sample.date():
            return False
        parsed = pl.Series([text]).str.strptime(pl.Date, fmt, strict=False)[0]
    except (ValueError, pl.exceptions.PolarsError):
        return False
    return bool(parsed == sample.date())


def _date_formats(
    ctx: _Ctx, key: str, table: dict[str, Any]
) -> tuple[tuple[str, ...], str | int | None]:
    """The `format` list and the `century` rule of a date field spec."""
    if "format" not in table:
        if "century" in table:
            raise ctx.fail(f"{key}.century", "applies to a date `format`; give one.")
        return (), None
    fmt = table["format"]
    fmts = [fmt] if isinstance(fmt, str) else fmt
    if not isinstance(fmts, list) or not fmts or not all(isinstance(f, str) for f in fmts):
        raise ctx.fail(f"{key}.format", "must be a date format or a list of them.")
    for f in fmts:
        if "%" in f:
            if not check_pattern(f):
                raise ctx.fail(
                    f"{key}.format",
                    f"'{f}' is not a strptime pattern that reads a whole date (e.g. %d %B %Y).",
                )
        elif f not in DATE_FORMATS:
            raise ctx.fail(
                f"{key}.format",
                f"'{f}' is not a date format ({', '.join(DATE_FORMATS)}, "
                "or a strptime pattern with %).",
            )
    century = table.get("century")
    pivot = isinstance(century, int) and not isinstance(century, bool) and 1000 <= century <= 9900
    if century is not None and century != "past" and not pivot:
        raise ctx.fail(
            f"{key}.century",
            'must be "past" (never after the reference date) or a pivot year such as 1950.',
        )
    two_digit = [f for f in fmts if reads_two_digit_year(f)]
    if two_digit and century is None:
        raise ctx.fail(
            f"{key}.century",
            f"is required with format '{two_digit[0]}' (it can read a two-digit year): "
            'century = "past" or a pivot year such as 1950.',
        )
    return tuple(fmts), century


def _fields(ctx: _Ctx, key: str, table: Any, allowed: frozenset[str]) -> dict[str, FieldSpec]:
    table = _expect(ctx, key, table, dict, "a table")
    out: dict[str, FieldSpec] = {}
    for name, value in table.items():
        if name not in allowed:
            raise ctx.fail(f"{key}.{name}", "is not a canonical field (see docs/contracts.md).")
        out[name] = _field_spec(ctx, f"{key}.{name}", name, value)
    if "name" in out and ({"forename", "surname", "middle_names"} & set(out)):
        raise ctx.fail(f"{key}.name", "fills forename and surname; do not map them as well.")
    seen: dict[str, str] = {}
    for name, spec in out.items():
        for col in spec.columns():
            if col in seen and spec.column is not None and not spec.join:
                other = seen[col]
                if not ({name, other} <= {"dob", "event_date"}):
                    raise ctx.fail(
                        f"{key}.{name}", f"column '{col}' is already mapped to '{other}'."
                    )
            seen.setdefault(col, name)
    return out


def _source(ctx: _Ctx, idx: int, raw: Any, folder: Path) -> SourceSpec:
    key = f"sources[{idx}]"
    table = _expect(ctx, key, raw, dict, "a table")
    allowed = {"name", "kind", "path", "format", "encoding", "delimiter", "sheet", "header_row"}
    _check_keys(ctx, key, table, allowed | {"columns", "people", "periods"})
    for req in ("name", "kind", "path"):
        if req not in table:
            raise ctx.fail(f"{key}.{req}", "is required.")
    name = _expect(ctx, f"{key}.name", table["name"], str, "a string")
    if not name or any(c in name for c in ":/\\ "):
        raise ctx.fail(f"{key}.name", "must be non-empty, without spaces, ':' or slashes.")
    kind = _expect(ctx, f"{key}.kind", table["kind"], str, "a string")
    if kind not in SOURCE_KINDS:
        raise ctx.fail(f"{key}.kind", f"'{kind}' is not a source kind ({', '.join(SOURCE_KINDS)}).")
    path = _resolve_path(ctx, f"{key}.path", table["path"], folder)
    fmt = table.get("format", path.suffix.lower().lstrip("."))
    if fmt not in FORMATS:
        raise ctx.fail(f"{key}.format", f"'{fmt}' is not supported ({', '.join(FORMATS)}).")
    encoding = table.get("encoding", "auto")
    if encoding not in ENCODINGS:
        raise ctx.fail(f"{key}.encoding", f"must be one of {', '.join(ENCODINGS)}.")
    delimiter = _expect(ctx, f"{key}.delimiter", table.get("delimiter", ","), str, "a character")
    if len(delimiter) != 1:
        raise ctx.fail(f"{key}.delimiter", "must be exactly one character.")
    sheet = table.get("sheet")
    if sheet is not None:
        _expect(ctx, f"{key}.sheet", sheet, str, "a sheet name")
    if fmt == "xlsx" and sheet is None:
        raise ctx.fail(f"{key}.sheet", "is required for an .xlsx source.")
    header_row = _expect(
        ctx, f"{key}.header_row", table.get("header_row", 1), int, "a whole number"
    )
    if header_row < 1:
        raise ctx.fail(f"{key}.header_row", "must be 1 or more.")
    columns = _fields(ctx, f"{key}.columns", table.get("columns", {}), MAPPABLE_FIELDS | {"name"})
    people: list[PersonSlot] = []
    raw_people = table.get("people", [])
    _expect(ctx, f"{key}.people", raw_people, list, "a list of tables ([[sources.people]])")
    roles: set[str] = set()
    for j, p in enumerate(raw_people):
        pkey = f"{key}.people[{j}]"
        ptable = _expect(ctx, pkey, p, dict, "a table")
        role = _expect(ctx, f"{pkey}.role", ptable.get("role"), str, "a role name (e.g. partner)")
        if not role.isidentifier():
            raise ctx.fail(f"{pkey}.role", "must be a single word (letters, digits, _).")
        if role in roles:
            raise ctx.fail(f"{pkey}.role", f"role '{role}' appears twice.")
        roles.add(role)
        fields = {k: v for k, v in ptable.items() if k != "role"}
        slot_fields = _fields(ctx, pkey, fields, PERSON_KEYS)
        clash = set(slot_fields) & set(columns) - {"address", "postcode", "uprn"}
        if clash:
            raise ctx.fail(f"{pkey}.{sorted(clash)[0]}", "is mapped in [sources.columns] too.")
        people.append(PersonSlot(role=role, fields=slot_fields))
    periods = _periods(ctx, key, table.get("periods", []), columns)
    return SourceSpec(
        name=name,
        kind=kind,
        path=path,
        format=fmt,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        header_row=header_row,
        columns=columns,
        people=tuple(people),
        periods=periods,
    )


def _periods(ctx: _Ctx, key: str, raw: Any, columns: dict[str, FieldSpec]) -> tuple[Period, ...]:
    """`[[sources.periods]]`: one record per period of a wide row, each with its own label."""
    _expect(ctx, f"{key}.periods", raw, list, "a list of tables ([[sources.periods]])")
    out: list[Period] = []
    for j, p in enumerate(raw):
        pkey = f"{key}.periods[{j}]"
        ptable = _expect(ctx, pkey, p, dict, "a table")
        if "label" not in ptable:
            raise ctx.fail(f"{pkey}.label", 'is required (e.g. label = "2011/12-autumn").')
        label = _expect(ctx, f"{pkey}.label", ptable["label"], str, "a string")
        if not label.strip() or ":" in label:
            raise ctx.fail(f"{pkey}.label", "must be non-empty, without ':'.")
        if label in {q.label for q in out}:
            raise ctx.fail(f"{pkey}.label", f"label '{label}' appears twice.")
        fields = {k: v for k, v in ptable.items() if k != "label"}
        for name in fields:
            if name not in PERIOD_FIELDS:
                raise ctx.fail(
                    f"{pkey}.{name}",
                    "is not a per-period field (fact fields only: term, sessions_possible, ...).",
                )
        period_fields = _fields(ctx, pkey, fields, PERIOD_FIELDS)
        clash = sorted(set(period_fields) & set(columns))
        if clash:
            raise ctx.fail(f"{pkey}.{clash[0]}", "is mapped in [sources.columns] too.")
        out.append(Period(label=label, fields=period_fields))
    return tuple(out)


def database_url_for(value: str | None, folder: Path) -> str:
    """An SQLAlchemy URL from the project's `database` value (URL or file path)."""
    env = os.environ.get(DATABASE_ENV)
    if env:
        return env
    if value is None:
        return f"sqlite:///{(folder / 'familymatch.db').resolve()}"
    if "://" in value:
        return value
    path = Path(value)
    if not path.is_absolute():
        path = folder / path
    return f"sqlite:///{path.resolve()}"


def load_project(path: str | Path) -> Project:
    """Read and validate a project file."""
    path = Path(path)
    ctx = _Ctx(path)
    if not path.is_file():
        raise ConfigError(f"{path}: the project file does not exist.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: is not UTF-8 text.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: is not valid TOML ({exc}).") from None
    folder = path.resolve().parent
    _check_keys(ctx, "", data, {"project", "sources", "gazetteer"})
    proj = _expect(ctx, "project", data.get("project"), dict, "a [project] table")
    _check_keys(
        ctx,
        "project",
        proj,
        {"name", "reference_date", "rule_set", "database", "postcode_lookup", "terms", "gazetteer"},
    )
    name = _expect(ctx, "project.name", proj.get("name", path.stem), str, "a string")
    if "reference_date" not in proj:
        raise ctx.fail("project.reference_date", "is required (e.g. 2012-06-01).")
    ref = proj["reference_date"]
    if isinstance(ref, str):
        try:
            ref = date.fromisoformat(ref)
        except ValueError:
            raise ctx.fail("project.reference_date", f"'{ref}' is not a date YYYY-MM-DD.") from None
    if not isinstance(ref, date) or hasattr(ref, "hour"):
        raise ctx.fail("project.reference_date", "must be a date YYYY-MM-DD.")
    rule_set = _expect(ctx, "project.rule_set", proj.get("rule_set", "phase1"), str, "a string")
    db_value = proj.get("database")
    if db_value is not None:
        _expect(ctx, "project.database", db_value, str, "a URL or a file path")
    lookup = proj.get("postcode_lookup")
    lookup_path = None
    if lookup is not None:
        lookup_path = _resolve_path(ctx, "project.postcode_lookup", lookup, folder)
    terms = None
    if proj.get("terms") is not None:
        terms = _resolve_path(ctx, "project.terms", proj["terms"], folder)
        if not terms.is_file():
            raise ctx.fail("project.terms", f"'{proj['terms']}' does not exist.")
    gazetteer = _gazetteer(ctx, proj.get("gazetteer"), data.get("gazetteer"), folder)
    raw_sources = data.get("sources")
    if raw_sources is None:
        raise ctx.fail("sources", "at least one [[sources]] table is required.")
    _expect(ctx, "sources", raw_sources, list, "a list of [[sources]] tables")
    if not raw_sources:
        raise ctx.fail("sources", "at least one [[sources]] table is required.")
    sources = [_source(ctx, i, s, folder) for i, s in enumerate(raw_sources)]
    names = [s.name for s in sources]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise ctx.fail(f"sources[{i}].name", f"source name '{n}' is used twice.")
    return Project(
        path=path.resolve(),
        name=name,
        reference_date=ref,
        rule_set=rule_set,
        database_url=database_url_for(db_value, folder),
        postcode_lookup=lookup_path,
        sources=tuple(sources),
        terms=terms,
        gazetteer=gazetteer,
    )


GAZETTEER_FIELDS = frozenset({"uprn", "address", "postcode"})


def _gazetteer(ctx: _Ctx, path: Any, table: Any, folder: Path) -> SourceSpec | None:
    """The optional gazetteer (an LLPG / AddressBase extract): ``[project] gazetteer`` names the
    file, ``[gazetteer.columns]`` maps uprn, address and postcode (default: columns of those
    names)."""
    if path is None:
        if table is not None:
            raise ctx.fail("gazetteer", "needs [project] gazetteer = the file's path.")
        return None
    file = _resolve_path(ctx, "project.gazetteer", path, folder)
    fmt = file.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ctx.fail("project.gazetteer", f"'{file.name}' is not a {', '.join(FORMATS)} file.")
    table = _expect(ctx, "gazetteer", table if table is not None else {}, dict, "a table")
    _check_keys(ctx, "gazetteer", table, {"columns", "sheet", "encoding"})
    columns = {name: FieldSpec(column=name) for name in sorted(GAZETTEER_FIELDS)}
    if "columns" in table:
        columns |= _fields(ctx, "gazetteer.columns", table["columns"], GAZETTEER_FIELDS)
    if fmt == "xlsx" and "sheet" not in table:
        raise ctx.fail("gazetteer.sheet", "is required for an xlsx gazetteer.")
    encoding = table.get("encoding", "auto")
    if encoding not in ENCODINGS:
        raise ctx.fail("gazetteer.encoding", f"must be one of {', '.join(ENCODINGS)}.")
    return SourceSpec(
        name="gazetteer",
        kind="gazetteer",
        path=file,
        format=fmt,
        encoding=encoding,
        sheet=table.get("sheet"),
        columns=columns,
    )
