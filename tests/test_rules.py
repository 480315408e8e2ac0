"""Rules: every boundary of the phase-1 criteria, the entry rule, validation, and the truth of a
small synthetic council."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from familymatch.canonical import conform
from familymatch.errors import ConfigError
from familymatch.project import load_project
from rules.engine import evaluate, months_before, summarise
from rules.ruleset import RULES_DIR, check_sources, load_rule_set
from rules.terms import load_calendar, project_calendar
from tests.conftest import write

R = date(2012, 6, 1)
PHASE1 = load_rule_set("phase1")
CHILD = date(2000, 1, 15)
ADULT = date(1975, 5, 5)


def records(rows: list[dict[str, object]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    recs, members = [], []
    for i, r in enumerate(rows, start=1):
        r = dict(r)
        hh, person = r.pop("hh", "H1"), r.pop("person")
        rid = f"{r['kind']}:{i}"
        recs.append({"record_id": rid, "source": r["kind"], "row": i, **r})
        members.append({"record_id": rid, "person_id": person, "household_id": hh})
    return conform(pl.DataFrame(recs, infer_schema_length=None)), pl.DataFrame(members)


def criteria(
    rows: list[dict[str, object]], rule_set: object = PHASE1, ref: date = R
) -> dict[str, str]:
    recs, members = records(rows)
    ev = evaluate(rule_set, recs, members, ref)  # type: ignore[arg-type]
    return dict(ev.cohort.select("household_id", "combination").iter_rows())


def census(
    person: str,
    unauth: list[int],
    possible: list[int],
    terms: list[str] | None = None,
    hh: str = "H1",
) -> list[dict[str, object]]:
    terms = terms or ["2010/11-summer", "2011/12-autumn", "2011/12-spring"]
    return [
        {
            "kind": "school_census",
            "person": person,
            "hh": hh,
            "dob": CHILD,
            "term": t,
            "sessions_possible": p,
            "sessions_unauthorised": u,
            "sessions_authorised": 0,
        }
        for t, u, p in zip(terms, unauth, possible, strict=True)
    ]


def test_absence_exactly_15_percent_meets_and_14_9_does_not() -> None:
    assert (
        criteria(census("k", [19, 19, 19], [127, 127, 126]))["H1"] == "education"
    )  # 57/380 = 15.0%
    recs, members = records(census("k", [19, 19, 20], [130, 130, 130]))  # 58/390 = 14.87%
    ev = evaluate(PHASE1, recs, members, R)
    assert ev.cohort["combination"].to_list() == [""]
    note = ev.indicator_results.filter(pl.col("indicator") == "unauthorised_absence")["note"][0]
    assert note == "unauthorised absence 14.9% over 3 terms, threshold 15%"


def test_census_arrears_summer_term_only_counts_once_available() -> None:
    rows = census(
        "k",
        [0, 0, 0, 60],
        [130, 130, 130, 130],
        ["2010/11-summer", "2011/12-autumn", "2011/12-spring", "2011/12-summer"],
    )
    assert criteria(rows)["H1"] == ""  # summer 2012 census data not yet available at 1 June 2012
    assert (
        criteria(rows, ref=date(2012, 10, 10))["H1"] == "education"
    )  # 60/390 after the autumn census
    cal = load_calendar()
    assert cal.census_terms(R, 3) == ["2010/11-summer", "2011/12-autumn", "2011/12-spring"]


def excl(n: int, when: date = date(2012, 1, 10), kind: str = "FIXED") -> list[dict[str, object]]:
    return [
        {"kind": "exclusions", "person": "k", "dob": CHILD, "event_type": kind, "event_date": when}
        for _ in range(n)
    ]


def test_three_fixed_exclusions_meet_two_do_not_and_the_term_window() -> None:
    assert criteria(excl(3))["H1"] == "education"
    assert criteria(excl(2))["H1"] == ""
    # the window opens on the first day of autumn 2011/12 (5 September 2011)
    assert criteria(excl(3, date(2011, 9, 5)))["H1"] == "education"
    assert criteria(excl(3, date(2011, 9, 4)))["H1"] == ""
    assert criteria(excl(1, date(2011, 10, 1), "PERMANENT"))["H1"] == "education"


def asb(when: date) -> list[dict[str, object]]:
    return [
        {
            "kind": "asb_interventions",
            "person": "a",
            "dob": ADULT,
            "event_type": "ASBO",
            "event_date": when,
        }
    ]


def test_twelve_month_window_opens_and_closes() -> None:
    assert months_before(R, 12) == date(2011, 6, 1)
    assert criteria(asb(date(2011, 6, 1)))["H1"] == ""  # R - 12 months: outside
    assert criteria(asb(date(2011, 6, 2)))["H1"] == "crime"  # first day inside
    assert criteria(asb(R))["H1"] == "crime"  # the reference date itself
    assert criteria(asb(date(2012, 6, 2)))["H1"] == ""  # after the reference date
    recs, members = records(asb(date(2011, 6, 1)))
    note = evaluate(PHASE1, recs, members, R).indicator_results.filter(
        pl.col("indicator") == "asb_intervention"
    )["note"][0]
    assert note == "falls 1 day(s) outside the 12-month window"


def offence(dob: date, when: date) -> list[dict[str, object]]:
    return [
        {
            "kind": "youth_offending",
            "person": "y",
            "dob": dob,
            "event_type": "THEFT",
            "event_date": when,
        }
    ]


def test_offence_at_17_counts_at_18_does_not() -> None:
    assert (
        criteria(offence(date(1994, 3, 1), date(2012, 2, 28)))["H1"] == "crime"
    )  # 17 the day before
    assert criteria(offence(date(1994, 3, 1), date(2012, 3, 1)))["H1"] == ""  # 18th birthday


def test_a_youth_disposal_proves_an_offender_without_a_date_of_birth_a_child() -> None:
    # no record of the person carries a date of birth: the age at the offence is unknown unless
    # the disposal is one only a child can be given
    when = date(2012, 2, 1)
    row = {**offence(date(1997, 6, 3), when)[0], "dob": None}
    assert criteria([{**row, "outcome": "YRO"}])["H1"] == "crime"
    assert criteria([{**row, "outcome": "REFERRAL_ORDER"}])["H1"] == "crime"
    assert criteria([{**row, "outcome": "CONVICTION"}])["H1"] == ""
    assert criteria([row])["H1"] == ""
    # a date that makes the offender 18 stands against the disposal (the date is evidence)
    adult = {**row, "dob": date(1990, 6, 3), "outcome": "YRO"}
    assert criteria([adult])["H1"] == ""


def test_a_keying_slip_in_the_year_does_not_age_a_youth_offender() -> None:
    # two records of one person, 1997 and 1979 (the year's digits transposed): a tie the usual
    # date breaks to the earliest, 32 at the offence; the slip's other reading makes them 14
    true_dob, slip = date(1997, 6, 3), date(1979, 6, 3)
    when = date(2012, 2, 1)
    census_row = {**offence(true_dob, when)[0], "kind": "asb_incidents", "event_type": "NOISE"}
    assert criteria([*offence(slip, when), census_row])["H1"] == "crime"
    assert criteria([*offence(true_dob, when), {**census_row, "dob": slip}])["H1"] == "crime"
    # a date that is not a slip of the other (1979 / 1996) is a disagreement, not a slip
    assert (
        criteria([*offence(date(1979, 6, 3), when), {**census_row, "dob": date(1996, 2, 9)}])["H1"]
        == ""
    )
    # one record alone: its date is all there is
    assert criteria(offence(slip, when))["H1"] == ""


def test_a_child_whose_usual_date_is_a_slip_is_still_a_child() -> None:
    # two census rows say 1979 (the year's digits transposed), one says 1997: the usual date
    # makes the pupil 32; the slip's other reading makes them 14, and the absence counts
    rows = census("k", [19, 19, 19], [127, 127, 126])
    for row, dob in zip(
        rows, [date(1979, 7, 17), date(1979, 7, 17), date(1997, 7, 17)], strict=True
    ):
        row["dob"] = dob
    assert criteria(rows)["H1"] == "education"
    # every record says 1979: a pupil of 32 is impossible for a school census, 1997 is not
    for row in rows:
        row["dob"] = date(1979, 7, 17)
    assert criteria(rows)["H1"] == "education"
    # 1985 (transposed: 1958) has no reading that makes a pupil: the date stands
    for row in rows:
        row["dob"] = date(1985, 7, 17)
    assert criteria(rows)["H1"] == ""


def test_a_claimant_whose_only_date_is_a_slip_is_an_adult() -> None:
    # the claim's only date says 1997 (14 at the reference date); a claimant is 16 or over,
    # and 1979 makes them 32: the claim counts for work
    rows = claim(date(2011, 1, 1), None)
    rows[0]["dob"] = date(1997, 4, 19)
    assert criteria(rows)["H1"] == "work"
    rows[0]["dob"] = date(1996, 4, 19)  # 1969 too: either reading fits a claimant, none is taken
    assert criteria(rows)["H1"] == ""
    rows[0]["relationship"] = "dependant"  # a dependant on a claim is a child: no reading
    rows[0]["dob"] = date(1997, 4, 19)
    assert criteria(rows)["H1"] == ""


def claim(start: date, end: date | None, benefit: str = "JSA") -> list[dict[str, object]]:
    return [
        {
            "kind": "benefits",
            "person": "a",
            "dob": ADULT,
            "event_type": benefit,
            "event_date": start,
            "end_date": end,
        }
    ]


def test_benefit_open_at_reference_date() -> None:
    assert criteria(claim(date(2010, 1, 1), None))["H1"] == "work"
    assert criteria(claim(date(2010, 1, 1), R))["H1"] == "work"  # ends on R: still on it
    assert criteria(claim(date(2010, 1, 1), date(2012, 5, 31)))["H1"] == ""  # ended the day before
    assert criteria(claim(date(2010, 1, 1), None, "HB"))["H1"] == ""  # not an out-of-work benefit
    assert criteria(claim(date(2012, 6, 2), None))["H1"] == ""  # starts after R


def test_entry_two_criteria_and_local_filter_switch(tmp_path: Path) -> None:
    rows = claim(date(2010, 1, 1), None) + excl(3)
    recs, members = records(rows)
    ev = evaluate(PHASE1, recs, members, R)
    assert ev.cohort.select("combination", "in_cohort").rows() == [("education+work", True)]
    strict = PHASE1.path.read_text().replace(
        "take_all_at_least = true", "take_all_at_least = false"
    )
    path = tmp_path / "strict.toml"
    path.write_text(strict)
    strict_set = load_rule_set(path)
    assert evaluate(strict_set, recs, members, R).cohort["in_cohort"].to_list() == [False]
    with_filter = rows + [
        {
            "kind": "social_care",
            "person": "k",
            "dob": CHILD,
            "event_type": "CPP",
            "event_date": date(2011, 1, 1),
        }
    ]
    recs2, members2 = records(with_filter)
    assert evaluate(strict_set, recs2, members2, R).cohort.select(
        "local_filter", "in_cohort"
    ).rows() == [(True, True)]


def test_evidence_rows_and_summary_shape() -> None:
    rows = claim(date(2010, 1, 1), None) + excl(3) + asb(date(2012, 1, 1))
    recs, members = records(rows)
    ev = evaluate(PHASE1, recs, members, R)
    assert ev.evidence.select("criterion", "indicator", "source", "row").rows() == [
        ("crime", "asb_intervention", "asb_interventions", 5),
        ("education", "fixed_exclusions", "exclusions", 2),
        ("education", "fixed_exclusions", "exclusions", 3),
        ("education", "fixed_exclusions", "exclusions", 4),
        ("work", "out_of_work_benefit", "benefits", 1),
    ]
    assert summarise(ev, 7) == {
        "run_id": 7,
        "households_assessed": 1,
        "cohort": {"total": 1, "by_count": {"3": 1}, "by_combination": {"crime+education+work": 1}},
    }


def test_unknown_codes_are_counted() -> None:
    recs, members = records(claim(date(2010, 1, 1), None, "XYZ") * 1)
    ev = evaluate(PHASE1, recs, members, R)
    assert ev.unknown_codes == ["benefits: 1 row(s) with type 'XYZ' match no rule"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("window_months = 12\n\n[indicators.asb", "window_months = 0\n\n[indicators.asb"),
            "indicators.youth_offence.window_months: must be at least 1 (got 0): an impossible window.",
        ),
        (
            ("threshold_pct = 15", "threshold_pct = 150"),
            "indicators.unauthorised_absence.threshold_pct: must be above 0 and at most 100",
        ),
        (("at_least = 2", "at_least = 5"), "entry.at_least: must be between 1 and 3"),
        (
            ('kind = "benefits"', 'kind = "benefit"'),
            "indicators.out_of_work_benefit.kind: 'benefit' is not a source kind",
        ),
        (
            ("min_count = 3", "min_count = 3\nminimum = 4"),
            "indicators.fixed_exclusions.minimum: unknown key",
        ),
    ],
)
def test_rule_set_validation(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = PHASE1.path.read_text()
    assert change[0] in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(change[0], change[1], 1))
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_rule_set(path)


def test_missing_source_kind_is_reported_by_criterion() -> None:
    assert check_sources(PHASE1, {"benefits", "school_census", "exclusions"}) == [
        "criterion 'crime' cannot be met: no source of kind asb_interventions, youth_offending."
    ]


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 130), st.integers(0, 60))
def test_unrelated_household_never_changes_a_result_and_threshold_is_monotone(
    unauth: int, other: int
) -> None:
    mine = census("k", [unauth, 0, 0], [130, 130, 130])
    alone = criteria(mine)["H1"]
    together = criteria(mine + census("z", [other, 0, 0], [130, 130, 130], hh="H2"))["H1"]
    assert alone == together
    assert (alone == "education") == (unauth * 100 >= 390 * 15)


def test_small_council_truth_reproduced_with_true_links(small_council: tuple[Path, object]) -> None:
    from familymatch.ingest import ingest_project
    from familymatch.project import load_project

    out, _ = small_council
    recs = ingest_project(load_project(out / "familymatch.toml")).records
    truth = pl.read_parquet(out / "truth" / "records.parquet")
    ev = evaluate(PHASE1, recs, truth.select("record_id", "person_id", "household_id"), R)
    expected = json.loads((out / "truth" / "expected.json").read_text())["phase1"][
        "cohort_by_combination"
    ]
    got = summarise(ev, 0)["cohort"]["by_combination"]  # type: ignore[index]
    assert {k: got.get(k, 0) for k in expected} == expected
    near = json.loads((out / "truth" / "expected.json").read_text())["near_misses"]
    combos = dict(ev.cohort.select("household_id", "combination").iter_rows())
    for n in near:
        assert combos[n["household_id"]] == n["meets"], n["kind"]


def test_phase2_two_of_six_needs_a_dependent_child() -> None:
    phase2 = load_rule_set("phase2")
    assert sorted(phase2.criteria) == [
        "children_need_help",
        "crime",
        "domestic_abuse",
        "health",
        "school",
        "worklessness",
    ]
    adult_only = claim(date(2010, 1, 1), None) + [
        {
            "kind": "domestic_abuse",
            "person": "a",
            "dob": ADULT,
            "event_type": "DA_INCIDENT",
            "event_date": date(2012, 3, 1),
        }
    ]
    recs, members = records(adult_only)
    ev = evaluate(phase2, recs, members, R)
    assert ev.cohort.select("combination", "in_cohort").rows() == [
        ("domestic_abuse+worklessness", False)
    ]
    with_child = adult_only + [
        {
            "kind": "school_census",
            "person": "k",
            "dob": CHILD,
            "term": "2011/12-spring",
            "sessions_possible": 100,
            "sessions_authorised": 6,
            "sessions_unauthorised": 4,
        }
    ]
    recs, members = records(with_child)
    ev = evaluate(phase2, recs, members, R)
    # 10 of 100 sessions missed (authorised + unauthorised): exactly 10% meets the school problem
    assert ev.cohort.select("combination", "in_cohort").rows() == [
        ("domestic_abuse+school+worklessness", True)
    ]


def test_supporting_families_three_of_ten() -> None:
    sf = load_rule_set("supporting-families")
    assert len(sf.criteria) == 10 and sf.entry.at_least == 3
    two = claim(date(2010, 1, 1), None, "HB") + [
        {
            "kind": "health",
            "person": "a",
            "dob": ADULT,
            "event_type": "SUBSTANCE_MISUSE",
            "event_date": date(2012, 1, 1),
        },
        {"kind": "population", "person": "k", "dob": CHILD},
    ]
    recs, members = records(two)
    assert evaluate(sf, recs, members, R).cohort["in_cohort"].to_list() == [False]
    three = two + [
        {"kind": "discretionary", "person": "a", "dob": ADULT, "event_type": "HOUSING_WAITING"}
    ]
    recs, members = records(three)
    ev = evaluate(sf, recs, members, R)
    assert ev.cohort.select("combination", "in_cohort").rows() == [
        ("financial+housing+substance_use", True)
    ]


def test_codes_of_a_kind_with_an_unfiltered_indicator_are_not_unknown() -> None:
    sf = load_rule_set("supporting-families")
    recs, members = records(asb(date(2012, 1, 1)))
    assert evaluate(sf, recs, members, R).unknown_codes == []


def test_phase2_parent_living_apart_supplies_at_most_one_problem() -> None:
    """The children live with their mother (H1: school absence); their father lives elsewhere
    (H2) and is on their claim: he has an out-of-work benefit, a domestic abuse incident and
    a health contact. He may supply one problem to the children's household, not three."""
    phase2 = load_rule_set("phase2")
    assert phase2.entry.parent_apart_max_problems == 1
    rows = [
        {
            "kind": "school_census",
            "person": "k",
            "hh": "H1",
            "dob": CHILD,
            "term": "2011/12-spring",
            "sessions_possible": 100,
            "sessions_authorised": 8,
            "sessions_unauthorised": 4,
        },
        {
            "kind": "benefits",
            "person": "dad",
            "hh": "H2",
            "dob": ADULT,
            "event_type": "JSA",
            "event_date": date(2011, 1, 1),
        },
        {
            "kind": "domestic_abuse",
            "person": "dad",
            "hh": "H2",
            "dob": ADULT,
            "event_type": "DA_INCIDENT",
            "event_date": date(2012, 3, 1),
        },
        {
            "kind": "health",
            "person": "dad",
            "hh": "H2",
            "dob": ADULT,
            "event_type": "MENTAL_HEALTH",
            "event_date": date(2012, 2, 1),
        },
    ]
    recs, members = records(rows)
    apart = pl.DataFrame({"household_id": ["H1"], "person_id": ["dad"]})
    without = evaluate(phase2, recs, members, R)
    assert dict(without.cohort.select("household_id", "combination").iter_rows()) == {
        "H1": "school",
        "H2": "domestic_abuse+health+worklessness",
    }
    ev = evaluate(phase2, recs, members, R, apart_parents=apart)
    cohort = dict(ev.cohort.select("household_id", "combination").iter_rows())
    # the first of his problems in the rule set's order (crime, school, children_need_help,
    # worklessness, domestic_abuse, health)
    order = list(phase2.criteria)
    first = min(("domestic_abuse", "health", "worklessness"), key=order.index)
    assert first == "worklessness"
    assert cohort["H1"] == "+".join(sorted(["school", first]))
    assert ev.cohort.filter(pl.col("household_id") == "H1")["in_cohort"].to_list() == [True]
    assert cohort["H2"] == "domestic_abuse+health+worklessness"  # his own household unchanged
    h1 = ev.evidence.filter(pl.col("household_id") == "H1")
    assert set(h1["criterion"]) == {"entry", "school", first}  # his other rows prove nothing
    assert set(h1.filter(pl.col("person_id") == "dad")["criterion"]) == {first}
    # phase 1 does not count a parent living apart at all
    assert PHASE1.entry.parent_apart_max_problems is None
    p1 = evaluate(PHASE1, recs, members, R, apart_parents=apart)
    assert dict(p1.cohort.select("household_id", "combination").iter_rows())["H1"] == ""


