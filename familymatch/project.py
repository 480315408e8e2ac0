"""The project file (``familymatch.toml``): what a coordinator's build reads, validated on load.

Every problem is a :class:`ConfigError` naming the file and the dotted key
(``familymatch.toml: sources[2].columns.dob: ...``). The syntax is documented in
``docs/contracts.md`` section 1 and ``docs/project-file.md``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from familymatch.canonical import MAPPABLE_FIELDS, SOURCE_KINDS
from familymatch.config import ConfigContext
from familymatch.errors import ConfigError

DATE_FORMATS = ("dd/mm/yyyy", "mm/dd/yyyy", "iso", "excel", "dd-mon-yyyy")
NAME_ORDERS = ("surname_first", "forename_first")
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
    order: str | None = None  # for `name`: surname_first / forename_first

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

    def slots(self) -> tuple[PersonSlot, ...]:
        """The person slots of a row: the declared people, or one unnamed slot."""
        return self.people or (PersonSlot(role=None, fields={}),)

    def mapped_columns(self) -> set[str]:
        """Every source column any field reads."""
        cols: set[str] = set()
        for spec in self.columns.values():
            cols.update(spec.columns())
        for slot in self.people:
            for spec in slot.fields.values():
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
    _check_keys(ctx, key, table, {"column", "format", "map", "constant", "join", "sep"})
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
    formats: tuple[str, ...] = ()
    if "format" in table:
        fmt = table["format"]
        fmts = [fmt] if isinstance(fmt, str) else fmt
        if not isinstance(fmts, list) or not fmts:
            raise ctx.fail(f"{key}.format", "must be a date format or a list of them.")
        for f in fmts:
            if f not in DATE_FORMATS:
                raise ctx.fail(
                    f"{key}.format", f"'{f}' is not a date format ({', '.join(DATE_FORMATS)})."
                )
        formats = tuple(fmts)
    mapping: tuple[tuple[str, str], ...] = ()
    if "map" in table:
        m = _expect(ctx, f"{key}.map", table["map"], dict, "a table of code = value")
        mapping = tuple((str(k), str(v)) for k, v in m.items())
    return FieldSpec(column=column, formats=formats, mapping=mapping)


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
    _check_keys(ctx, key, table, allowed | {"columns", "people"})
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
    )


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
        {"name", "reference_date", "rule_set", "database", "postcode_lookup", "gazetteer"},
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
