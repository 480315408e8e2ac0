"""Writing Excel workbooks safely: values from source data never become formulas, headers are
frozen and filtered, widths are sensible, and the file is written owner-only and atomically."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from familymatch.outputs import write_owner_only

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def set_cell(ws: Worksheet, row: int, column: int, value: Any) -> None:
    """Write one value; text is always stored as text (a crafted '=cmd|...' stays a string)."""
    cell = ws.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = value
        cell.data_type = "s"
    else:
        cell.value = value
        if isinstance(value, date | datetime):
            cell.number_format = "dd/mm/yyyy"


def write_table(
    ws: Worksheet,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    start_row: int = 1,
    filters: bool = True,
) -> int:
    """A header row in bold, data rows below, frozen header, autofilter, widths. Returns the
    last row written."""
    for j, name in enumerate(header, start=1):
        set_cell(ws, start_row, j, name)
        ws.cell(row=start_row, column=j).font = Font(bold=True)
    widths = [len(h) for h in header]
    r = start_row
    for r, row in enumerate(rows, start=start_row + 1):
        for j, value in enumerate(row, start=1):
            set_cell(ws, r, j, value)
            widths[j - 1] = max(widths[j - 1], min(60, len(str(value)) if value is not None else 0))
    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = max(10, w + 2)
    if start_row == 1:
        ws.freeze_panes = "A2"
    if filters and r > start_row:
        ws.auto_filter.ref = f"A{start_row}:{get_column_letter(len(header))}{r}"
    return r


def one_sheet_workbook(title: str) -> tuple[Workbook, Worksheet]:
    """A new workbook whose one sheet is named ``title``."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title
    return wb, ws


def date_column(ws: Worksheet, column: str, first: int, last: int, error: str) -> None:
    """Cells ``column``first:last take a date (data validation) shown dd/mm/yyyy."""
    check = DataValidation(
        type="date",
        operator="greaterThan",
        formula1="DATE(2000,1,1)",
        allow_blank=True,
        showErrorMessage=True,
        error=error,
    )
    ws.add_data_validation(check)
    check.add(f"{column}{first}:{column}{max(first, last)}")
    for r in range(first, last + 1):
        ws[f"{column}{r}"].number_format = "dd/mm/yyyy"


def print_one_page_wide(ws: Worksheet, landscape: bool = True) -> None:
    """Print on A4, one page wide (as many pages down as needed)."""
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)


def save_workbook(wb: Workbook, path: Path) -> Path:
    """Save owner-only (0600) through a temporary file, so a failure leaves nothing behind."""
    return write_owner_only(path, lambda tmp: wb.save(tmp))


def libreoffice_opens(path: Path, out_dir: Path, timeout: float = 180.0) -> Path:
    """Convert a workbook to PDF with headless LibreOffice and return the PDF.

    LibreOffice refuses (or asks to repair) a workbook whose XML is not well formed; converting
    it without a screen is the check the issues ask for ("opens without repair"). Raises
    ``RuntimeError`` naming the file if LibreOffice is missing or produces no PDF.
    """
    import shutil
    import subprocess

    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise RuntimeError(
            "LibreOffice (soffice) is not installed; `apt-get install libreoffice-calc-nogui`."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    profile = out_dir / "lo-profile"
    done = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{profile.resolve()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out_dir),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    pdf = out_dir / (path.stem + ".pdf")
    if done.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        raise RuntimeError(
            f"{path.name}: LibreOffice could not open it (exit {done.returncode}): "
            f"{(done.stderr or done.stdout).strip()[:300]}"
        )
    return pdf
