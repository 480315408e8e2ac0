"""The claim workbook internal audit signs off, written and read back.

Sheets: Summary (totals by programme year and result, the runs, framework and content hash),
Families (one row per claimed family), Evidence (the figures and rows behind each claim), Not
claimed (attached families with the reason), Audit (a reproducible sample with sign-off columns
under data validation) and a hidden ``familymatch`` sheet naming the claim run. The rows of
Families and Evidence are produced by one function (``expected_rows``) for writing and for
``claims verify``, so any difference between a sheet and the recorded claim is an edit.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import polars as pl
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from claims.records import from_pence
from familymatch.errors import InputFileError
from familymatch.workbooks import (
    date_column,
    print_one_page_wide,
    save_workbook,
    set_cell,
    write_table,
)

FORMAT = "familymatch-claim/1"
META = "familymatch"
SHEETS = ("Summary", "Families", "Evidence", "Not claimed", "Audit")
MONEY = '"£"#,##0.00'

# (header, type) of each compared sheet; the first column(s) are the row key
FAMILY_COLUMNS = (
    ("claim_id", "text"),
    ("family_ref", "text"),
    ("key_worker", "text"),
    ("attached_on", "date"),
    ("criteria_at_entry", "text"),
    ("result", "text"),
    ("programme_year", "text"),
    ("amount", "money"),
    ("audit_sample", "text"),
)
EVIDENCE_COLUMNS = (
    ("claim_id", "text"),
    ("line", "int"),
    ("family_ref", "text"),
    ("component", "text"),
    ("measure", "text"),
    ("person_id", "text"),
    ("source", "text"),
    ("row", "int"),
    ("record_id", "text"),
    ("date", "date"),
    ("before", "text"),
    ("after", "text"),
    ("threshold", "text"),
    ("met", "text"),
)
NOT_CLAIMED_COLUMNS = ("family_ref", "key_worker", "attached_on", "criteria_at_entry", "reason")
AUDIT_COLUMNS = (
    "claim_id",
    "family_ref",
    "result",
    "amount",
    "checked_by",
    "checked_on",
    "agreed",
    "comment",
)

Row = tuple[Any, ...]


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def expected_rows(claims: pl.DataFrame, lines: pl.DataFrame) -> tuple[list[Row], list[Row]]:
    """The Families and Evidence rows of a recorded claim, as the workbook holds them."""
    claimed = claims.filter(pl.col("decision") == "claimed").sort("attached_on", "family_ref")
    families = [
        (
            r["claim_id"],
            r["family_ref"],
            r["key_worker"],
            r["attached_on"],
            r["criteria_at_entry"],
            r["result"],
            r["programme_year"],
            from_pence(r["amount_pence"]),
            _yes_no(r["sampled"]),
        )
        for r in claimed.iter_rows(named=True)
    ]
    refs = dict(zip(claimed["claim_id"], claimed["family_ref"], strict=True))
    evidence = [
        (
            r["claim_id"],
            r["line"],
            refs[r["claim_id"]],
            r["component"],
            r["measure"],
            r["person_id"],
            r["source"],
            r["row"],
            r["record_id"],
            r["date"],
            r["before"],
            r["after"],
            r["threshold"],
            _yes_no(r["met"]),
        )
        for r in lines.filter(pl.col("claim_id").is_in(list(refs)))
        .sort("claim_id", "line")
        .iter_rows(named=True)
    ]
    order = {cid: i for i, cid in enumerate(claimed["claim_id"])}
    evidence.sort(key=lambda r: (order[r[0]], r[1]))
    return families, evidence


def _put_rows(ws: Worksheet, columns: tuple[tuple[str, str], ...], rows: list[Row]) -> None:
    write_table(ws, [c for c, _ in columns], rows)
    for j, (_, kind) in enumerate(columns, start=1):
        if kind == "money":
            for i in range(2, len(rows) + 2):
                ws.cell(row=i, column=j).number_format = MONEY


def _runs(summary: dict[str, Any], many: str, one: str) -> str:
    """The run ids a claim read, as text (older claims recorded one build and one import)."""
    runs = summary.get(many, [summary.get(one)])
    return ", ".join(str(r) for r in runs if r is not None) or "none"


def write_claim_workbook(
    path: Path,
    summary: dict[str, Any],
    claims: pl.DataFrame,
    lines: pl.DataFrame,
    run_id: int,
    framework_title: str,
) -> Path:
    families, evidence = expected_rows(claims, lines)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Summary"
    ws["A1"] = f"Payment-by-results claim (claim run {run_id})"
    ws["A1"].font = Font(bold=True, size=14)
    info = [
        ("Framework", framework_title),
        ("Framework version", summary["framework_version"]),
        ("Claim date (as of)", dt.date.fromisoformat(summary["as_of"])),
        ("Build runs (families attached from)", _runs(summary, "build_runs", "build_run")),
        ("Outcomes runs (linked onto them)", _runs(summary, "outcomes_runs", "outcomes_run")),
        ("Claim run", run_id),
        ("Families attached", summary["attached"]),
        ("Families claimed", summary["claimed"]),
        ("Families not claimed", summary["not_claimed"]),
        ("Total claimed", Decimal(summary["amount"])),
        ("Families in the audit sample", summary["sampled"]),
        ("Content SHA-256", summary["content_sha256"]),
    ]
    for i, (k, v) in enumerate(info, start=3):
        set_cell(ws, i, 1, k)
        set_cell(ws, i, 2, v)
        if isinstance(v, Decimal):
            ws.cell(row=i, column=2).number_format = MONEY
    start = len(info) + 5
    set_cell(ws, start - 1, 1, "Totals by programme year and result")
    ws.cell(row=start - 1, column=1).font = Font(bold=True)
    totals = [
        (t["programme_year"], t["result"], t["families"], Decimal(t["amount"]))
        for t in summary["by_year_and_result"]
    ]
    write_table(
        ws,
        ["programme_year", "result", "families", "amount"],
        totals,
        start_row=start,
        filters=False,
    )
    for i in range(start + 1, start + 1 + len(totals)):
        ws.cell(row=i, column=4).number_format = MONEY
    ws.column_dimensions["A"].width = 32
    ws.column_dimensions["B"].width = 70

    _put_rows(wb.create_sheet("Families"), FAMILY_COLUMNS, families)
    _put_rows(wb.create_sheet("Evidence"), EVIDENCE_COLUMNS, evidence)

    not_claimed = claims.filter(pl.col("decision") == "not_claimed").sort(
        "attached_on", "family_ref"
    )
    write_table(
        wb.create_sheet("Not claimed"),
        NOT_CLAIMED_COLUMNS,
        not_claimed.select(NOT_CLAIMED_COLUMNS).rows(),
    )

    audit = wb.create_sheet("Audit")
    sample = [r for r in families if r[8] == "yes"]
    write_table(
        audit, AUDIT_COLUMNS, [(r[0], r[1], r[5], r[7], None, None, None, None) for r in sample]
    )
    last = len(sample) + 1
    agreed = DataValidation(
        type="list",
        formula1='"yes,no"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Agreed",
        error="Enter yes or no.",
    )
    audit.add_data_validation(agreed)
    agreed.add(f"G2:G{max(2, last)}")
    date_column(audit, "F", 2, last, "Enter the date the family was checked.")
    for i in range(2, last + 1):
        audit.cell(row=i, column=4).number_format = MONEY
    audit.column_dimensions["E"].width = 20
    audit.column_dimensions["H"].width = 40

    for sheet in wb.worksheets:  # internal audit prints it: one page wide
        print_one_page_wide(sheet, landscape=sheet.title != "Summary")
    meta = wb.create_sheet(META)
    for i, (k, v) in enumerate(
        [
            ("format", FORMAT),
            ("claim_run", run_id),
            ("content_sha256", summary["content_sha256"]),
            ("framework", summary["framework"]),
            ("as_of", summary["as_of"]),
        ],
        start=1,
    ):
        set_cell(meta, i, 1, k)
        set_cell(meta, i, 2, v)
    meta.sheet_state = "hidden"
    return save_workbook(wb, path)


@dataclass
class ClaimWorkbook:
    """What ``claims verify`` reads back from a workbook."""

    path: Path
    claim_run: int
    content_sha256: str
    families: list[Row]  # data rows as found (normalised by column type)
    evidence: list[Row]
    audit: list[dict[str, Any]]
    summary_totals: list[Row]


def _norm(value: Any, kind: str) -> Any:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if kind == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            return str(value)
    if kind == "money":
        try:
            return Decimal(str(value)).quantize(Decimal("0.01"))
        except InvalidOperation:
            return str(value)
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            return str(value)
    return value if isinstance(value, str) else str(value)


def _sheet_rows(ws: Worksheet, columns: tuple[tuple[str, str], ...], label: str) -> list[Row]:
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None)
    names = [c for c, _ in columns]
    if header is None or [str(h) if h is not None else "" for h in header[: len(names)]] != names:
        raise InputFileError(f"{label}: sheet '{ws.title}' does not have the claim's columns.")
    out: list[Row] = []
    for raw in rows:
        cells = list(raw[: len(columns)]) + [None] * max(0, len(columns) - len(raw))
        extra = [v for v in raw[len(columns) :] if v not in (None, "")]
        row = tuple(_norm(v, kind) for v, (_, kind) in zip(cells, columns, strict=True))
        if all(v is None for v in row) and not extra:
            continue
        out.append(row + (("<extra cells>",) if extra else ()))
    return out


def read_claim_workbook(path: Path) -> ClaimWorkbook:
    label = f"claim workbook {path.name}"
    if not path.is_file():
        raise InputFileError(f"{label}: the file does not exist.")
    if not zipfile.is_zipfile(path):
        raise InputFileError(f"{label}: is not an .xlsx workbook.")
    try:  # read-only: values streamed sheet by sheet, half the time of a full load
        wb = load_workbook(path, data_only=True, read_only=True)
    except Exception:
        raise InputFileError(f"{label}: is not an .xlsx workbook (corrupt).") from None
    try:
        return _claim_workbook(wb, path, label)
    finally:
        wb.close()


def _claim_workbook(wb: Workbook, path: Path, label: str) -> ClaimWorkbook:
    if META not in wb.sheetnames:
        raise InputFileError(f"{label}: is not a familymatch claim workbook (no '{META}' sheet).")
    meta = {str(k): v for k, v, *_ in wb[META].iter_rows(values_only=True) if k is not None}
    if meta.get("format") != FORMAT:
        raise InputFileError(f"{label}: is not a familymatch claim workbook ({META}.format).")
    for name in SHEETS:
        if name not in wb.sheetnames:
            raise InputFileError(
                f"{label}: sheet '{name}' is missing (renamed or removed); the sheets are "
                f"{', '.join(n for n in wb.sheetnames if n != META)}."
            )
    try:
        claim_run = int(str(meta["claim_run"]))
    except (KeyError, TypeError, ValueError):
        raise InputFileError(f"{label}: {META}.claim_run is not a run number.") from None
    audit_ws = wb["Audit"]
    audit_rows = list(audit_ws.iter_rows(values_only=True))
    if not audit_rows or [str(h) for h in audit_rows[0][: len(AUDIT_COLUMNS)]] != list(
        AUDIT_COLUMNS
    ):
        raise InputFileError(f"{label}: sheet 'Audit' does not have the sign-off columns.")
    audit = [
        dict(zip(AUDIT_COLUMNS, r[: len(AUDIT_COLUMNS)], strict=False))
        for r in audit_rows[1:]
        if any(v not in (None, "") for v in r)
    ]
    summary_totals: list[Row] = []
    found = False
    for r in wb["Summary"].iter_rows(values_only=True):
        if r[:4] == ("programme_year", "result", "families", "amount"):
            found = True
            continue
        if found and r[0] is not None:
            summary_totals.append(
                (_norm(r[0], "text"), _norm(r[1], "text"), _norm(r[2], "int"), _norm(r[3], "money"))
            )
    return ClaimWorkbook(
        path=path,
        claim_run=claim_run,
        content_sha256=str(meta.get("content_sha256", "")),
        families=_sheet_rows(wb["Families"], FAMILY_COLUMNS, label),
        evidence=_sheet_rows(wb["Evidence"], EVIDENCE_COLUMNS, label),
        audit=audit,
        summary_totals=summary_totals,
    )


def compare_rows(
    sheet: str,
    columns: tuple[tuple[str, str], ...],
    expected: list[Row],
    found: list[Row],
    key_len: int,
    family_col: int,
) -> list[tuple[str, str]]:
    """(family_ref, what differs) for every row added, removed or changed in a sheet."""
    names = [c for c, _ in columns]
    want = {r[:key_len]: r for r in expected}
    have: dict[Row, Row] = {}
    problems: list[tuple[str, str]] = []
    for i, r in enumerate(found, start=2):
        key = r[:key_len]
        if key in have:
            problems.append((str(r[family_col]), f"{sheet} row {i}: a duplicate of {key}"))
            continue
        have[key] = r
        if key not in want:
            problems.append(
                (
                    str(r[family_col]),
                    f"{sheet} row {i}: a row the claim does not hold ({', '.join(map(str, key))})",
                )
            )
            continue
        exp = want[key]
        if len(r) > len(exp):
            problems.append(
                (str(exp[family_col]), f"{sheet} row {i}: cells added beyond the columns")
            )
        for j, (a, b) in enumerate(zip(exp, r, strict=False)):
            if a != b:
                problems.append(
                    (
                        str(exp[family_col]),
                        f"{sheet} row {i}: {names[j]} is '{b}', the claim recorded '{a}'",
                    )
                )
    for key, exp in want.items():
        if key not in have:
            problems.append(
                (str(exp[family_col]), f"{sheet}: the row {', '.join(map(str, key))} was removed")
            )
    return problems
