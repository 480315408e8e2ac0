"""Attachment: the families the programme takes on, with their key worker and date.

The coordinator gets an allocation template (``write_allocation_template``: one row per cohort
family, key worker / team / attachment date left blank), fills in the families allocated, and
gives it back to ``familymatch attach FILE``. ``read_allocation`` reads it (CSV or XLSX, the
project's readers) and ``check_allocation`` validates every row against the build and the
attachments already recorded: an unknown family, a family not in the cohort, a missing key
worker, an unreadable date, a date before the build's reference date or in the future, a family
already attached (earlier, or twice in the file). Any problem and nothing is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from familymatch.errors import InputFileError
from familymatch.ingest.fields import parse_dates
from familymatch.ingest.readers import ROW, read_source
from familymatch.outputs import write_owner_only
from familymatch.project import SourceSpec
from familymatch.workbooks import date_column, one_sheet_workbook, save_workbook, write_table

SHEET = "Allocation"
TEMPLATE_COLUMNS = (
    "family_ref",
    "criteria",
    "postcode",
    "key_worker",
    "team",
    "attached_on",
)
# header spellings a coordinator might use, normalised (lower case, no spaces/underscores)
ALIASES = {
    "family_ref": ("familyref", "familyreference", "reference", "ref", "family"),
    "key_worker": ("keyworker", "worker", "caseworker"),
    "team": ("team",),
    "attached_on": ("attachedon", "attachmentdate", "dateattached", "attached", "date"),
}
DATE_FORMATS = ("dd/mm/yyyy", "excel")


@dataclass
class AllocationCheck:
    """The rows to record and the problems found (one sentence each, naming the row)."""

    rows: pl.DataFrame  # family_ref, household_id, key_worker, team, attached_on, source_row
    problems: list[str]
    skipped: int  # template rows left blank (not allocated)


def write_allocation_template(
    cohort: pl.DataFrame, path: Path, attached: pl.DataFrame | None = None
) -> Path:
    """One row per cohort family (family_ref, criteria, postcode), blanks to fill in. CSV or
    XLSX by the file's extension; owner-only. With ``attached`` (family_ref, attached_on: the
    attachments recorded, e.g. before a refresh), a last column ``already_attached`` gives the
    date a family was attached; leave those rows blank."""
    frame = cohort.select("family_ref", "criteria", "postcode").sort("family_ref")
    earlier = None
    if attached is not None:
        earlier = frame.join(
            attached.select("family_ref", pl.col("attached_on").alias("already_attached")),
            on="family_ref",
            how="left",
        )["already_attached"]
    if path.suffix.lower() == ".csv":
        out = frame.with_columns(
            pl.lit("").alias("key_worker"),
            pl.lit("").alias("team"),
            pl.lit("").alias("attached_on"),
        )
        if earlier is not None:
            out = out.with_columns(earlier.dt.strftime("%d/%m/%Y"))
        return write_owner_only(path, lambda tmp: out.write_csv(tmp))
    if path.suffix.lower() != ".xlsx":
        raise InputFileError(f"{path.name}: an allocation template is .csv or .xlsx.")
    wb, ws = one_sheet_workbook(SHEET)
    extra = [] if earlier is None else [(d,) for d in earlier]
    rows = [
        (*r, None, None, None, *(extra[i] if extra else ()))
        for i, r in enumerate(frame.iter_rows())
    ]
    header = TEMPLATE_COLUMNS + (("already_attached",) if extra else ())
    last = write_table(ws, header, rows)
    ws.column_dimensions["D"].width = 24
    ws.column_dimensions["F"].width = 14
    date_column(ws, "F", 2, last, "Enter the date the family was attached (a date).")
    return save_workbook(wb, path)


def _column_map(columns: list[str], label: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for col in columns:
        norm = col.lower().replace(" ", "").replace("_", "")
        for field, names in ALIASES.items():
            if norm in names and field not in found:
                found[field] = col
    for need in ("family_ref", "key_worker", "attached_on"):
        if need not in found:
            raise InputFileError(
                f"{label}: no '{need}' column (the columns are: {', '.join(columns)})."
            )
    return found


def read_rows(path: Path, sheet: str, what: str) -> pl.DataFrame:
    """The cells of a .csv or .xlsx file the coordinator returns, as text with row numbers; a
    row that cannot be split into the header's columns is an error naming it (never dropped)."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("csv", "xlsx"):
        raise InputFileError(f"{path.name}: an {what} is .csv or .xlsx.")
    spec = SourceSpec(name="attach", kind="population", path=path, format=suffix, sheet=sheet)
    table = read_source(spec)
    if table.ragged:
        row, reason = table.ragged[0]
        raise InputFileError(
            f"{what} {path.name} row {row}: {reason} (a value holding a comma needs quotes); "
            "nothing was recorded."
        )
    return table.frame


