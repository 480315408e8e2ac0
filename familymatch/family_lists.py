"""Caseworkers' family lists and the selection workbook, as Excel files usable as delivered.

Each list has a cover sheet (what the list is, when it was built, from which runs, how the
priority score adds up, how to handle it), a Families sheet (one row per family, highest
priority first) and a Members sheet (one row per person, dates of birth as dates). Headers are
frozen and filtered, widths fit the content, multi-line cells wrap, the families with the highest
scores are shaded by a conditional format, pages print landscape one page wide with the header
repeated. One workbook per group (locality, team or key worker), or one workbook with a sheet
pair per group.

Every value goes through :func:`familymatch.workbooks.set_cell`, so text that begins with ``=``,
``+``, ``-`` or ``@`` is stored as text and can never become a formula. Files are written
owner-only and atomically; a set of workbooks is written into a staging folder and moved into
place only when every one of them is complete.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

import polars as pl
from openpyxl import Workbook
from openpyxl.formatting.rule import ColorScaleRule, FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from familymatch.outputs import secure_mkdir
from familymatch.workbooks import print_one_page_wide, save_workbook, set_cell, write_table

# column -> (header, width cap); the order here is the order in the sheet
FAMILY_COLUMNS: dict[str, tuple[str, int]] = {
    "rank": ("Priority rank", 9),
    "family_ref": ("Family reference", 20),
    "score": ("Priority score", 9),
    "criteria": ("Criteria met", 60),
    "breakdown": ("How the score adds up", 50),
    "members": ("Members", 40),
    "address": ("Address", 30),
    "postcode": ("Postcode", 10),
    "locality": ("Locality", 14),
    "neighbourhood": ("Neighbourhood", 16),
    "services": ("Services already involved", 30),
    "team": ("Team", 18),
    "key_worker": ("Key worker", 18),
    "attached_on": ("Attached on", 11),
    "data_as_at": ("Data as at", 11),
}
MEMBER_COLUMNS: dict[str, tuple[str, int]] = {
    "family_ref": ("Family reference", 20),
    "person": ("Person", 20),
    "rank": ("Priority rank", 9),
    "forename": ("Forename", 14),
    "surname": ("Surname", 14),
    "dob": ("Date of birth", 12),
    "age": ("Age", 6),
    "sex": ("Sex", 6),
    "relationship": ("Relationship", 14),
    "school": ("School", 30),
}
SELECTION_COLUMNS: dict[str, tuple[str, int]] = {
    "rank": ("Priority rank", 9),
    "family_ref": ("Family reference", 12),
    "chosen": ("Chosen", 8),
    "status": ("Why (short)", 12),
    "reason": ("Why", 60),
    "score": ("Priority score", 9),
    "group": ("Capacity group", 16),
    "locality": ("Locality", 14),
    "neighbourhood": ("Neighbourhood", 16),
    "n_criteria": ("Criteria met", 9),
    "combination": ("Combination", 22),
    "breakdown": ("How the score adds up", 50),
}
LINE_HEIGHT = 15.0
CHARS_PER_WIDTH = 1.1
MAX_ROW_LINES = 20
HIGHLIGHT = PatternFill(start_color="FFF4B183", end_color="FFF4B183", fill_type="solid")
CHOSEN_FILL = PatternFill(start_color="FFC6EFCE", end_color="FFC6EFCE", fill_type="solid")
TITLE = Font(bold=True, size=14)
BOLD = Font(bold=True)
TOP = Alignment(vertical="top", wrap_text=True)


@dataclass
class Cover:
    """The cover sheet: a title, label/value lines (dates stay dates), and paragraphs."""

    title: str
    lines: list[tuple[str, Any]] = field(default_factory=list)
    sections: list[tuple[str, list[str]]] = field(default_factory=list)


def write_cover(ws: Worksheet, cover: Cover) -> None:
    ws.title = "Cover"
    set_cell(ws, 1, 1, cover.title)
    ws.cell(row=1, column=1).font = TITLE
    r = 3
    for label, value in cover.lines:
        set_cell(ws, r, 1, label)
        ws.cell(row=r, column=1).font = BOLD
        ws.cell(row=r, column=1).alignment = TOP
        set_cell(ws, r, 2, value)
        cell = ws.cell(row=r, column=2)
        cell.alignment = Alignment(horizontal="left", vertical="top", wrap_text=True)
        if isinstance(value, datetime):
            cell.number_format = "dd/mm/yyyy hh:mm"
        _fit_height(ws, r, [str(value)], 100)
        r += 1
    for heading, paragraphs in cover.sections:
        r += 1
        set_cell(ws, r, 1, heading)
        ws.cell(row=r, column=1).font = BOLD
        ws.cell(row=r, column=1).alignment = TOP
        for text in paragraphs:
            set_cell(ws, r, 2, text)
            ws.cell(row=r, column=2).alignment = TOP
            _fit_height(ws, r, [text], 100)
            r += 1
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 100
    ws.sheet_view.showGridLines = False
    print_one_page_wide(ws, landscape=False)


def _lines(text: str, width: float) -> int:
    """Printed lines of ``text`` wrapped in a column ``width`` characters wide (proportional
    type fits about 1.1 characters per unit of column width)."""
    per_line = max(1, int(width * CHARS_PER_WIDTH))
    return sum(max(1, math.ceil(len(part) / per_line)) for part in text.split("\n"))


def _fit_height(ws: Worksheet, row: int, texts: Sequence[str], width: int) -> None:
    lines = min(max(sum(_lines(t, width) for t in texts), 1), MAX_ROW_LINES)
    if lines > 1:
        current = ws.row_dimensions[row].height or LINE_HEIGHT
        ws.row_dimensions[row].height = max(current, LINE_HEIGHT * lines)


def _cell_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def write_frame(
    ws: Worksheet,
    frame: pl.DataFrame,
    columns: dict[str, tuple[str, int]],
    score_column: str | None = None,
    highlight_top: int = 0,
) -> int:
    """Write ``frame``'s known columns (in ``columns`` order) as a filtered table with a frozen
    header, fitted widths, wrapped multi-line cells and printed titles; shade the rows with the
    ``highlight_top`` highest values of ``score_column``. Returns the number of data rows."""
    cols = [c for c in columns if c in frame.columns]
    header = [columns[c][0] for c in cols]
    rows = [[_cell_value(v) for v in row] for row in frame.select(cols).iter_rows()]
    last = write_table(ws, header, rows)
    widths = []
    for j, c in enumerate(cols):
        longest = max(
            [len(header[j])]
            + [
                max((len(p) for p in str(v).split("\n")), default=0)
                for v in frame[c].to_list()
                if v is not None and not isinstance(v, date)
            ]
            + ([10] if frame.schema[c] in (pl.Date, pl.Datetime) else [])
        )
        width = max(8, min(columns[c][1], longest + 2))
        widths.append(width)
        ws.column_dimensions[get_column_letter(j + 1)].width = width
    for i, row in enumerate(rows, start=2):
        texts = []
        for j, v in enumerate(row):
            ws.cell(row=i, column=j + 1).alignment = TOP
            if isinstance(v, str):
                texts.append((v, widths[j]))
        lines = max([_lines(t, w) for t, w in texts] or [1])
        if lines > 1:
            ws.row_dimensions[i].height = LINE_HEIGHT * min(lines, MAX_ROW_LINES)
    for j in range(len(cols)):
        ws.cell(row=1, column=j + 1).alignment = Alignment(vertical="top", wrap_text=True)
    n = len(rows)
    if score_column in cols and n:
        letter = get_column_letter(cols.index(cast(str, score_column)) + 1)
        full = f"A2:{get_column_letter(len(cols))}{last}"
        scores = f"${letter}$2:${letter}${last}"
        if highlight_top > 0:
            k = min(highlight_top, n)
            ws.conditional_formatting.add(
                full,
                FormulaRule(
                    formula=[f"${letter}2>=LARGE({scores},{k})"], fill=HIGHLIGHT, font=BOLD
                ),
            )
        ws.conditional_formatting.add(
            f"{letter}2:{letter}{last}",
            ColorScaleRule(
                start_type="min", start_color="FFFFFFFF", end_type="max", end_color="FFF8696B"
            ),
        )
    ws.print_title_rows = "1:1"
    print_one_page_wide(ws)
    return n


_BAD_SHEET = re.compile(r"[\[\]:*?/\\]")


def sheet_title(name: str, taken: set[str], suffix: str = "") -> str:
    """A valid, unique sheet name (at most 31 characters, none of []:*?/\\)."""
    base = _BAD_SHEET.sub(" ", name).strip().strip("'") or "list"
    base = base[: 31 - len(suffix)].rstrip()
    title = base + suffix
    n = 2
    while title.lower() in {t.lower() for t in taken}:
        tag = f" ({n})"
        title = base[: 31 - len(suffix) - len(tag)].rstrip() + tag + suffix
        n += 1
    taken.add(title)
    return title


def slug(name: str) -> str:
    """A file-name part for a group name: letters, digits and dashes."""
    s = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
    return s or "list"


def _new_workbook() -> tuple[Workbook, Worksheet]:
    wb = Workbook()
    return wb, cast(Worksheet, wb.active)


def write_family_lists(
    families: pl.DataFrame,
    members: pl.DataFrame,
    cover_for: Any,
    out_dir: Path,
    *,
    stem: str = "family-list",
    one_workbook: bool = False,
    highlight_top: int = 10,
) -> list[Path]:
    """Write the lists: one workbook per value of ``families['group']`` named
    ``<stem>-<group>.xlsx`` (or ``<stem>.xlsx`` with a Families and a Members sheet per group). ``cover_for(group, n_families)`` gives each cover
    (group None for the single workbook). Returns the files written, all or none."""
    groups = sorted(set(families["group"].to_list()))
    secure_mkdir(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=".lists-", dir=out_dir))
    os.chmod(staging, 0o700)
    written: list[Path] = []
    try:
        if one_workbook:
            wb, ws = _new_workbook()
            write_cover(ws, cover_for(None, families.height))
            taken = {"Cover"}
            for g in groups:
                fam = families.filter(pl.col("group") == g).drop("group")
                mem = members.filter(pl.col("group") == g).drop("group")
                write_frame(
                    wb.create_sheet(sheet_title(g, taken)),
                    fam,
                    FAMILY_COLUMNS,
                    "score",
                    highlight_top,
                )
                write_frame(wb.create_sheet(sheet_title(g, taken, " members")), mem, MEMBER_COLUMNS)
            name = f"{stem}.xlsx"
            save_workbook(wb, staging / name)
            written.append(out_dir / name)
        else:
            used: set[str] = set()
            for g in groups:
                fam = families.filter(pl.col("group") == g).drop("group")
                mem = members.filter(pl.col("group") == g).drop("group")
                wb, ws = _new_workbook()
                write_cover(ws, cover_for(g, fam.height))
                write_frame(
                    wb.create_sheet("Families"), fam, FAMILY_COLUMNS, "score", highlight_top
                )
                write_frame(wb.create_sheet("Members"), mem, MEMBER_COLUMNS)
                part = slug(g)
                n = 2
                while part in used:
                    part = f"{slug(g)}-{n}"
                    n += 1
                used.add(part)
                name = f"{stem}-{part}.xlsx"
                save_workbook(wb, staging / name)
                written.append(out_dir / name)
        for target in written:
            os.replace(staging / target.name, target)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
    return written


def write_selection_workbook(
    table: pl.DataFrame,
    margin: pl.DataFrame,
    by_group: pl.DataFrame,
    factor_columns: dict[str, str],
    cover: Cover,
    path: Path,
) -> Path:
    """The coordinator's record of a selection: every cohort family with its rank, score, each
    factor's points, whether it was chosen and why; the families at the margin; counts per
    capacity group. Family references only (no names)."""
    wb, ws = _new_workbook()
    write_cover(ws, cover)
    columns = dict(SELECTION_COLUMNS)
    breakdown = columns.pop("breakdown")
    for name, label in factor_columns.items():
        columns[name] = (label, 12)
    columns["breakdown"] = breakdown
    sel = wb.create_sheet("Selection")
    write_frame(sel, table, columns, "score", 0)
    chosen_col = get_column_letter(
        list(c for c in columns if c in table.columns).index("chosen") + 1
    )
    if table.height:
        sel.conditional_formatting.add(
            f"A2:{get_column_letter(sum(c in table.columns for c in columns))}{table.height + 1}",
            FormulaRule(formula=[f'${chosen_col}2="yes"'], fill=CHOSEN_FILL),
        )
    write_frame(wb.create_sheet("Margin"), margin, SELECTION_COLUMNS)
    write_frame(
        wb.create_sheet("By group"),
        by_group,
        {
            "group": ("Capacity group", 20),
            "cohort_families": ("Cohort families", 10),
            "chosen": ("Chosen", 10),
            "capacity": ("Capacity", 10),
        },
    )
    secure_mkdir(path.parent)
    return save_workbook(wb, path)


__all__ = [
    "Cover",
    "FAMILY_COLUMNS",
    "MEMBER_COLUMNS",
    "sheet_title",
    "slug",
    "write_cover",
    "write_family_lists",
    "write_frame",
    "write_selection_workbook",
]