def test_parent_apart_max_problems_is_validated(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[1] / "rules" / "phase2.toml").read_text()
    bad = tmp_path / "p2.toml"
    bad.write_text(text.replace("parent_apart_max_problems = 1", "parent_apart_max_problems = 9"))
    with pytest.raises(
        ConfigError, match=r"entry.parent_apart_max_problems: must be between 0 and 6"
    ):
        load_rule_set(bad)


def test_outcomes_filter_counts_proven_and_null_outcomes_only(tmp_path: Path) -> None:
    def offence(hh: str, outcome: str | None, when: date = date(2012, 3, 1)) -> dict[str, object]:
        return {
            "kind": "youth_offending",
            "person": hh,
            "hh": hh,
            "dob": CHILD,
            "event_date": when,
            "outcome": outcome,
        }

    recs, members = records(
        [
            offence("H1", "NFA"),
            offence("H1", "NOT_GUILTY", date(2012, 4, 1)),
            offence("H2", " caution "),
            offence("H3", None),
            offence("H4", "Warned"),
        ]
    )

    def met(rule_set: object) -> list[str]:
        ev = evaluate(rule_set, recs, members, R)  # type: ignore[arg-type]
        found = ev.indicator_results.filter(
            (pl.col("indicator") == "youth_offence") & pl.col("met")
        )
        return sorted(found["household_id"].to_list())

    assert met(PHASE1) == ["H2", "H3"]
    assert evaluate(PHASE1, recs, members, R).unknown_codes == [
        "youth_offending: 1 row(s) with outcome 'WARNED' (not an outcome code) never count"
    ]
    # the same rule set without the filter counts every offence
    text = (RULES_DIR / "phase1.toml").read_text().replace("outcomes = [", "# outcomes = [")
    unfiltered = load_rule_set(write(tmp_path / "p1.toml", text))
    assert met(unfiltered) == ["H1", "H2", "H3", "H4"]


