"""Shared fixtures for the store tests: one database URL per test, SQLite always and PostgreSQL
when FAMILYMATCH_TEST_PG_URL is set (those cases are marked ``postgres``: `make test-postgres`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

PG_URL = os.environ.get("FAMILYMATCH_TEST_PG_URL")

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def reset_postgres(url: str) -> None:
    """Empty the test database (every table, the migration stamp) so each test starts clean."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def make_db_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    if not PG_URL:
        pytest.skip("FAMILYMATCH_TEST_PG_URL is not set")
    reset_postgres(PG_URL)
    return PG_URL
