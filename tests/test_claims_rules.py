"""Payment frameworks and the result decisions, on hand-made families: every boundary of the
phase-1 results (15% absence, 3 exclusions, 60% / 33% reductions, 13 weeks in work), new
problems, the window not yet over, one turnaround per family, the funded cap, amounts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from claims.framework import load_framework
from claims.prepare import build_terms
from claims.results import Family, decide
from familymatch.errors import ConfigError
from familymatch.store import open_store, recording_run
from rules.terms import load_calendar

FW = load_framework("phase1")
CAL = load_calendar()
AS_OF = date(2013, 6, 1)
ATTACHED = date(2012, 9, 1)
TERMS = ("2011/12-summer", "2012/13-autumn", "2012/13-spring")  # census terms at AS_OF


def test_phase1_framework_money() -> None:
    assert FW.funded_share == Fraction(5, 6)
    assert FW.funded_families() == 620  # 745 x 5/6 = 620.83, rounded down
    assert FW.max_per_family == Decimal("4000.00")
    y1 = FW.year_of(date(2012, 7, 15))
    assert y1 is not None and y1.name == "2012/13"
    assert (y1.attachment_fee, y1.results["R1"], y1.results["R2"], y1.results["R3"]) == (
        Decimal("3200.00"),
        Decimal("700.00"),
        Decimal("100.00"),
        Decimal("800.00"),
    )
    assert FW.amount("R3", date(2014, 4, 1)) == Decimal("2400.00")
    assert FW.year_of(date(2015, 4, 1)) is None
    assert load_framework("phase2").amount("progress", date(2016, 1, 1)) == Decimal("800.00")


BASE = Path(__file__).resolve().parents[1] / "claims" / "phase1.toml"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'attachment_fee = "3200.00"',
            "attachment_fee = 3200.5",
            "years[0].attachment_fee: must be an amount",
        ),
        (
            'attachment_fee = "3200.00"',
            'attachment_fee = "3200.005"',
            "years[0].attachment_fee: '3200.005' is not an amount",
        ),
        (
            'attachment_fee = "3200.00"',
            'attachment_fee = "3400.00"',
            "years[0]: attachment fee 3400.00 plus the largest result",
        ),
        ('funded_share = "5/6"', 'funded_share = "7/6"', "framework.funded_share: '7/6' must be"),
        (
            "min_weeks = 13",
            "min_weeks = 0",
            "results.R3.min_weeks: must be at least 1 (got 0)",
        ),
        (
            'components = ["education", "asb", "offending"]',
            'components = ["education", "asbb"]',
            "results.R1.components[1]: 'asbb' is not defined",
        ),
        ('test = "reduction"', 'test = "fewer"', "components.asb.test: 'fewer' is not one of"),
        (
            'start = "2013-04-01"',
            'start = "2013-03-01"',
            "years[1].start: overlaps the year before",
        ),
        (
            'results = { R1 = "700.00", R2 = "100.00", R3 = "800.00" }',
            'results = { R1 = "700.00", R3 = "800.00" }',
            "years[0].results.R2: is required",
        ),
        (
            "weeks_by_benefit = {}",
            "weeks_by_benefit = { UC = 26 }",
            "results.R3.weeks_by_benefit.UC: 'UC' is not in results.R3.benefits",
        ),
        (
            "indicative_families = 745",
            "indicative_familes = 745",
            "local.indicative_familes: unknown key",
        ),
    ],
)
def test_framework_errors_name_the_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = BASE.read_text()
    assert old in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_framework(str(bad))
    assert message in str(err.value)
    assert "bad.toml" in str(err.value)


def test_unknown_framework_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"known: phase1, phase2"):
        load_framework("phase9")


# --------------------------------------------------------------------------- hand-made facts

_row = 0


def fact(kind: str, person: str, period: str = "later", **kw: Any) -> dict[str, Any]:
    global _row
    _row += 1
    base: dict[str, Any] = {
        "family_ref": "F1",
        "person_id": person,
        "record_id": f"{kind}:{_row}",
        "source": kind,
        "row": _row,
        "kind": kind,
        "event_type": None,
        "event_date": None,
        "end_date": None,
        "term": None,
        "sessions_possible": None,
        "sessions_authorised": None,
        "sessions_unauthorised": None,
        "period": period,
    }
    base.update(kw)
    return base


def census(person: str, unauthorised: list[int], possible: int = 100) -> list[dict[str, Any]]:
    return [
        fact(
            "school_census",
            person,
            term=t,
            sessions_possible=possible,
            sessions_authorised=5,
            sessions_unauthorised=u,
        )
        for t, u in zip(TERMS, unauthorised, strict=True)
    ]


def incidents(person: str, dates: list[date]) -> list[dict[str, Any]]:
    return [fact("asb_incidents", person, event_type="NOISE", event_date=d) for d in dates]


DOBS = {
    "C1": date(2002, 3, 3),
    "C2": date(2004, 5, 5),
    "A1": date(1980, 1, 1),
    "Y1": date(1996, 2, 2),
}


def one(criteria: tuple[str, ...], facts: list[dict[str, Any]], **kw: Any) -> Any:
    fam = Family("F1", "H1", "KW", kw.pop("attached", ATTACHED), criteria)
    (d,) = decide(
        FW,
        [fam],
        {"F1": facts},
        kw.pop("as_of", AS_OF),
        CAL,
        DOBS,
        kw.pop("already", {}),
        kw.pop("cap_left", 10),
    )
    return d


BEFORE = [date(2012, 4, 1), date(2012, 5, 1), date(2012, 6, 1), date(2012, 7, 1), date(2012, 8, 1)]


@pytest.mark.parametrize(
    ("unauthorised", "claimed"),
    [([14, 15, 15], True), ([15, 15, 15], False), ([16, 15, 15], False)],
)
def test_absence_strictly_below_15_percent(unauthorised: list[int], claimed: bool) -> None:
    # 44/300 = 14.7% claims; exactly 45/300 = 15% does not
    d = one(("education", "work"), census("C1", unauthorised))
    assert d.claimed is claimed
    assert d.results == (("R1",) if claimed else ())
    if not claimed:
        assert "unauthorised absence 15.0%" in d.reason or "15.3%" in d.reason


@pytest.mark.parametrize(("n", "claimed"), [(2, True), (3, False)])
def test_fewer_than_three_exclusions(n: int, claimed: bool) -> None:
    rows = census("C1", [1, 1, 1]) + [
        fact("exclusions", "C1", event_type="FIXED", event_date=date(2013, 1, 10 + i))
        for i in range(n)
    ]
    d = one(("education", "work"), rows)
    assert d.claimed is claimed
    if not claimed:
        assert "3 fixed-term" in d.reason


def test_a_permanent_exclusion_blocks() -> None:
    rows = census("C1", [1, 1, 1]) + [
        fact("exclusions", "C1", event_type="PERMANENT", event_date=date(2013, 2, 1))
    ]
    assert not one(("education", "work"), rows).claimed


@pytest.mark.parametrize(("after", "claimed"), [(2, True), (3, False)])
def test_asb_down_60_percent_exactly(after: int, claimed: bool) -> None:
    # 5 incidents in the 6 months to attachment; 2 after = down 60% (claims), 3 = down 40%
    rows = incidents("A1", BEFORE) + incidents("A1", [date(2013, 1, 5 + i) for i in range(after)])
    d = one(("crime", "work"), rows)
    assert d.claimed is claimed
    assert d.results == ("R1",) if claimed else "down 40.0%" in d.reason


def test_offending_by_under_18s_down_a_third() -> None:
    offences = [
        fact("youth_offending", "Y1", event_type="THEFT", event_date=date(2012, 6, 1)),
        fact("youth_offending", "Y1", event_type="THEFT", event_date=date(2012, 7, 1)),
        fact("youth_offending", "Y1", event_type="THEFT", event_date=date(2012, 8, 1)),
        fact("youth_offending", "Y1", event_type="THEFT", event_date=date(2013, 3, 1)),
        fact("youth_offending", "Y1", event_type="THEFT", event_date=date(2013, 4, 1)),
    ]
    d = one(("crime", "work"), offences)  # 3 before, 2 after: down 33.3%
    assert d.results == ("R1",)
    d = one(
        ("crime", "work"),
        [*offences, offences[-1] | {"event_date": date(2013, 5, 1), "record_id": "x"}],
    )
    assert not d.claimed and "down 0.0%" in d.reason
    # an offence at 18 or over is not youth offending: Y1 is 18 from 2014-02-02
    adult = [fact("youth_offending", "A1", event_type="THEFT", event_date=date(2013, 3, 1))]
    assert "nothing to measure" in one(("crime", "work"), adult).reason
    # offences that were not proven (no further action, not guilty) never count
    not_proven = [
        o | {"event_date": date(2013, 5, 1), "record_id": f"nfa{i}", "outcome": code}
        for i, (o, code) in enumerate(zip(offences, ["NFA", " not_guilty "], strict=False))
    ]
    assert one(("crime", "work"), [*offences, *not_proven]).results == ("R1",)
    proven = [o | {"outcome": "CAUTION"} for o in not_proven]
    assert not one(("crime", "work"), [*offences, *proven]).claimed


def test_a_new_problem_blocks_and_nothing_to_measure_is_not_a_result() -> None:
    # entered on crime + work, no child at school: a new ASB problem blocks R1
    d = one(("crime", "work"), incidents("A1", [date(2013, 2, 1)]))
    assert not d.claimed and "a new problem" in d.reason
    # nothing at all to measure: no result (the family had no measurable problem)
    d = one(("crime", "work"), [])
    assert not d.claimed and "nothing to measure" in d.reason
    # education not a problem at entry but a child now at 20% absence: a new problem
    d = one(("crime", "work"), incidents("A1", BEFORE) + census("C1", [20, 20, 20]))
    assert not d.claimed and "new problem" in d.reason


def test_window_after_attachment_must_be_over() -> None:
    rows = incidents("A1", BEFORE)
    d = one(("crime", "work"), rows, attached=date(2013, 1, 15))
    assert not d.claimed and "not over until 2013-07-15" in d.reason


def job(person: str, start: date, end: date | None = None) -> dict[str, Any]:
    return fact("employment", person, event_type="EMPLOYED", event_date=start, end_date=end)


def claim(
    person: str, start: date, end: date | None, period: str = "build", kind: str = "JSA"
) -> dict[str, Any]:
    return fact("benefits", person, period=period, event_type=kind, event_date=start, end_date=end)


@pytest.mark.parametrize(
    ("start", "claimed"), [(date(2013, 3, 2), True), (date(2013, 3, 3), False)]
)
def test_continuous_employment_13_weeks(start: date, claimed: bool) -> None:
    # 2013-03-02 to 2013-06-01 is exactly 13 weeks
    rows = [claim("A1", date(2011, 1, 1), None), job("A1", start)]
    d = one(("education", "work"), rows)
    assert d.results == (("R3",) if claimed else ())
    if claimed:
        assert d.amount == Decimal("800.00") and d.programme_year == "2012/13"
    else:
        assert "12 weeks of the 13 needed" in d.reason


def test_employment_needs_a_benefit_left_and_none_open_now() -> None:
    assert not one(("education", "work"), [job("A1", date(2012, 10, 1))]).claimed
    still = [
        claim("A1", date(2011, 1, 1), None),
        job("A1", date(2012, 10, 1)),
        claim("A1", date(2012, 12, 1), None, period="later"),
    ]
    d = one(("education", "work"), still)
    assert not d.claimed and "still has an open out-of-work claim" in d.reason
    left = [
        claim("A1", date(2011, 1, 1), date(2012, 9, 30), period="later"),
        job("A1", date(2012, 10, 1)),
    ]
    assert one(("education", "work"), left).results == ("R3",)


def test_weeks_by_benefit_split(tmp_path: Path) -> None:
    text = BASE.read_text().replace("weeks_by_benefit = {}", "weeks_by_benefit = { JSA = 26 }")
    path = tmp_path / "split.toml"
    path.write_text(text)
    fw = load_framework(str(path))
    rows = [claim("A1", date(2011, 1, 1), None), job("A1", date(2013, 1, 1))]  # 21 weeks
    fam = Family("F1", "H1", "KW", ATTACHED, ("education", "work"))
    (d,) = decide(fw, [fam], {"F1": rows}, AS_OF, CAL, DOBS, {}, None)
    assert not d.claimed and "21 weeks of the 26 needed" in d.reason
    rows = [claim("A1", date(2011, 1, 1), None, kind="ESA"), job("A1", date(2013, 1, 1))]
    (d,) = decide(fw, [fam], {"F1": rows}, AS_OF, CAL, DOBS, {}, None)
    assert d.results == ("R3",)


def test_one_turnaround_the_larger_and_never_twice() -> None:
    rows = incidents("A1", BEFORE) + [
        claim("A1", date(2011, 1, 1), None),
        job("A1", date(2012, 10, 1)),
    ]
    d = one(("crime", "work"), rows)
    assert d.results == ("R3",) and d.amount == Decimal("800.00")  # R1 achieved too; R3 pays more
    statuses = {o.name: o.status for o in d.outcomes}
    assert statuses == {"R1": "achieved", "R2": "not_achieved", "R3": "achieved"}
    d = one(("crime", "work"), rows, already={"F1": {"R1"}})
    assert not d.claimed and "already turned around (R1 claimed before)" in d.reason


def test_the_funded_cap() -> None:
    rows = [claim("A1", date(2011, 1, 1), None), job("A1", date(2012, 10, 1))]
    d = one(("education", "work"), rows, cap_left=0)
    assert not d.claimed and "funded cap of 620 families is reached" in d.reason


def test_programme_year_of_attachment_sets_the_amount() -> None:
    rows = incidents("A1", [date(2013, 3, 1), date(2013, 4, 1)]) + [
        claim("A1", date(2011, 1, 1), None),
        job("A1", date(2013, 6, 1)),
    ]
    d = one(("crime", "work"), rows, attached=date(2013, 4, 2), as_of=date(2014, 1, 1))
    assert d.results == ("R3",) and d.programme_year == "2013/14"
    assert d.amount == Decimal("1600.00")


# --------------------------------------------------------------------------- phase 2

FW2 = load_framework("phase2")
P2_ATTACHED, P2_AS_OF = date(2016, 1, 10), date(2016, 9, 1)
P2_TERMS = tuple(CAL.census_terms(P2_AS_OF, 3))


def two(criteria: tuple[str, ...], facts: list[dict[str, Any]]) -> Any:
    fam = Family("F1", "H1", "KW", P2_ATTACHED, criteria)
    (d,) = decide(FW2, [fam], {"F1": facts}, P2_AS_OF, CAL, DOBS, {}, None)
    return d


def attendance(person: str, absent: int) -> list[dict[str, Any]]:
    """Three terms of 100 sessions, ``absent`` of them missed (authorised + unauthorised)."""
    return [
        fact(
            "school_census",
            person,
            term=t,
            sessions_possible=100,
            sessions_authorised=absent - absent // 2,
            sessions_unauthorised=absent // 2,
        )
        for t in P2_TERMS
    ]


def test_phase2_progress_on_every_problem_at_entry() -> None:
    # entered on school + crime: attendance 91% (absence 9% < 10%) and ASB down a half
    asb = incidents(
        "A1", [date(2015, 8, 1), date(2015, 9, 1), date(2015, 10, 1), date(2015, 12, 1)]
    )
    after = incidents("A1", [date(2016, 4, 1), date(2016, 5, 1)])
    d = two(("crime", "school"), attendance("C1", 9) + asb + after)
    assert d.results == ("progress",) and d.amount == Decimal("800.00")
    assert d.programme_year == "2015/16"
    # 10% absence (authorised + unauthorised) is not progress, whatever the unauthorised share
    d = two(("crime", "school"), attendance("C1", 10) + asb + after)
    assert not d.claimed and "absence 10.0%" in d.reason


def test_phase2_a_problem_appearing_later_blocks_progress() -> None:
    asb = incidents("A1", [date(2015, 8, 1), date(2015, 9, 1)])
    cpp = fact("social_care", "C1", event_type="CPP", event_date=date(2016, 6, 1))
    d = two(("crime", "school"), attendance("C1", 5) + asb + [cpp])
    assert not d.claimed
    assert "children_need_help: 1 social care in the 6 months" in d.reason
    assert "(a new problem)" in d.reason
    # an out-of-work claim still open in the later data blocks worklessness progress
    jsa = claim("A1", date(2014, 1, 1), None, period="later")
    d = two(("worklessness", "school"), attendance("C1", 5) + [jsa])
    assert not d.claimed and "worklessness: 1 benefits open on 2016-09-01" in d.reason


def test_phase2_continuous_employment_26_weeks_after_jsa() -> None:
    # a child still missing 20% of school: no progress result, so employment is what counts
    school = attendance("C1", 20)
    jsa = claim("A1", date(2014, 1, 1), date(2016, 2, 1))
    d = two(("worklessness", "school"), [*school, jsa, job("A1", date(2016, 3, 3))])  # 26 weeks
    assert d.results == ("employment",)
    assert {o.name: o.status for o in d.outcomes} == {
        "progress": "not_achieved",
        "employment": "achieved",
    }
    d = two(("worklessness", "school"), [*school, jsa, job("A1", date(2016, 3, 4))])
    assert not d.claimed and "25 weeks of the 26 needed" in d.reason
    esa = claim("A1", date(2014, 1, 1), date(2016, 5, 1), kind="ESA")
    d = two(("worklessness", "school"), [*school, esa, job("A1", date(2016, 6, 2))])  # 13 weeks
    assert d.results == ("employment",)


def test_a_newcomer_joins_the_family_they_live_with() -> None:
    """A later record linked to nobody of the build (a baby, a new partner) joins the build
    household of the known people it lives with at the later date; one living with nobody
    known stays out."""
    import polars as pl

    from claims.outcomes import join_newcomers

    mapped = pl.DataFrame(
        {
            "record_id": ["census:1", "census:2", "asb:7", "asb:8"],
            "person_id": ["P1", None, None, None],
            "household_id": ["H1", None, None, None],
        }
    )
    persons = pl.DataFrame(
        {
            "record_id": ["census:1", "census:2", "asb:7", "asb:8"],
            "person_id": ["C1", "C2", "C2", "C9"],
        }
    )
    later = pl.DataFrame(
        {
            "record_id": ["census:1", "census:2", "asb:7", "asb:8"],
            "household_id": ["L1", "L1", "L1", "L5"],
        }
    )
    joined = join_newcomers(mapped, persons, later).sort("record_id")
    assert joined.rows() == [
        ("asb:7", "NC2", "H1"),
        ("asb:8", None, None),
        ("census:1", "P1", "H1"),
        ("census:2", "NC2", "H1"),
    ]


def test_r2_is_never_paid_beside_r3_from_an_earlier_claim() -> None:
    step = fact("employment", "A1", event_type="WORK_PROGRAMME", event_date=date(2013, 4, 1))
    d = one(("education", "work"), [step])
    assert d.results == ("R2",) and d.amount == Decimal("100.00")
    # R3 was paid in an earlier submitted claim: R2 is not paid beside it, and says why
    d = one(("education", "work"), [step], already={"F1": {"R3"}})
    assert not d.claimed and d.reason == "R2 is not paid beside R3"
    # and R2 already paid is not paid again
    d = one(("education", "work"), [step], already={"F1": {"R2"}})
    assert not d.claimed and "R2 already claimed before" in d.reason


def test_a_claim_decides_with_the_term_calendar_its_build_recorded(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    council = tmp_path / "terms.toml"
    with recording_run(store, "build", parameters={"terms": str(council)}) as own:
        pass
    with recording_run(store, "build", parameters={"terms": None}) as packaged:
        pass
    assert build_terms(store, own.run_id) == council
    assert build_terms(store, packaged.run_id) is None


def test_a_work_programme_place_is_not_a_job() -> None:
    # off JSA and on the Work Programme for 8 months, no job: progress to work, not employment
    rows = [
        claim("A1", date(2011, 1, 1), date(2012, 9, 30), period="later"),
        fact(
            "employment", "A1", event_type="WORK_PROGRAMME", event_date=date(2012, 10, 1)
        ),  # still on it
    ]
    d = one(("education", "work"), rows)
    assert "R3" not in d.results
