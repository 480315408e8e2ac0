"""The forecast workbook: summary with a stacked bar of fees and results by financial year, the
forecast by year and by quarter for every scenario, cumulative income against the maximum as a
line chart, actuals beside the forecast where records exist, and every assumption used.

Amounts are written as exact Decimals with a pounds format; text through ``set_cell`` (never a
formula); the file owner-only and atomically (``save_workbook``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import polars as pl
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from claims.forecast import Forecast, ScenarioForecast, money_sum
from familymatch.workbooks import print_one_page_wide, save_workbook, set_cell, write_table

POUNDS = '"£"#,##0.00'
HEADERS = {
    "financial_year": "financial year",
    "quarter": "quarter",
    "quarter_start": "quarter starts",
    "families": "families attached",
    "attachment_fees": "attachment fees",
    "results": "results total",
    "total": "total",
    "cumulative": "cumulative",
    "maximum": "maximum (families attached x max per family)",
    "maximum_cumulative": "maximum, cumulative",
}


def _header(column: str, fc: Forecast) -> str:
    if column in fc.framework.results:
        return f"{column} {fc.framework.results[column].title}"
    for suffix, label in (
        ("_forecast", "forecast"),
        ("_actual", "actual"),
        ("_variance", "variance"),
    ):
        if column.endswith(suffix):
            return f"{HEADERS.get(column.removesuffix(suffix), column)}: {label}"
    return HEADERS.get(column, column)


def _frame(ws: Worksheet, frame: pl.DataFrame, fc: Forecast, start_row: int) -> int:
    """Write a frame with readable headers; money columns get the pounds format; a column
    keeps the widest width of the tables stacked on the sheet."""
    letters = [get_column_letter(j) for j in range(1, frame.width + 1)]
    before = {c: ws.column_dimensions[c].width for c in letters if c in ws.column_dimensions}
    last = write_table(
        ws, [_header(c, fc) for c in frame.columns], frame.rows(), start_row, filters=False
    )
    for c, width in before.items():
        if width and width > (ws.column_dimensions[c].width or 0):
            ws.column_dimensions[c].width = width
    for j, dtype in enumerate(frame.dtypes, start=1):
        if isinstance(dtype, pl.Decimal):
            for r in range(start_row + 1, last + 1):
                ws.cell(row=r, column=j).number_format = POUNDS
    return last


def _bold(ws: Worksheet, row: int, text: str) -> None:
    set_cell(ws, row, 1, text)
    ws.cell(row=row, column=1).font = Font(bold=True)


def _pct(part: Decimal, whole: Decimal) -> str:
    return f"{(part / whole * 100).quantize(Decimal('0.1'))}%" if whole else "-"


def _summary(ws: Worksheet, fc: Forecast, main: ScenarioForecast) -> None:
    fw = fc.framework
    set_cell(ws, 1, 1, f"Income forecast: {fw.title}")
    ws.cell(row=1, column=1).font = Font(bold=True, size=13)
    set_cell(
        ws,
        2,
        1,
        f"{fc.funded:,} funded families ({fw.funded_share} of {fw.indicative_families:,}) x "
        f"£{fw.max_per_family:,} = maximum £{fc.maximum:,}; attachments from the "
        f"{fc.attachments_from}; every assumption on the Assumptions sheet.",
    )
    rows = []
    for sf in fc.scenarios.values():
        rows.append(
            [
                sf.scenario.name,
                sf.fees,
                sf.results,
                sf.total,
                fc.maximum,
                _pct(sf.total, fc.maximum),
                sf.not_paid,
            ]
        )
    last = write_table(
        ws,
        [
            "scenario",
            "attachment fees",
            "results",
            "total forecast",
            "maximum",
            "% of maximum",
            f"results due after {fw.last_claim_day.isoformat()} (not paid)",
        ],
        rows,
        start_row=4,
        filters=False,
    )
    for r in range(5, last + 1):
        for c in (2, 3, 4, 5, 7):
            ws.cell(row=r, column=c).number_format = POUNDS
    if fc.actual_quarters is not None and fc.actuals_to is not None:
        last += 1
        set_cell(
            ws,
            last,
            1,
            f"Recorded to {fc.actuals_to.isoformat()}: £{money_sum(fc.actual_quarters['total']):,} "
            "(attachment fees earned and results claimed); see Actuals vs forecast.",
        )
    start = last + 2
    _bold(ws, start, f"By financial year, {main.scenario.name} scenario")
    table = main.years
    end = _frame(ws, table, fc, start + 1)
    # stacked bar: attachment fees and each result by financial year
    first_money = table.columns.index("attachment_fees") + 1
    chart = BarChart()
    chart.type = "col"
    chart.grouping = "stacked"
    chart.overlap = 100
    chart.title = f"Fees and results by financial year ({main.scenario.name})"
    chart.y_axis.title = "£"
    chart.x_axis.title = "financial year"
    chart.add_data(
        Reference(
            ws,
            min_col=first_money,
            max_col=first_money + len(fc.framework.results),
            min_row=start + 1,
            max_row=end,
        ),
        titles_from_data=True,
    )
    chart.set_categories(Reference(ws, min_col=1, min_row=start + 2, max_row=end))
    _axes(chart)
    chart.height, chart.width = 9, 18
    ws.add_chart(chart, f"A{end + 3}")


def _axes(chart: BarChart | LineChart) -> None:
    """Whole pounds on the value axis; both axes shown (newer Excel hides them otherwise)."""
    chart.y_axis.number_format = '"£"#,##0'
    chart.y_axis.delete = False
    chart.x_axis.delete = False


def _cumulative(ws: Worksheet, fc: Forecast) -> None:
    header = ["quarter"] + [f"{n} (cumulative)" for n in fc.scenarios]
    actual = fc.actual_quarters
    if actual is not None:
        header.append("actual (cumulative)")
    header.append("maximum")
    first = next(iter(fc.scenarios.values())).quarters
    rows: list[list[Any]] = []
    for i, (fy, q) in enumerate(first.select("financial_year", "quarter").rows()):
        row: list[Any] = [f"{fy} {q}"]
        row += [sf.quarters["cumulative"][i] for sf in fc.scenarios.values()]
        if actual is not None and fc.actuals_to is not None:
            started = first["quarter_start"][i]
            row.append(actual["cumulative"][i] if started <= fc.actuals_to else None)
        row.append(fc.maximum)
        rows.append(row)
    last = write_table(ws, header, rows, filters=False)
    for r in range(2, last + 1):
        for c in range(2, len(header) + 1):
            ws.cell(row=r, column=c).number_format = POUNDS
    chart = LineChart()
    chart.title = "Cumulative income against the maximum"
    chart.y_axis.title = "£"
    chart.x_axis.title = "quarter"
    chart.add_data(
        Reference(ws, min_col=2, max_col=len(header), min_row=1, max_row=last),
        titles_from_data=True,
    )
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=last))
    for series in chart.series:
        series.smooth = False
    _axes(chart)
    chart.height, chart.width = 10, 22
    ws.add_chart(chart, f"{chr(ord('A') + len(header) + 1)}2")


def assumption_rows(fc: Forecast) -> list[Sequence[Any]]:
    """Every assumption the forecast used: item, value, where it comes from."""
    fw, a = fc.framework, fc.assumptions
    src_fw = f"{fw.path.name} (sha256 {fw.sha256[:12]})"
    src_a = f"{a.path.name} (sha256 {a.sha256[:12]})"
    rows: list[Sequence[Any]] = [
        ("framework", f"{fw.name} {fw.version}: {fw.title}", src_fw),
        ("indicative families", fw.indicative_families, f"{src_fw} local.indicative_families"),
        ("funded share", str(fw.funded_share), f"{src_fw} framework.funded_share"),
        (
            "funded families",
            fc.funded,
            "indicative x funded share, rounded down to a whole family",
        ),
        ("maximum per family", fw.max_per_family, f"{src_fw} framework.max_per_family"),
        ("programme maximum", fc.maximum, "funded families x maximum per family"),
    ]
    for y in fw.years:
        first = f"{y.attachment_fee / fw.max_per_family * 100:.0f}% of the maximum"
        rows.append(
            (
                f"attachment fee {y.name} ({y.start.isoformat()} to {y.end.isoformat()})",
                y.attachment_fee,
                f"{src_fw} years; {first}",
            )
        )
        for r, amount in y.results.items():
            rows.append((f"result {r} {y.name}: {fw.results[r].title}", amount, src_fw))
    rows += [
        (
            "programme year of a result's amount",
            fw.year_basis,
            f"{src_fw} framework.year_basis ('attachment': the year the family was attached)",
        ),
        (
            "last day a result is paid",
            fw.last_claim_day,
            f"{src_fw} framework.last_payment (else the last programme year's end); "
            "results due later are reported as not paid",
        ),
    ]
    if fw.year2_fees is not None:
        rows.append(
            (
                "year-two attachment fees",
                f"full at {fw.year2_fees.full_at * 100:.0f}% or more of the agreed year-one "
                f"families attached in year one, half at {fw.year2_fees.half_at * 100:.0f}% "
                "or more, withheld below",
                f"{src_fw} year2_attachment_fees; the half band's remainder ('rest in Q2 if "
                "caught up') and withheld fees are not forecast",
            )
        )
    if fc.year2 is not None:
        rows.append(
            (
                "year-two fee band used",
                f"{fc.year2.band} ({fc.year2.worked_with:,} of {fc.year2.agreed:,} agreed "
                f"year-one families: share {fc.year2.share})",
                f"{src_a} {a.framework}.attachments",
            )
        )
    for y in fw.years:
        rows.append(
            (
                f"planned attachments {y.name}",
                a.planned.get(y.name, 0),
                f"{src_a} {a.framework}.attachments.planned",
            )
        )
    rows += [
        ("planned attachments in all", a.planned_total, "at most the funded families"),
        (
            "attachments used",
            fc.attachments_from,
            "plan: the planned families; recorded: families recorded to the latest "
            "attachment's month, then the rest of each year's plan",
        ),
        (
            "attachments within a year",
            "evenly by month, the odd families in the earliest months",
            "forecast model (docs/decisions/0005-forecast.md)",
        ),
        (
            "when the attachment fee counts",
            "the month of attachment, at the fee of the programme year of attachment",
            "issue #8; fees are not tied to a named family, no clawback",
        ),
        (
            "expected results",
            "families attached x success share (expected values, not whole families)",
            "forecast model",
        ),
        (
            "rounding",
            "exact per month; each quarter's line rounded to the penny (half up); years and "
            "totals are sums of quarters",
            "forecast model",
        ),
    ]
    for sc in a.scenarios.values():
        for r in fw.results:
            rows.append(
                (
                    f"scenario {sc.name}: {r} success share",
                    sc.success[r],
                    f"{src_a} {a.framework}.scenarios.{sc.name}.success.{r} ({sc.title})",
                )
            )
            rows.append(
                (
                    f"scenario {sc.name}: {r} months from attachment to claim",
                    sc.lag_months[r],
                    f"{src_a} {a.framework}.scenarios.{sc.name}.lag_months.{r}",
                )
            )
    if fc.actual_quarters is not None:
        rows += [
            (
                "actual attachment fees",
                "families recorded in complete attach runs, in the quarter attached, at the "
                "fee of the programme year attached (the first funded families only)",
                "the store: attachments",
            ),
            (
                "actual results",
                "results claimed in submitted claims, in the quarter submitted",
                "the store: claims and submissions",
            ),
            ("actuals recorded to", fc.actuals_to, "the latest attachment or submission"),
        ]
    rows += [("note", n, "forecast") for n in fc.notes]
    rows += [("framework note", n, src_fw) for n in fw.notes]
    return rows


def write_forecast_workbook(fc: Forecast, path: Path, title: str, main: str) -> Path:
    """Write the workbook; ``main`` is the scenario charted on the summary and compared with
    the actuals."""
    wb = Workbook()
    ws = cast(Worksheet, wb.active)
    ws.title = "Summary"
    _summary(ws, fc, fc.scenarios[main])
    set_cell(ws, 3, 1, title)

    for name, attr in (("By year", "years"), ("By quarter", "quarters")):
        sheet = wb.create_sheet(name)
        row = 1
        for sf in fc.scenarios.values():
            _bold(sheet, row, f"{sf.scenario.name}: {sf.scenario.title}")
            row = _frame(sheet, getattr(sf, attr), fc, row + 1) + 2

    _cumulative(wb.create_sheet("Cumulative"), fc)

    if fc.actual_quarters is not None:
        sheet = wb.create_sheet("Actuals vs forecast")
        to = fc.actuals_to.isoformat() if isinstance(fc.actuals_to, date) else "-"
        _bold(
            sheet, 1, f"Actuals to {to} beside the {main} forecast (variance = actual - forecast)"
        )
        row = 3
        for by in ("year", "quarter"):
            table = fc.comparison(main, by)
            if table is None:
                continue
            _bold(sheet, row, f"by {by}")
            row = _frame(sheet, table, fc, row + 1) + 2
        _bold(sheet, row, "actuals by quarter, by result")
        recorded = fc.actual_quarters.filter(pl.col("quarter_start") <= fc.actuals_to)
        _frame(sheet, recorded, fc, row + 1)

    sheet = wb.create_sheet("Assumptions")
    last = write_table(sheet, ["assumption", "value", "source"], assumption_rows(fc))
    for r in range(2, last + 1):
        cell = sheet.cell(row=r, column=2)
        label = str(sheet.cell(row=r, column=1).value)
        if isinstance(cell.value, Decimal) and "share" not in label:
            cell.number_format = POUNDS
    for sheet in wb.worksheets:  # printed by finance: landscape, one page wide
        print_one_page_wide(sheet)
    return save_workbook(wb, path)