def read_allocation(path: Path, sheet: str = SHEET) -> pl.DataFrame:
    """The allocation file as family_ref, key_worker, team, attached_on_text, attached_on,
    source_row (1-based data row)."""
    raw = read_rows(path, sheet, "allocation file")
    cols = _column_map([c for c in raw.columns if c != ROW], f"allocation file {path.name}")
    text = pl.col(cols["attached_on"])
    return raw.select(
        pl.col(cols["family_ref"]).str.to_uppercase().alias("family_ref"),
        pl.col(cols["key_worker"]).alias("key_worker"),
        (pl.col(cols["team"]) if "team" in cols else pl.lit(None, dtype=pl.String)).alias("team"),
        text.alias("attached_on_text"),
        parse_dates(text, DATE_FORMATS, None, date.today()).alias("attached_on"),
        pl.col(ROW).alias("source_row"),
    )


def check_allocation(
    allocation: pl.DataFrame,
    cohort: pl.DataFrame,
    known_refs: set[str],
    already: pl.DataFrame,
    reference_date: date,
    today: date,
    label: str,
) -> AllocationCheck:
    """Validate an allocation (see the module docstring). ``cohort`` holds family_ref and
    household_id of the build's cohort; ``known_refs`` every family reference of the build;
    ``already`` the attachments recorded before (family_ref, attached_on)."""
    blank = (
        pl.col("key_worker").is_null()
        & pl.col("attached_on_text").is_null()
        & pl.col("team").is_null()
    )
    skipped = allocation.filter(blank).height
    rows = allocation.filter(~blank)
    in_cohort = dict(zip(cohort["family_ref"], cohort["household_id"], strict=True))
    earlier = dict(zip(already["family_ref"], already["attached_on"], strict=True))
    problems: list[str] = []
    seen: dict[str, int] = {}
    for r in rows.iter_rows(named=True):
        where = f"{label} row {r['source_row']}"
        ref = r["family_ref"]
        if ref is None:
            problems.append(f"{where}: no family reference.")
            continue
        if ref not in known_refs:
            problems.append(f"{where}: family {ref} is not a family of the build.")
        elif ref not in in_cohort:
            problems.append(f"{where}: family {ref} is not in the build's cohort.")
        if ref in seen:
            problems.append(f"{where}: family {ref} is also on row {seen[ref]}.")
        seen.setdefault(ref, r["source_row"])
        if ref in earlier:
            problems.append(f"{where}: family {ref} was already attached on {earlier[ref]}.")
        if r["key_worker"] is None:
            problems.append(f"{where}: no key worker.")
        d = r["attached_on"]
        if r["attached_on_text"] is None:
            problems.append(f"{where}: no attachment date.")
        elif d is None:
            problems.append(
                f"{where}: attachment date '{r['attached_on_text']}' is not a date "
                "(dd/mm/yyyy or YYYY-MM-DD)."
            )
        elif d < reference_date:
            problems.append(
                f"{where}: attachment date {d} is before the build's reference date "
                f"{reference_date}."
            )
        elif d > today:
            problems.append(f"{where}: attachment date {d} is in the future.")
    recorded = rows.with_columns(
        pl.col("family_ref").replace_strict(in_cohort, default=None).alias("household_id")
    ).select("family_ref", "household_id", "key_worker", "team", "attached_on", "source_row")
    return AllocationCheck(rows=recorded, problems=problems, skipped=skipped)


def check_against_build(
    store: Any, build_run: int, allocation: pl.DataFrame, today: date, label: str
) -> AllocationCheck:
    """:func:`check_allocation` against build ``build_run`` and the attachments recorded."""
    from claims.records import cohort_families, family_refs, read_attachments
    from familymatch.store import run_info

    return check_allocation(
        allocation,
        cohort_families(store, build_run),
        family_refs(store, build_run),
        read_attachments(store).select("family_ref", "attached_on"),
        run_info(store, build_run)["reference_date"],
        today,
        label,
    )


def allocation_template(store: Any, build_run: int, path: Path, people: bool) -> int:
    """Write the template (the person-details layout when ``people``); the families listed."""
    from claims.match_people import write_people_template
    from claims.records import cohort_families, read_attachments

    if people:
        write_people_template(path)
        return 0
    cohort = cohort_families(store, build_run)
    attached = read_attachments(store).select("family_ref", "attached_on")
    write_allocation_template(cohort, path, attached if attached.height else None)
    return cohort.height
