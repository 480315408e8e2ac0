"""What the core commands print (rich tables and lines; `cli.py` prints them): any frame as a
table, the sources read, linkage quality."""

from __future__ import annotations

from typing import Any

import polars as pl
from rich.console import RenderableType
from rich.table import Table


def frame_table(title: str, frame: pl.DataFrame) -> Table:
    """Every column of ``frame`` as a table column; nulls as blanks."""
    t = Table(title=title)
    for c in frame.columns:
        t.add_column(c)
    for row in frame.iter_rows():
        t.add_row(*["" if v is None else str(v) for v in row])
    return t


def ingest_table(stats: list[Any], with_kind: bool = True) -> Table:
    """Rows read, accepted and rejected, and records, per source."""
    t = Table(title="sources")
    heads = ("source", "kind") if with_kind else ("source",)
    for c in (*heads, "rows read", "accepted", "rejected", "records"):
        t.add_column(c, justify="left" if c in ("source", "kind") else "right")
    for st in stats:
        t.add_row(
            *((st.source, st.kind) if with_kind else (st.source,)),
            f"{st.rows_read:,}",
            f"{st.rows_read - st.rows_rejected:,}",
            f"{st.rows_rejected:,}",
            f"{st.records:,}",
        )
    return t


def reject_lines(rejects: pl.DataFrame) -> list[str]:
    """One line per source, column and reason: how many rows were rejected."""
    if rejects.height == 0:
        return []
    reasons = rejects.group_by("source", "column", "reason").len().sort("source", "column")
    return [
        f"  {source}: {n} row(s), column '{column}': {reason}"
        for source, column, reason, n in reasons.iter_rows()
    ]


def quality_lines(scores: dict[str, Any], with_records: bool = True) -> list[str]:
    """Precision, recall and F1 of each level scored (persons, households, ...)."""
    return [
        f"{level:<10} precision {m['precision']:.4f}  recall {m['recall']:.4f}  F1 {m['f1']:.4f}"
        + (f"  ({m['records']:,} records)" if with_records and "records" in m else "")
        for level, m in scores.items()
        if isinstance(m, dict) and "f1" in m
    ]


def link_rates_table(rates: list[dict[str, Any]]) -> Table:
    t = Table(title="share of records linked to another record")
    for c in ("group", "value", "records", "linked"):
        t.add_column(c)
    for r in rates:
        t.add_row(
            r["group"], str(r["value"]), f"{r['records']:,}", f"{100 * r['linked_share']:.1f}%"
        )
    return t


def audit_table(log: pl.DataFrame) -> Table:
    """`audit-log`: when, who, which command, which run, how many files."""
    t = Table()
    for c in ("when", "user", "command", "run", "files"):
        t.add_column(c)
    for r in log.iter_rows(named=True):
        t.add_row(
            str(r["at"])[:19],
            r["os_user"] or "",
            r["command"] or "",
            str(r["run_id"] or ""),
            str(r["n_files"]),
        )
    return t


def evaluation_view(scores: dict[str, Any]) -> list[RenderableType]:
    """`link evaluate`: the scores, and the link rates when they were asked for."""
    out: list[RenderableType] = list(quality_lines(scores))
    if "link_rates" in scores:
        out.append(link_rates_table(scores["link_rates"]))
    return out
