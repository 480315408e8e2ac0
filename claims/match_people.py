"""Attachment by person details: a team's own case list, one row per family, naming the lead
adult (forename, surname, date of birth, address, postcode) instead of our family reference.

Each row becomes a record and is linked to the build with the build's own fitted model
(:func:`claims.outcomes.link_onto_build`, the same linkage as outcome evidence). A row's
candidates are the build's records it was scored against; each candidate's household is a family.
The family found is the one holding the row's best linked pair, shown with its match weight
(log2 Bayes factor). A row is refused, in one sentence naming the row and never the person, when
no pair reaches the build's link threshold (weak), or when another family's best pair is within
``margin`` of the best (ambiguous: two people alike, e.g. a parent and child of one name). A row
marked in the ``skip`` column is not matched. The rows found then go through the same checks as
an allocation by reference (``claims.attach.check_allocation``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from claims.attach import DATE_FORMATS, read_rows
from claims.outcomes import BUILD_PREFIX, link_onto_build
from familymatch.canonical import CANONICAL_SCHEMA
from familymatch.errors import InputFileError
from familymatch.ingest.fields import parse_dates
from familymatch.ingest.readers import ROW
from familymatch.store import Store

SHEET = "People"
SOURCE = "attach"  # record ids "attach:<row>"
PEOPLE_COLUMNS = (
    "forename",
    "surname",
    "dob",
    "address",
    "postcode",
    "key_worker",
    "team",
    "attached_on",
    "skip",
)
PEOPLE_ALIASES = {
    "forename": ("forename", "firstname", "givenname", "forenames"),
    "surname": ("surname", "lastname", "familyname"),
    "dob": ("dob", "dateofbirth", "birthdate"),
    "address": ("address", "addressline", "address1"),
    "postcode": ("postcode", "postalcode"),
    "key_worker": ("keyworker", "worker", "caseworker"),
    "team": ("team",),
    "attached_on": ("attachedon", "attachmentdate", "dateattached", "attached"),
    "skip": ("skip",),
}
REQUIRED = ("forename", "surname", "dob", "key_worker", "attached_on")
SKIP_WORDS = ("yes", "y", "skip", "true", "1", "x")
DEFAULT_MARGIN = 5.0  # log2: the runner-up family 32 times less likely is not ambiguous


@dataclass
class PeopleMatch:
    """One row per data row: source_row, skipped, family_ref (null unless found), match_weight,
    runner_up, runner_up_weight, status (found / weak / ambiguous / skipped / incomplete)."""

    rows: pl.DataFrame
    problems: list[str]


def _columns(columns: list[str], label: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for col in columns:
        norm = col.lower().replace(" ", "").replace("_", "").replace("-", "")
        for field, names in PEOPLE_ALIASES.items():
            if norm in names and field not in found:
                found[field] = col
    missing = [f for f in REQUIRED if f not in found]
    if missing:
        raise InputFileError(
            f"{label}: no '{missing[0]}' column (person-details layout: "
            f"{', '.join(PEOPLE_COLUMNS)})."
        )
    return found


def read_people(path: Path, sheet: str = SHEET) -> pl.DataFrame:
    """The person-details file as forename, surname, dob_text, dob, address, postcode,
    key_worker, team, attached_on_text, attached_on, skip (bool), source_row."""
    raw = read_rows(path, sheet, "person-details file")
    cols = _columns([c for c in raw.columns if c != ROW], f"person-details file {path.name}")

    def col(field: str) -> pl.Expr:
        return (pl.col(cols[field]) if field in cols else pl.lit(None, dtype=pl.String)).alias(
            field
        )

    skip = col("skip").str.strip_chars().str.to_lowercase().is_in(SKIP_WORDS).fill_null(False)
    return raw.select(
        col("forename"),
        col("surname"),
        col("dob").alias("dob_text"),
        parse_dates(pl.col(cols["dob"]), DATE_FORMATS, None, date.today()).alias("dob"),
        col("address"),
        col("postcode"),
        col("key_worker"),
        col("team"),
        col("attached_on").alias("attached_on_text"),
        parse_dates(pl.col(cols["attached_on"]), DATE_FORMATS, None, date.today()).alias(
            "attached_on"
        ),
        skip.alias("skip"),
        pl.col(ROW).alias("source_row"),
    )


def people_records(people: pl.DataFrame) -> pl.DataFrame:
    """The rows to match as canonical records (``attach:<row>``, kind population)."""
    rows = people.filter(~pl.col("skip"))
    out = rows.select(
        pl.format("{}:{}", pl.lit(SOURCE), "source_row").alias("record_id"),
        pl.lit(SOURCE).alias("source"),
        pl.lit("population").alias("kind"),
        pl.col("source_row").cast(pl.Int64).alias("row"),
        "forename",
        "surname",
        "dob",
        "address",
        "postcode",
    )
    missing = [
        pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in CANONICAL_SCHEMA.items()
        if name not in out.columns
    ]
    return out.with_columns(missing).select(list(CANONICAL_SCHEMA)).cast(CANONICAL_SCHEMA)


def family_scores(pairs: pl.DataFrame, families: pl.DataFrame) -> pl.DataFrame:
    """record_id (the row's), family_ref, weight (its best pair), linked (any pair linked):
    ``pairs`` the scored pairs over the build's and the rows' records; ``families``: the build's
    record_id (prefixed), family_ref."""
    row = pl.col("record_id_l").str.starts_with(f"{SOURCE}:")
    either = pairs.filter(row ^ pl.col("record_id_r").str.starts_with(f"{SOURCE}:"))
    oriented = either.select(
        pl.when(row).then("record_id_l").otherwise("record_id_r").alias("record_id"),
        pl.when(row).then("record_id_r").otherwise("record_id_l").alias("build_record"),
        pl.col("match_weight"),
        (pl.col("linked") & (pl.col("stage") == "fs")).fill_null(False).alias("linked"),
    ).filter(pl.col("build_record").str.starts_with(BUILD_PREFIX))
    return (
        oriented.join(families.rename({"record_id": "build_record"}), on="build_record")
        .group_by("record_id", "family_ref")
        .agg(pl.col("match_weight").max().alias("weight"), pl.col("linked").any())
        .sort(["record_id", "weight", "family_ref"], descending=[False, True, False])
    )


def decide_rows(people: pl.DataFrame, scores: pl.DataFrame, margin: float) -> PeopleMatch:
    """One decision per row (see the module docstring), and the problems in row order."""
    by_row: dict[str, list[tuple[str, float, bool]]] = {}
    for rid, ref, weight, linked in scores.iter_rows():
        by_row.setdefault(rid, []).append((ref, weight, linked))
    out: list[tuple[object, ...]] = []
    problems: list[str] = []
    for r in people.iter_rows(named=True):
        n = r["source_row"]
        where = f"row {n}"
        found = by_row.get(f"{SOURCE}:{n}", [])
        best = found[0] if found else None
        second = found[1] if len(found) > 1 else None
        status, ref = _status(r, best, second, margin)
        if status == "incomplete":
            problems.append(
                f"{where}: needs the lead adult's forename, surname and a date of birth "
                "(dd/mm/yyyy), or 'yes' in the skip column."
            )
        elif status == "weak":
            problems.append(
                f"{where}: no family matches the lead adult well enough ("
                + (f"best match weight {best[1]:.1f}, below" if best else "nothing near")
                + " the build's link threshold); check the details or skip the row."
            )
        elif status == "ambiguous" and best and second:
            problems.append(
                f"{where}: the lead adult matches families {best[0]} (weight {best[1]:.1f}) "
                f"and {second[0]} (weight {second[1]:.1f}), within {margin:g} of each other; "
                "give the family reference instead, or skip the row."
            )
        out.append(
            (
                n,
                ref,
                best[1] if best else None,
                second[0] if second else None,
                second[1] if second else None,
                status,
            )
        )
    schema = {
        "source_row": pl.Int64,
        "family_ref": pl.String,
        "match_weight": pl.Float64,
        "runner_up": pl.String,
        "runner_up_weight": pl.Float64,
        "status": pl.String,
    }
    return PeopleMatch(pl.DataFrame(out, schema=schema, orient="row"), problems)


def _status(
    r: dict[str, object],
    best: tuple[str, float, bool] | None,
    second: tuple[str, float, bool] | None,
    margin: float,
) -> tuple[str, str | None]:
    if r["skip"]:
        return "skipped", None
    if r["forename"] is None or r["surname"] is None or r["dob"] is None:
        return "incomplete", None
    if best is None or not best[2]:
        return "weak", None
    if second is not None and best[1] - second[1] < margin:
        return "ambiguous", None
    return "found", best[0]


def match_people(
    store: Store, build_run: int, people: pl.DataFrame, margin: float = DEFAULT_MARGIN
) -> PeopleMatch:
    """Link every row not skipped to build ``build_run`` and decide it."""
    from familymatch.store import read_table
    from familymatch.store import schema as s

    records = people_records(people.filter(pl.col("dob").is_not_null()))
    if records.height == 0:
        return decide_rows(people, _no_scores(), margin)
    onto = link_onto_build(store, build_run, records)
    refs = read_table(store, s.households, build_run).select("household_id", "family_ref")
    families = onto.membership.join(refs, on="household_id").select(
        (pl.lit(BUILD_PREFIX) + pl.col("record_id")).alias("record_id"), "family_ref"
    )
    return decide_rows(people, family_scores(onto.linked.pairs, families), margin)


def _no_scores() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "record_id": pl.String,
            "family_ref": pl.String,
            "weight": pl.Float64,
            "linked": pl.Boolean,
        }
    )


def row_lines(rows: pl.DataFrame) -> list[str]:
    """One line per row: the family found and its match weight, or the decision (never the
    person's details)."""
    out = []
    for r in rows.iter_rows(named=True):
        weight = "" if r["match_weight"] is None else f", match weight {r['match_weight']:.1f}"
        found = f"family {r['family_ref']}" if r["family_ref"] else r["status"]
        out.append(f"row {r['source_row']}: {found}{weight}")
    return out


def as_allocation(people: pl.DataFrame, matched: PeopleMatch) -> pl.DataFrame:
    """The rows found, in the allocation's columns (family_ref, key_worker, team,
    attached_on_text, attached_on, source_row), for ``check_allocation``."""
    found = matched.rows.filter(pl.col("status") == "found").select("source_row", "family_ref")
    return people.join(found, on="source_row").select(
        "family_ref", "key_worker", "team", "attached_on_text", "attached_on", "source_row"
    )


def write_people_template(path: Path) -> Path:
    """The person-details layout, blank, for a team's own case list: CSV (header only) or XLSX
    (dates validated). Owner-only: once filled in it holds personal data."""
    from familymatch.outputs import write_owner_only
    from familymatch.workbooks import date_column, one_sheet_workbook, save_workbook, write_table

    if path.suffix.lower() == ".csv":
        return write_owner_only(path, lambda tmp: tmp.write_text(",".join(PEOPLE_COLUMNS) + "\n"))
    if path.suffix.lower() != ".xlsx":
        raise InputFileError(f"{path.name}: a person-details template is .csv or .xlsx.")
    wb, ws = one_sheet_workbook(SHEET)
    write_table(ws, PEOPLE_COLUMNS, [], filters=False)
    for column in ("C", "H"):
        date_column(ws, column, 2, 500, "Enter a date.")
    ws.column_dimensions["D"].width = 40
    return save_workbook(wb, path)
