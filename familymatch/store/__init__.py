"""The record of truth: runs, provenance, links, households, criteria and evidence in one
database (SQLite in a file by default, PostgreSQL for a team; the same code)."""

from familymatch.store.runs import (
    Store,
    latest_run,
    open_store,
    read_table,
    safe_url,
)

__all__ = ["Store", "latest_run", "open_store", "read_table", "safe_url"]
