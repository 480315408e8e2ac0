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


def test_claims_in_postgres_match_sqlite(
    pg_url: str, small_council: tuple[Path, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attach, import outcomes, prepare and verify a claim in PostgreSQL: the same decisions
    and amounts (whole pence, BigInteger) as in SQLite, and the workbook verifies."""
    from datetime import date

    from claims.attach import check_allocation, read_allocation, write_allocation_template
    from claims.framework import load_framework
    from claims.outcomes import import_outcomes
    from claims.prepare import prepare_claim
    from claims.records import cohort_families, family_refs, read_attachments, record_attachments
    from claims.verify import verify_claim
    from claims.workbook import read_claim_workbook, write_claim_workbook
    from fixtures.allocation import fill_allocation

    src, _ = small_council
    fw = load_framework("phase1")
    results = {}
    for name, url in (("sqlite", None), ("postgres", pg_url)):
        copy = tmp_path / name
        shutil.copytree(src, copy)
        (copy / "familymatch.db").unlink(missing_ok=True)
        if url:
            monkeypatch.setenv("FAMILYMATCH_DATABASE_URL", url)
        build = build_cohort(copy / "familymatch.toml")
        store = open_store(url or f"sqlite:///{copy / 'familymatch.db'}")
        template = copy / "allocation.csv"
        write_allocation_template(cohort_families(store, build.run_id), template)
        fill_allocation(template, copy / "filled.csv", store, build.run_id, copy / "truth")
        check = check_allocation(
            read_allocation(copy / "filled.csv"),
            cohort_families(store, build.run_id),
            family_refs(store, build.run_id),
            read_attachments(store).select("family_ref", "attached_on"),
            date(2012, 6, 1),
            date(2013, 6, 1),
            "filled.csv",
        )
        assert not check.problems
        record_attachments(store, build.run_id, check.rows, "filled.csv")
        import_outcomes(copy / "familymatch_period2.toml", store)
        claim = prepare_claim(store, fw, date(2013, 6, 1))
        wb = write_claim_workbook(
            copy / "claim.xlsx", claim.summary, claim.claims, claim.lines, claim.run_id, fw.title
        )
        assert verify_claim(store, read_claim_workbook(wb)).ok
        claims = read_table(store, s.claims, claim.run_id)
        assert claims["amount_pence"].dtype == pl.Int64
        results[name] = (
            claim.summary["amount"],
            claim.summary["content_sha256"],
            claims.select("family_ref", "decision", "result", "amount_pence").sort("family_ref"),
        )
    assert results["sqlite"][0] == results["postgres"][0]
    assert results["sqlite"][2].equals(results["postgres"][2])
