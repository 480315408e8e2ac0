"""The demo tells the programme's story with figures that agree: families attached per year in
the Plymouth profile, fees per year, results per claim, and the forecast's recorded column."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

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
