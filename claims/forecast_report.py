"""The forecast as the coordinator reads it: built from the store's attachments and submitted
claims, its headline lines, its tables and its JSON document (`familymatch forecast`, the demo).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich import box
from rich.console import RenderableType
from rich.table import Table

from claims.forecast import Forecast, build_forecast, headline, load_assumptions
from claims.forecast_workbook import write_forecast_workbook
from claims.framework import load_framework
from claims.records import cohort_families, read_attachments, read_submitted_claims
from familymatch.errors import FamilyMatchError
from familymatch.outputs import secure_mkdir
from familymatch.store import run_info


def forecast_from_store(
    store: Any,
    folder: Path,
    framework: str,
    assumptions: Path | None = None,
    scenario: str | None = None,
    attachments_from: str = "plan",
    run: int | None = None,
) -> tuple[Forecast, str]:
    """The forecast from the store's attachments and submitted claims; and the scenario to
    print (``scenario``, else central). With ``scenario`` only that one is forecast. With a
    build ``run``, a note sets its cohort beside the plan."""
    fw = load_framework(framework, folder)
    a = load_assumptions(assumptions, fw)
    main = a.scenario(scenario).name if scenario is not None else a.default_scenario()
    fc = build_forecast(
        fw,
        a,
        [main] if scenario is not None else None,
        read_attachments(store),
        read_submitted_claims(store),
        attachments_from,
    )
    if run is not None:
        info = run_info(store, run)
        if info["kind"] != "build":
            raise FamilyMatchError(f"--run {run}: run {run} is a {info['kind']} run, not a build.")
        fc.notes.append(
            f"build run {run} found {cohort_families(store, run).height:,} families in the "
            f"cohort; {fc.assumptions.planned_total:,} attachments are planned "
            f"({fc.assumptions.path.name}), {fc.funded:,} funded ({fc.framework.path.name})."
        )
    return fc, main


@dataclass
class ForecastRun:
    forecast: Forecast
    scenario: str  # the scenario printed
    workbook: Path | None


def run_forecast(
    store: Any,
    project: Any,
    framework: str,
    assumptions: Path | None,
    scenario: str | None,
    attachments_from: str,
    run: int | None,
    out: Path | None,
    workbook: bool,
) -> ForecastRun:
    """Forecast, and write the workbook to ``out`` (default reports/ beside the project when
    ``workbook``)."""
    if out is not None and out.suffix.lower() != ".xlsx":
        raise FamilyMatchError(f"--out {out}: use a .xlsx file name.")
    fc, main = forecast_from_store(
        store, project.folder, framework, assumptions, scenario, attachments_from, run
    )
    target = out
    if target is None and workbook:
        target = project.folder / "reports" / f"forecast-{fc.framework.name}.xlsx"
    if target is not None:
        if not target.parent.exists():
            secure_mkdir(target.parent)
        write_forecast_workbook(fc, target, project.name or "familymatch", main)
    return ForecastRun(fc, main, target)


def money(value: Any) -> str:
    return "" if value is None else f"£{value:,.2f}"


def pounds(value: Any) -> str:
    return "" if value is None else f"{value.quantize(1, rounding='ROUND_HALF_UP'):,}"


def headline_lines(fc: Forecast, main: str) -> list[str]:
    h = headline(fc, main)
    others = [f"{n} {money(sf.total)}" for n, sf in fc.scenarios.items() if n != main]
    lines = [
        f"{main} forecast {money(h['total'])} of the {money(h['maximum'])} maximum "
        f"({h['share_of_maximum_pct']}%) for {h['funded_families']:,} funded families: "
        f"attachment fees {money(h['attachment_fees'])}, results {money(h['results'])}"
        + (f"; {', '.join(others)}" if others else ""),
        "by financial year: " + ", ".join(f"{fy} {money(v)}" for fy, v in h["by_year"].items()),
    ]
    if h["results_not_paid"]:
        lines.append(
            f"{money(h['results_not_paid'])} of {main} results fall due after the last payment "
            f"day {h['last_payment']:%d/%m/%Y} and are not paid"
        )
    if "actual_to_date" in h:
        lines.append(
            f"recorded to {h['actuals_to']:%d/%m/%Y}: {money(h['actual_to_date'])} "
            "(attachment fees earned and results claimed)"
        )
    return lines


def forecast_document(fr: ForecastRun) -> dict[str, Any]:
    """What `familymatch forecast --json` prints."""
    fc, main = fr.forecast, fr.scenario
    return {
        "framework": fc.framework.name,
        "assumptions": str(fc.assumptions.path),
        "attachments_from": fc.attachments_from,
        "funded_families": fc.funded,
        "maximum": fc.maximum,
        "year2_fees": None if fc.year2 is None else vars(fc.year2),
        "scenarios": {
            n: {
                "headline": headline(fc, n),
                "by_year": sf.years.to_dicts(),
                "by_quarter": sf.quarters.to_dicts(),
            }
            for n, sf in fc.scenarios.items()
        },
        "actuals": None
        if fc.actual_quarters is None or fc.actual_years is None
        else {
            "to": fc.actuals_to,
            "by_year": fc.actual_years.to_dicts(),
            "by_quarter": fc.actual_quarters.to_dicts(),
            "compared_with": main,
            "comparison_by_year": _to_dicts(fc.comparison(main, "year")),
        },
        "notes": fc.notes,
        "workbook": None if fr.workbook is None else str(fr.workbook),
    }


def _to_dicts(frame: Any) -> list[dict[str, Any]] | None:
    return None if frame is None else frame.to_dicts()


def _simple_table(title: str, columns: tuple[str, ...]) -> Table:
    t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for c in columns:
        t.add_column(c, justify="left" if c == "year" else "right")
    return t


def forecast_view(fr: ForecastRun) -> list[RenderableType]:
    """The tables and lines `familymatch forecast` prints."""
    fc, main = fr.forecast, fr.scenario
    sf = fc.scenarios[main]
    names = list(fc.framework.results)
    t = _simple_table(
        f"{fc.framework.name} forecast, {main} scenario (£, whole pounds)",
        ("year", "families", "fees", *names, "total", "cumulative"),
    )
    for r in sf.years.to_dicts():
        t.add_row(
            r["financial_year"],
            f"{r['families']:,}",
            pounds(r["attachment_fees"]),
            *[pounds(r[n]) for n in names],
            pounds(r["total"]),
            pounds(r["cumulative"]),
        )
    out: list[RenderableType] = [t]
    compare = fc.comparison(main, "year")
    if compare is not None:
        t = _simple_table(
            f"recorded to {fc.actuals_to:%d/%m/%Y} beside the {main} forecast (£)",
            ("year", "families", "fees", "results", "total", "forecast", "variance"),
        )
        for r in compare.to_dicts():
            t.add_row(
                r["financial_year"],
                f"{r['families_actual'] or 0:,} / {r['families_forecast']:,}",
                pounds(r["attachment_fees_actual"]),
                pounds(r["results_actual"]),
                pounds(r["total_actual"]),
                pounds(r["total_forecast"]),
                pounds(r["total_variance"]),
            )
        out.append(t)
    out += headline_lines(fc, main)
    out += [f"[yellow]note:[/] {note}" for note in fc.notes]
    out.append(f"wrote {fr.workbook}")
    return out
