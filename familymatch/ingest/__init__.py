"""Ingest: read every source of a project and map it onto the canonical record.

``ingest_project(project)`` returns the records of all sources (in project order, then row, then
person slot), the rejected rows with reasons, and per-source counts and file hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from familymatch.canonical import REJECT_SCHEMA, empty_canonical
from familymatch.ingest.mapping import map_source
from familymatch.ingest.readers import read_source
from familymatch.outputs import secure_mkdir, write_owner_only
from familymatch.project import Project, SourceSpec


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

    def stats_frame(self) -> pl.DataFrame:
        return pl.DataFrame([s.__dict__ for s in self.stats])


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest_source(spec: SourceSpec) -> tuple[pl.DataFrame, pl.DataFrame, SourceStats]:
    table = read_source(spec)
    records, rejects = map_source(spec, table)
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
    return records, rejects, stats


def ingest_project(project: Project, progress: Callable[[str], None] | None = None) -> IngestResult:
    """Read every source; a source that cannot be used at all raises InputFileError."""
    records = [empty_canonical()]
    rejects = [pl.DataFrame(schema=REJECT_SCHEMA)]
    stats = []
    for spec in project.sources:
        if progress:
            progress(spec.name)
        rec, rej, st = ingest_source(spec)
        records.append(rec)
        rejects.append(rej)
        stats.append(st)
    return IngestResult(
        records=pl.concat(records, how="vertical"),
        rejects=pl.concat(rejects, how="vertical"),
        stats=stats,
    )


def write_rejects(rejects: pl.DataFrame, path: Path) -> Path:
    """Write the rejects as CSV, owner-only (it names rows of personal data)."""
    if not path.parent.exists():
        secure_mkdir(path.parent)
    return write_owner_only(path, lambda tmp: rejects.write_csv(tmp))


__all__ = ["IngestResult", "SourceStats", "ingest_project", "ingest_source", "write_rejects"]
