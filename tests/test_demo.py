"""The demo tells the programme's story with figures that agree: families attached per year in
the Plymouth profile, fees per year, results per claim, and the forecast's recorded column."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from claims.records import read_attachments, read_submitted_claims
from familymatch.project import load_project
from familymatch.store import open_store
from fixtures.demo import run_demo
from fixtures.demo_programme import year_counts


def test_what_the_demo_prints_adds_up(tmp_path: Path) -> None:
    console = Console(file=io.StringIO(), width=250)
    f = run_demo(tmp_path / "demo", 0.02, 7, console)
    printed = " ".join(console.file.getvalue().split())  # type: ignore[attr-defined]
    store = open_store(load_project(tmp_path / "demo" / "familymatch.toml").database_url)
    attachments = read_attachments(store)

    # attached per year: the Plymouth profile, every cohort family once
    assert [y.attached for y in f.years] == list(year_counts(attachments.height))
    assert attachments["family_ref"].n_unique() == attachments.height
    # fees per year: funded families x that year's fee, and what the recorded column counts
    fees = {"2012/13": Decimal("3200.00"), "2014/15": Decimal("1600.00")}
    for y in f.years:
        assert y.fees == y.fee * y.funded
        if y.year in fees:
            assert y.fee == fees[y.year]
        assert f.recorded[y.year]["attachment_fees"] == y.fees
        assert f"{y.attached:,} families attached" in printed
    # year one fell short of the 206 agreed: year-two fees follow the band it reached
    assert f.band in ("full", "half", "withheld")
    assert f.years[1].fee == {"full": 2400, "half": 1200, "withheld": 0}[f.band]
    # results per claim: the results add up to the claim, which is what was submitted
    (claim,) = f.claims
    assert sum(a for _, a in claim.by_result.values()) == claim.amount
    assert sum(n for n, _ in claim.by_result.values()) >= 1
    submitted = read_submitted_claims(store)
    assert sum(Decimal(a) for a in submitted["amount"]) == claim.amount
    # the recorded column: results in the year they were submitted, totals add up
    assert f.recorded["2013/14"]["results"] == claim.amount
    assert f.recorded["2012/13"]["results"] == Decimal("0.00")
    for r in f.recorded.values():
        assert r["total"] == r["attachment_fees"] + r["results"]
    assert f"= £{claim.amount:,.2f}" in printed
    for line in f.lines:
        assert " ".join(line.split()) in printed


@pytest.mark.slow
def test_what_the_timeline_demo_prints_adds_up(tmp_path: Path) -> None:
    from fixtures.demo_timeline import TimelineFigures
    from fixtures.timeline import CLAIM_DATES, YEARS

    console = Console(file=io.StringIO(), width=250)
    f = run_demo(tmp_path / "demo", 0.02, 7, console, timeline=True)
    assert isinstance(f, TimelineFigures) and f.score is not None
    printed = " ".join(console.file.getvalue().split())  # type: ignore[attr-defined]
    store = open_store(load_project(tmp_path / "demo" / "familymatch.toml").database_url)
    attachments = read_attachments(store)
    # a build at every refresh; families attached from them add up to the Plymouth profile
    assert len(f.refreshes) == 7 and sum(r.attached for r in f.refreshes) == attachments.height
    assert [y.attached for y in f.years] == [round(n * 0.02) for _, _, _, n in YEARS]
    # fees per year: funded families x that year's fee, as the recorded column counts them
    for y in f.years:
        assert y.fees == y.fee * y.funded
        assert f.recorded[y.year]["attachment_fees"] == y.fees
    # a claim at every refresh after the first; results per claim add up to what was submitted
    assert [c.as_of for c in f.claims] == list(CLAIM_DATES)
    for c in f.claims:
        assert sum(a for _, a in c.by_result.values()) == c.amount
    submitted = read_submitted_claims(store)
    assert sum(Decimal(a) for a in submitted["amount"]) == sum(c.amount for c in f.claims)
    # the recorded column: each claim's results in the financial year it was submitted
    by_fy: dict[str, Decimal] = {}
    for c in f.claims:
        assert c.submitted_on is not None
        start = c.submitted_on.year - (c.submitted_on.month < 4)
        fy = f"{start}/{(start + 1) % 100:02d}"
        by_fy[fy] = by_fy.get(fy, Decimal("0.00")) + c.amount
    assert {fy: r["results"] for fy, r in f.recorded.items() if r["results"]} == {
        fy: a for fy, a in by_fy.items() if a
    }
    for r in f.recorded.values():
        assert r["total"] == r["attachment_fees"] + r["results"]
    # the claims against the planted truth
    assert f.score.precision == f.score.recall == 1.0 and f.score.expected.height >= 3
    for line in f.lines:
        assert " ".join(line.split()) in printed
