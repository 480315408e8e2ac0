"""What the claims commands print: the claim by year and result, the verification, a family's
claim history (rich tables and lines; `cli.py` prints them)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import polars as pl
from rich.console import RenderableType
from rich.table import Table

from claims.records import from_pence


def claim_table(summary: dict[str, Any]) -> Table:
    t = Table(title=f"claim: {summary['claimed']:,} of {summary['attached']:,} attached families")
    for c in ("programme year", "result", "families", "amount"):
        t.add_column(c, justify="left" if c in ("programme year", "result") else "right")
    for r in summary["by_year_and_result"]:
        t.add_row(
            r["programme_year"], r["result"], f"{r['families']:,}", f"£{Decimal(r['amount']):,}"
        )
    t.add_row(
        "[bold]total[/]",
        "",
        f"[bold]{summary['claimed']:,}[/]",
        f"[bold]£{Decimal(summary['amount']):,}[/]",
    )
    return t


def verification_lines(v: Any) -> list[RenderableType]:
    out: list[RenderableType] = [
        f"  [red]✗[/] {family}: {what}" for family, what in v.discrepancies[:100]
    ]
    if len(v.discrepancies) > 100:
        out.append(f"  ... and {len(v.discrepancies) - 100} more")
    out.append(
        f"audit sample: {v.sampled} families, {v.checked} checked, {v.agreed} agreed, "
        f"{v.disagreed} not agreed"
    )
    return out


def verification_view(v: Any) -> list[RenderableType]:
    """`claims verify`: the discrepancies and the audit sample; the verdict when it agrees."""
    out = verification_lines(v)
    if v.ok:
        out.append(
            f"[green]claim run {v.claim_run} verified:[/] {v.families:,} families, £{v.amount}; "
            "every cell matches the recorded evidence."
        )
    return out


def history_document(rows: pl.DataFrame) -> list[dict[str, Any]]:
    return [{**r, "amount": str(from_pence(r.pop("amount_pence")))} for r in rows.to_dicts()]


def history_table(family: str, rows: pl.DataFrame) -> Table:
    t = Table(title=f"claims for {family}")
    for c in ("claim run", "as of", "decision", "result", "year", "amount", "submitted", "reason"):
        t.add_column(c)
    for r in rows.iter_rows(named=True):
        t.add_row(
            str(r["claim_run"]),
            str(r["as_of"]),
            r["decision"],
            r["result"] or "",
            r["programme_year"] or "",
            f"£{from_pence(r['amount_pence']):,}" if r["result"] else "",
            str(r["submitted_on"] or ""),
            r["reason"] or "",
        )
    return t


def outcomes_view(results: list[Any]) -> list[RenderableType]:
    """`outcomes import`: for each build linked onto, per source, the later records and whom
    they joined."""
    return [item for result in results for item in _outcomes_one(result)]


def _outcomes_one(result: Any) -> list[RenderableType]:
    t = Table(title=f"outcomes run {result.run_id} (onto build {result.build_run})")
    for c in ("source", "records", "an attached member", "a newcomer", "in an attached family"):
        t.add_column(c, justify="left" if c == "source" else "right")
    for r in result.by_source.iter_rows(named=True):
        t.add_row(
            r["source"],
            f"{r['records']:,}",
            f"{r['matched']:,}",
            f"{r['newcomers']:,}",
            f"{r['attached_families']:,}",
        )
    return [
        t,
        f"{result.families_with_evidence:,} attached families have later evidence; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()),
    ]


REFRESH_LINES = 20  # per section in the terminal; the workbook lists every family


def refresh_view(r: Any, out: Any = None) -> list[RenderableType]:
    """``cohort diff``: the refresh in plain words, one line per family, each section cut at
    REFRESH_LINES (the workbook has them all)."""
    from claims.refresh import family_lines, summary_lines

    items: list[RenderableType] = list(summary_lines(r))
    for title, lines in family_lines(r):
        if not lines:
            continue
        items.append(f"[bold]{title}[/] ({len(lines):,}):")
        items += [f"  {line}" for line in lines[:REFRESH_LINES]]
        if len(lines) > REFRESH_LINES:
            items.append(
                f"  ... and {len(lines) - REFRESH_LINES:,} more"
                + ("" if out else " (--out diff.xlsx lists every family)")
            )
    if out is not None:
        items.append(f"wrote {out}")
    return items


def attach_view(done: Any) -> list[RenderableType]:
    """``attach``: with --match-people, each row's family and match weight (never the person's
    details); then what was recorded."""
    items: list[RenderableType] = []
    if done.matched is not None:
        t = Table(title=f"lead adults matched to build {done.build_run}")
        for c in ("row", "family", "match weight", "runner-up", "its weight", "decision"):
            t.add_column(c, justify="right" if "weight" in c or c == "row" else "left")
        for r in done.matched.iter_rows(named=True):
            t.add_row(
                str(r["source_row"]),
                r["family_ref"] or "",
                "" if r["match_weight"] is None else f"{r['match_weight']:.1f}",
                r["runner_up"] or "",
                "" if r["runner_up_weight"] is None else f"{r['runner_up_weight']:.1f}",
                r["status"],
            )
        items.append(t)
    items.append(
        f"attached {done.families:,} families (run {done.run_id}); "
        f"{done.skipped:,} rows left blank or skipped"
    )
    return items


def claim_view(claim: Any) -> list[RenderableType]:
    """`claims prepare`: the claim by year and result, and where it was written."""
    return [claim_table(claim.summary), f"claim run {claim.run_id}; workbook: {claim.workbook}"]


def submission_line(done: Any) -> str:
    """What `claims submit` prints once the claim is recorded as submitted."""
    return (
        f"claim run {done.claim_run} submitted on {done.on} ({done.families:,} families, "
        f"£{done.amount}); recorded as run {done.run_id}."
    )


def discrepancies_line(v: Any) -> str:
    """What `claims verify` prints on stderr when the workbook disagrees with the evidence."""
    return f"[bold red]{len(v.discrepancies)} discrepancies[/] in claim run {v.claim_run}."
