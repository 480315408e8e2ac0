"""The record of truth: runs, provenance, links, households, criteria and evidence in one
database (SQLite in a file by default, PostgreSQL for a team; the same code).

Modules: ``engine`` (URLs, connections, owner-only SQLite files, ``safe_url``), ``schema`` (the
tables), ``migrations`` (Alembic, ``upgrade``), ``runs`` (atomic runs, the build lock, reading
runs back, double-import detection), ``bulk`` (executemany / COPY), ``families`` (stable family
references, cohort diff), ``audit`` (the audit log).
"""

from familymatch.store.audit import audit, read_audit_log
from familymatch.store.engine import Store, make_engine, open_store, safe_url
from familymatch.store.families import (
    CohortDiff,
    assign_stable_household_ids,
    cohort_diff,
    default_person_keys,
    diff_latest,
)
from familymatch.store.migrations import current_revision, head_revision, upgrade
from familymatch.store.runs import (
    PreviousImport,
    RunWriter,
    break_lock,
    delete_run,
    find_previous_import,
    latest_run,
    list_runs,
    lock_holder,
    read_kind,
    read_rows_in,
    read_table,
    recording_run,
    run_info,
)

__all__ = [
    "CohortDiff",
    "PreviousImport",
    "RunWriter",
    "Store",
    "assign_stable_household_ids",
    "audit",
    "break_lock",
    "cohort_diff",
    "delete_run",
    "current_revision",
    "default_person_keys",
    "diff_latest",
    "find_previous_import",
    "head_revision",
    "latest_run",
    "list_runs",
    "lock_holder",
    "make_engine",
    "open_store",
    "read_audit_log",
    "read_kind",
    "read_rows_in",
    "read_table",
    "recording_run",
    "run_info",
    "safe_url",
    "upgrade",
]
