"""The same build, recorded in PostgreSQL (FAMILYMATCH_TEST_PG_URL; .ci/run starts a server)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from familymatch.errors import FamilyMatchError
from familymatch.store import open_store, read_table, safe_url
from familymatch.store import schema as s
from familymatch.store.runs import recording_run
from rules.build import build_cohort
from tests.test_store_support import reset_postgres

pytestmark = pytest.mark.postgres
PG_URL = os.environ.get("FAMILYMATCH_TEST_PG_URL")


@pytest.fixture()
def pg_url() -> str:
    if not PG_URL:
        pytest.skip("FAMILYMATCH_TEST_PG_URL is not set")
    reset_postgres(PG_URL)  # every table and the migration stamp
    return PG_URL


def test_build_into_postgres_matches_sqlite(
    pg_url: str, small_council: tuple[Path, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, _ = small_council
    copy = tmp_path / "c"
    shutil.copytree(src, copy)
    (copy / "familymatch.db").unlink(missing_ok=True)
    lite = build_cohort(copy / "familymatch.toml")
    monkeypatch.setenv("FAMILYMATCH_DATABASE_URL", pg_url)
    pg = build_cohort(copy / "familymatch.toml")
    assert pg.summary["cohort"] == lite.summary["cohort"]
    store = open_store(pg_url)
    members = read_table(store, s.membership, pg.run_id).sort("record_id")
    assert members.height == lite.linked.membership.height
    assert members.equals(lite.linked.membership.sort("record_id").select(members.columns))
    evidence = read_table(store, s.evidence, pg.run_id)
    assert evidence.height == lite.evaluation.evidence.height
    assert evidence["date"].dtype == pl.Date


def test_lock_and_password_never_shown(pg_url: str) -> None:
    store = open_store(pg_url)
    assert "familymatch_ci" not in safe_url(pg_url) or "***" in safe_url(pg_url)
    with recording_run(store, "build") as first:
        with pytest.raises(FamilyMatchError) as err, recording_run(store, "build"):
            pass
        assert f"another build (run {first.run_id}) is in progress" in str(err.value)
        password = pg_url.split(":")[2].split("@")[0]
        assert password not in str(err.value)
