"""Ingest: read every source of a project and map it onto the canonical record.

``ingest_project(project)`` returns the records of all sources (in project order, then row, then
person slot, then period), the rejected rows with reasons, per-source counts and file hashes,
and per mapped column the share of rows that parsed; a column that is mostly empty or mostly
rejected is logged as a warning (stderr).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from familymatch.canonical import REJECT_SCHEMA, empty_canonical
from familymatch.ingest.mapping import map_source
from familymatch.ingest.readers import read_source
from familymatch.ingest.report import COLUMN_REPORT_SCHEMA, column_report, column_warnings
from familymatch.logs import get_logger
from familymatch.outputs import secure_mkdir, write_owner_only
from familymatch.project import Project, SourceSpec

log = get_logger(__name__)


@dataclass(frozen=True)
class SourceStats:
    """What one source gave."""

    source: str
    kind: str
    path: str
    sha256: str
    rows_read: int
    records: int
    rows_rejected: int


@dataclass
class IngestResult:
    records: pl.DataFrame
    rejects: pl.DataFrame
    stats: list[SourceStats]
    columns: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=COLUMN_REPORT_SCHEMA))
    warnings: list[str] = field(default_factory=list)

    def stats_frame(self) -> pl.DataFrame:
        return pl.DataFrame([s.__dict__ for s in self.stats])


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class SourceResult:
    records: pl.DataFrame
    rejects: pl.DataFrame
    stats: SourceStats
    columns: pl.DataFrame
    warnings: list[str]


def ingest_source(spec: SourceSpec, reference: date | None = None) -> SourceResult:
    """One source's records, rejects, counts and column report. ``reference`` is the project's
    reference date (two-digit years with century "past" fall on or before it)."""
    table = read_source(spec)
    records, rejects = map_source(spec, table, reference=reference)
    rows_read = table.frame.height + len(table.ragged)
    stats = SourceStats(
        source=spec.name,
        kind=spec.kind,
        path=str(spec.path),
        sha256=file_sha256(spec.path),
        rows_read=rows_read,
        records=records.height,
        rows_rejected=rejects["row"].n_unique(),
    )
    columns = column_report(spec, table, rejects)
    warnings = column_warnings(spec, table, columns, reference or date.today())
    return SourceResult(records, rejects, stats, columns, warnings)


def ingest_project(project: Project, progress: Callable[[str], None] | None = None) -> IngestResult:
    """Read every source; a source that cannot be used at all raises InputFileError."""
    parts = []
    for spec in project.sources:
        if progress:
            progress(spec.name)
        part = ingest_source(spec, project.reference_date)
        for warning in part.warnings:
            log.warning(warning)
        parts.append(part)
    return IngestResult(
        records=pl.concat([empty_canonical(), *(p.records for p in parts)], how="vertical"),
        rejects=pl.concat(
            [pl.DataFrame(schema=REJECT_SCHEMA), *(p.rejects for p in parts)], how="vertical"
        ),
        stats=[p.stats for p in parts],
        columns=pl.concat([pl.DataFrame(schema=COLUMN_REPORT_SCHEMA), *(p.columns for p in parts)]),
        warnings=[w for p in parts for w in p.warnings],
    )


def write_rejects(rejects: pl.DataFrame, path: Path) -> Path:
    """Write the rejects as CSV, owner-only (it names rows of personal data)."""
    if not path.parent.exists():
        secure_mkdir(path.parent)
    return write_owner_only(path, lambda tmp: rejects.write_csv(tmp))


__all__ = [
    "IngestResult",
    "SourceResult",
    "SourceStats",
    "ingest_project",
    "ingest_source",
    "write_rejects",
]