def test_outcomes_must_be_outcome_codes(tmp_path: Path) -> None:
    text = (RULES_DIR / "phase1.toml").read_text()
    text = text.replace('"CONVICTION", "CAUTION"', '"CONVICTON"')
    with pytest.raises(ConfigError) as err:
        load_rule_set(write(tmp_path / "p1.toml", text))
    assert "p1.toml: indicators.youth_offence.outcomes: 'CONVICTON' is not an outcome code" in (
        err.value.message
    )


def council_terms(tmp_path: Path, autumn_start: str = "2011-09-01", extra: str = "") -> Path:
    text = (
        (RULES_DIR / "terms.toml")
        .read_text()
        .replace("start = 2011-09-05", f"start = {autumn_start}")
    )
    return write(tmp_path / "terms.toml", text + extra)


def test_a_councils_own_term_calendar_moves_the_term_windows(tmp_path: Path) -> None:
    terms = council_terms(tmp_path)
    proj = write(
        tmp_path / "familymatch.toml",
        '[project]\nreference_date = "2012-06-01"\nterms = "terms.toml"\n'
        '[[sources]]\nname = "x"\nkind = "exclusions"\npath = "x.csv"\n',
    )
    project = load_project(proj)
    assert project.terms == terms.resolve()
    excluded = {
        "kind": "exclusions",
        "person": "k",
        "dob": CHILD,
        "event_type": "PERMANENT",
        "event_date": date(2011, 9, 2),  # before the packaged autumn term, inside the council's
    }
    recs, members = records([excluded])
    packaged = evaluate(PHASE1, recs, members, R)
    council = evaluate(PHASE1, recs, members, R, calendar=project_calendar(project.terms))
    assert packaged.cohort["combination"].to_list() == [""]
    assert council.cohort["combination"].to_list() == ["education"]


@pytest.mark.parametrize(
    ("autumn_start", "extra", "message"),
    [
        ("2011-12-20", "", "term[6].end: is before start."),
        ("2011-07-01", "", "term[6]: overlaps 2010/11-summer."),
        ('"2011-09-01"', "", "term[6].start: must be a date"),
        (
            "2011-09-01",
            '[[term]]\nname = "2011/12-autumn"\nstart = 2030-01-01\nend = 2030-02-01\n',
            "term[24].name: '2011/12-autumn' appears twice.",
        ),
        (
            "2011-09-01",
            '[[term]]\nname = "Autumn 2030"\nstart = 2030-01-01\nend = 2030-02-01\n',
            "term[24].name: 'Autumn 2030' is not a term name like 2011/12-autumn.",
        ),
        (
            "2011-09-01",
            '[[term]]\nname = "2030/31-autumn"\nbegin = 2030-01-01\n',
            "term[24].begin: unknown key",
        ),
    ],
)
def test_term_calendar_errors_name_the_file_and_key(
    tmp_path: Path, autumn_start: str, extra: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_calendar(council_terms(tmp_path, autumn_start, extra))
    assert f"terms.toml: {message}" in err.value.message
