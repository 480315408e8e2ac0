"""The demo tells the programme's story over three years with figures that agree: families
attached per year in the Plymouth profile, fees per year, results per claim, the forecast's
recorded column beside them, and the claims against the planted truth."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from claims.records import read_attachments, read_submitted_claims
from familymatch.project import load_project
from familymatch.store import open_store
from fixtures.demo import run_demo
from fixtures.demo_timeline import TimelineFigures
from fixtures.timeline import REFRESHES, YEARLY, YEARS


def financial_year(d: date) -> str:
    start = d.year - (d.month < 4)
    return f"{start}/{(start + 1) % 100:02d}"


def check_what_it_prints(
    folder: Path, f: TimelineFigures, printed: str, dates: tuple[date, ...], scale: float
) -> None:
    store = open_store(load_project(folder / "familymatch.toml").database_url)
    attachments = read_attachments(store)
    # a build at every refresh; families attached from them add up to the Plymouth profile
    assert [r.on for r in f.refreshes] == list(dates)
    assert sum(r.attached for r in f.refreshes) == attachments.height
    assert attachments["family_ref"].n_unique() == attachments.height
    assert [y.attached for y in f.years] == [round(n * scale) for _, _, _, n in YEARS]
    for y in f.years:
        assert f"programme year {y.year}: {y.attached:,} families attached" in printed
    # fees per year: funded families x that year's fee, as the recorded column counts them
    fees = {"2012/13": Decimal("3200.00"), "2014/15": Decimal("1600.00")}
    for y in f.years:
        assert y.fees == y.fee * y.funded
        if y.year in fees:
            assert y.fee == fees[y.year]
        assert f.recorded[y.year]["attachment_fees"] == y.fees
    # year one fell short of the 206 agreed: year-two fees follow the band it reached
    assert f.years[1].fee == {"full": 2400, "half": 1200, "withheld": 0}[f.band]
    # a claim at every refresh after the first; results per claim add up to what was submitted
    assert [c.as_of for c in f.claims] == list(dates[1:])
    for c in f.claims:
        assert sum(a for _, a in c.by_result.values()) == c.amount
        assert f"= £{c.amount:,.2f}" in printed
    submitted = read_submitted_claims(store)
    assert sum(Decimal(a) for a in submitted["amount"]) == sum(c.amount for c in f.claims)
    # the recorded column: each claim's results in the financial year it was submitted
    by_fy: dict[str, Decimal] = {}
    for c in f.claims:
        assert c.submitted_on is not None
        fy = financial_year(c.submitted_on)
        by_fy[fy] = by_fy.get(fy, Decimal("0.00")) + c.amount
    assert {fy: r["results"] for fy, r in f.recorded.items() if r["results"]} == {
        fy: a for fy, a in by_fy.items() if a
    }
    for r in f.recorded.values():
        assert r["total"] == r["attachment_fees"] + r["results"]
    # the forecast's recorded figure to date is the recorded column's total
    recorded = sum((r["total"] for r in f.recorded.values()), Decimal("0.00"))
    assert f": £{recorded:,.2f} (attachment fees earned and results claimed)" in printed
    # the claims against the planted truth: R1, R2 and R3 each claimed over time, exactly
    assert f.score is not None
    assert f.score.precision == f.score.recall == 1.0 and not f.score.split
    claimed = f.score.made
    assert set(claimed["result"]) == {"R1", "R2", "R3"}
    assert claimed["claim"].n_unique() >= 2
    assert sum(c.amount for c in f.claims) * 100 == claimed["amount_pence"].sum()
    for line in f.lines:
        assert " ".join(line.split()) in printed


def run_and_read(
    folder: Path, half_yearly: bool, scale: float, seed: int
) -> tuple[TimelineFigures, str]:
    """The demo on a council small enough for a test (scale, seed: one that plants R1, R2 and R3
    all three) and what it printed."""
    console = Console(file=io.StringIO(), width=250)
    f = run_demo(folder, scale, seed, console, half_yearly)
    return f, " ".join(console.file.getvalue().split())  # type: ignore[attr-defined]


@pytest.mark.slow  # 7 s: the fast suite runs the demo once already (test_cli, debug_demo)
def test_what_the_demo_prints_adds_up(tmp_path: Path) -> None:
    f, printed = run_and_read(tmp_path / "demo", False, scale=0.01, seed=5)
    check_what_it_prints(tmp_path / "demo", f, printed, YEARLY, 0.01)
    # the first build scored against the synthetic truth, the refreshes reuse its model
    assert "persons precision" in printed and "planted vs found:" in printed
    assert len(f.builds) == 4 and f"cohort diff {f.builds[0]} {f.builds[3]}" in printed


@pytest.mark.slow
def test_what_the_half_yearly_demo_prints_adds_up(tmp_path: Path) -> None:
    f, printed = run_and_read(tmp_path / "demo", True, scale=0.02, seed=7)
    check_what_it_prints(tmp_path / "demo", f, printed, REFRESHES, 0.02)
