"""What the cohort commands print (rich tables and lines; `cli.py` prints them): a build's
summary, the cohort profile, a selection, the lists written."""

from __future__ import annotations

from typing import Any

import polars as pl
from rich.console import RenderableType
from rich.table import Table

from familymatch.views import frame_table, ingest_table
from rules.commands import ListsCommand, ReportCommand, SelectCommand


def summary_view(
    summary: dict[str, Any], seconds: dict[str, float] | None = None
) -> list[RenderableType]:
    """Households assessed, the cohort by combination of criteria, and stage times."""
    cohort = summary["cohort"]
    table = Table(title=f"Cohort (run {summary['run_id']})", show_lines=False)
    table.add_column("criteria met")
    table.add_column("households", justify="right")
    for combo, n in cohort["by_combination"].items():
        table.add_row(combo, f"{n:,}")
    table.add_row("[bold]total[/]", f"[bold]{cohort['total']:,}[/]")
    out: list[RenderableType] = [f"households assessed: {summary['households_assessed']:,}", table]
    if seconds:
        out.append("stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()))
    return out


def build_view(result: Any) -> list[RenderableType]:
    """`cohort build`: the sources read, the cohort, notes on unknown codes."""
    out: list[RenderableType] = [ingest_table(result.linked.ingest.stats, with_kind=False)]
    if result.rejects_file is not None:
        out.append(f"rejected rows and reasons: {result.rejects_file}")
    out += summary_view(result.summary, result.seconds)
    out += [f"[yellow]note:[/] {msg}" for msg in result.evaluation.unknown_codes]
    return out


def report_view(rc: ReportCommand) -> list[RenderableType]:
    """`cohort report`: the run, its summary and the profile's tables."""
    info = rc.info
    out: list[RenderableType] = [
        f"run {rc.run_id}: {info['project_name']}, "
        f"rule set {info['rule_set']}, reference date {info['reference_date']}"
    ]
    out += summary_view(rc.summary)
    if rc.profile is not None:
        prof = rc.profile
        for title, frame in (
            ("two-criteria combinations", prof.combinations.drop_nulls("share_of_two_pct")),
            ("local lists already in the cohort", prof.cross_reference),
            ("children in the household", prof.ages),
        ):
            out.append(frame_table(title, frame))
    out.append(f"wrote {rc.workbook}")
    return out


def select_view(sc: SelectCommand) -> list[RenderableType]:
    """`cohort select`: how many were chosen, by group, and the families at the margin."""
    summary, selection = sc.result.summary, sc.result.selection
    out: list[RenderableType] = [
        f"selection run {sc.result.run_id} (build run {sc.build_run}, priority "
        f"{sc.config.describe()}): {summary['chosen']} of {selection.families.height} families "
        f"chosen, lowest score chosen {summary['cut_score']}",
        frame_table("by " + sc.request.capacity_by, selection.by_group),
        frame_table(
            "at the margin",
            selection.margin.select(
                "family_ref",
                "rank",
                "score",
                pl.col("chosen").replace_strict({True: "in", False: "out"}, return_dtype=pl.String),
                "reason",
            ),
        ),
    ]
    out += [f"[yellow]note:[/] {note}" for note in summary["notes"]]
    out.append(f"wrote {sc.result.workbook}")
    return out


def lists_view(lc: ListsCommand) -> list[RenderableType]:
    """`cohort lists`: families per list and where they were written."""
    return [
        f"{lc.plan.description}, by {lc.by}:",
        frame_table(f"families per {lc.by}", lc.counts()),
        f"wrote {len(lc.files)} workbook(s) to {lc.target}",
    ]
