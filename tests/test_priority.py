"""Priority as configuration: validation names the file and key, the arithmetic is the one the
file describes, and every family's breakdown adds up to its score."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from familymatch.errors import ConfigError
from rules.priority import (
    DEFAULT_PRIORITY,
    Factor,
    check_against,
    family_areas,
    load_priority,
    score_families,
)
from rules.ruleset import load_rule_set

R = date(2012, 6, 1)


def test_the_shipped_file_loads_and_fits_phase1() -> None:
    cfg = load_priority()
    check_against(cfg, load_rule_set("phase1"))
    assert cfg.name == "year-one"
    assert list(cfg.factors)[:2] == ["criteria_met", "all_criteria"]
    assert cfg.factors["looked_after_sibling"].event_types == ("LAC",)
    assert cfg.teams["East"] == "East team"
    assert cfg.highlight_top == 10
    with pytest.raises(ConfigError, match=r"priority.rule_set: is written for rule set 'phase1'"):
        check_against(cfg, load_rule_set("phase2"))


def test_factor_arithmetic_is_the_documented_formula() -> None:
    absence = Factor(
        "a", "absence above 15%", "value", points=2, above=15, every=5, cap=10, unit="%"
    )
    assert [absence.score(q) for q in (14.9, 15, 19.9, 20, 27.5, 34, 60)] == [0, 0, 0, 2, 4, 6, 10]
    assert absence.explain(27.5) == "+4 absence above 15% (27.5%: 2 x 2)"
    assert absence.explain(60) == "+10 absence above 15% (60%: 9 x 2 = 18, at most 10)"
    assert absence.rule() == "absence above 15%: 2 points for each 5% above 15%, at most 10"
    rows = Factor("r", "ASB interventions", "evidence_rows", points=3, cap=12)
    assert [rows.score(q) for q in (0, 1, 4, 5)] == [0, 3, 12, 12]
    assert rows.explain(2) == "+6 ASB interventions (2 x 3)"
    flag = Factor("f", "child protection plan", "met", points=15)
    assert (flag.score(0), flag.score(1), flag.explain(1)) == (0, 15, "+15 child protection plan")


BAD = [
    # (text in rules/priority.toml, replaced by, the message)
    ("[priority]\n", "x = 1\n[priority]\n", "priority.toml: x: unknown key"),
    ("points = 10\n", "points = 'ten'\n", "factors.criteria_met.points: must be a whole number"),
    ("points = 10\n", "points = 2.5\n", "factors.criteria_met.points: must be a whole number"),
    ("points = 10\n", "points = 10\npointz = 1\n", "factors.criteria_met.pointz: unknown key"),
    (
        'measure = "criteria_met"\n',
        'measure = "criteria"\n',
        "factors.criteria_met.measure: 'criteria' is not one of",
    ),
    (
        'measure = "criteria_met"\n',
        'measure = "criteria_met"\nindicators = ["youth_offence"]\n',
        "factors.criteria_met.indicators: does not apply to measure 'criteria_met'",
    ),
    (
        "within_months = 3\n",
        "",
        "factors.recent.within_months: is required for measure 'recent_rows'",
    ),
    ('area = "neighbourhood"\n', 'area = "ward"\n', "factors.area.area: must be one of"),
    ("every = 12\n", "every = 0\n", "factors.worklessness.every: must be above 0"),
    ("cap = 12\n", "cap = -1\n", "factors.fixed_exclusions.cap: must be at least 0"),
    ("highlight_top = 10", "highlight_top = '10'", "lists.highlight_top: must be a whole number"),
    ('"East" = "East team"\n', '"East" = 3\n', "teams.East: must be non-empty text"),
    ("[factors.area]\n", "[factors.area]\nnope = true\n", "factors.area.nope: unknown key"),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD)
def test_validation_names_file_and_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = DEFAULT_PRIORITY.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "priority.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_priority(path)
    assert str(path) in exc.value.message
    assert message in exc.value.message


def test_unknown_indicator_and_malformed_toml(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        '[factors.x]\nmeasure = "met"\nindicators = ["truancy"]\npoints = 1\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"p.toml: factors.x.indicators: indicator 'truancy'"):
        check_against(load_priority(path), load_rule_set("phase1"))
    path.write_text("[factors.x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"p.toml: is not valid TOML"):
        load_priority(path)
    path.write_text("[priority]\nname = 'empty'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"p.toml: factors: at least one factor is required"):
        load_priority(path)
    with pytest.raises(ConfigError, match=r"nowhere.toml: priority file not found"):
        load_priority(tmp_path / "nowhere.toml")


def _frames() -> dict[str, pl.DataFrame]:
    """Three cohort households and one outside it, with results and evidence written by hand."""
    cohort = pl.DataFrame(
        {
            "household_id": ["H1", "H2", "H3", "H4"],
            "n_criteria": [3, 2, 2, 1],
            "combination": ["crime+education+work", "education+work", "crime+work", "work"],
            "local_filter": [True, True, False, False],
            "in_cohort": [True, True, True, False],
        }
    )
    results = pl.DataFrame(
        {
            "household_id": ["H1", "H1", "H2", "H2", "H3", "H2", "H4"],
            "criterion": ["education", "crime", "education", "entry", "crime", "work", "work"],
            "indicator": [
                "fixed_exclusions",
                "asb_intervention",
                "unauthorised_absence",
                "child_in_need",
                "asb_intervention",
                "out_of_work_benefit",
                "out_of_work_benefit",
            ],
            "met": [True, True, True, True, True, True, True],
            "value": [4.0, 2.0, 27.46, 1.0, 1.0, 1.0, 1.0],
            "threshold": [3.0, 1.0, 15.0, 1.0, 1.0, 1.0, 1.0],
            "note": [None] * 7,
        }
    )
    ev = [
        # household, criterion, indicator, record, date, value
        ("H1", "crime", "asb_intervention", "asb:1", date(2012, 4, 2), "ASBO"),
        ("H1", "crime", "asb_intervention", "asb:2", date(2011, 9, 1), "ABC"),
        ("H1", "education", "fixed_exclusions", "ex:1", date(2012, 3, 2), "FIXED"),
        ("H1", "education", "fixed_exclusions", "ex:2", date(2012, 1, 2), "FIXED"),
        ("H1", "education", "fixed_exclusions", "ex:3", date(2011, 11, 2), "FIXED"),
        ("H1", "education", "fixed_exclusions", "ex:4", date(2011, 10, 2), "FIXED"),
        # one indicator serving two criteria repeats its row: counted once
        ("H3", "crime", "asb_intervention", "asb:3", date(2012, 5, 30), "ASBI"),
        ("H3", "other", "asb_intervention", "asb:3", date(2012, 5, 30), "ASBI"),
        ("H2", "entry", "child_in_need", "sc:1", date(2011, 2, 1), "LAC"),
        ("H2", "entry", "child_in_need", "sc:2", date(2011, 2, 1), "CIN"),
        ("H2", "work", "out_of_work_benefit", "b:1", date(2009, 6, 2), "ESA"),
        ("H2", "work", "out_of_work_benefit", "b:2", date(2010, 1, 1), "JSA"),
        ("H4", "work", "out_of_work_benefit", "b:3", date(2001, 1, 1), "JSA"),
    ]
    evidence = pl.DataFrame(
        ev,
        schema=["household_id", "criterion", "indicator", "record_id", "date", "value"],
        orient="row",
    )
    households = pl.DataFrame(
        {
            "household_id": ["H1", "H2", "H3", "H4"],
            "family_ref": ["F000001", "F000002", "F000003", "F000004"],
            "address": ["1 A Road", "2 A Road", "3 B Road", "4 B Road"],
            "postcode": ["pl1 1aa", "PL1 1AB", "PL9 9ZZ", "PL1 1AA"],
        }
    )
    lookup = pl.DataFrame(
        {
            "postcode": ["PL1 1AA", "PL1 1AB"],
            "lsoa": ["E1", "E1"],
            "neighbourhood": ["Stoke", "Stoke"],
            "locality": ["West", "West"],
        }
    )
    return {
        "cohort": cohort,
        "results": results,
        "evidence": evidence,
        "areas": family_areas(households, lookup),
    }


def test_scores_by_hand() -> None:
    f = _frames()
    sc = score_families(load_priority(), f["cohort"], f["results"], f["evidence"], f["areas"], R, 3)
    fam = {r["household_id"]: r for r in sc.families.iter_rows(named=True)}
    assert set(fam) == {"H1", "H2", "H3"}  # H4 is not in the cohort
    # H1: 3 criteria (30) + all three (20) + 4 fixed exclusions (8) + 2 ASB interventions (6)
    #     + recent rows after 2012-03-01: ex:1, asb:1 (2); area: 2 families in Stoke (0)
    assert fam["H1"]["score"] == 30 + 20 + 8 + 6 + 2
    # H2: 2 criteria (20) + absence 27.5% -> floor(12.5 / 5) = 2 units (4) + LAC (12) + CIN (6)
    #     + 35 months on benefit since 2009-06-02 -> 2 whole years (4)
    assert fam["H2"]["score"] == 20 + 4 + 12 + 6 + 4
    # H3: 2 criteria (20) + 1 ASB intervention counted once (3) + recent (1); no postcode in
    #     the lookup, so no area points
    assert fam["H3"]["score"] == 20 + 3 + 1
    assert fam["H3"]["locality"] == "not in lookup"
    assert fam["H2"]["breakdown"].split("\n") == [
        "+20 criteria met (2 x 10)",
        "+4 each 5 points of unauthorised absence above 15% (27.5%: 2 x 2)",
        "+4 each full year on out-of-work benefit (35 months: 2 x 2)",
        "+12 a child looked after (a sibling in care)",
        "+6 a child in need",
    ]
    # every breakdown adds up to its score, and the long frame holds every factor of every family
    for row in sc.families.iter_rows(named=True):
        assert (
            sum(int(x) for x in re.findall(r"^([+-]\d+)", row["breakdown"], re.M)) == row["score"]
        )
    assert sc.factors.height == 3 * len(load_priority().factors)
    q = sc.factors.filter(pl.col("household_id") == "H1", pl.col("factor") == "area")
    assert q.select("quantity", "points").row(0) == (2.0, 0)


def test_small_council_breakdowns_add_up(small_council: tuple[Path, object]) -> None:
    from familymatch.pipeline import link_project
    from familymatch.project import load_project
    from rules.engine import evaluate
    from rules.report import load_lookup

    out, _ = small_council
    proj = load_project(out / "familymatch.toml")
    linked = link_project(proj, proj.reference_date)
    rs = load_rule_set("phase1")
    ev = evaluate(rs, linked.std, linked.membership, proj.reference_date)
    households = linked.households.households.with_columns(
        pl.col("household_id").alias("family_ref")
    )
    sc = score_families(
        load_priority(),
        ev.cohort,
        ev.indicator_results,
        ev.evidence,
        family_areas(households, load_lookup(proj.postcode_lookup)),
        proj.reference_date,
        3,
    )
    assert sc.families.height == ev.cohort["in_cohort"].sum() > 5
    totals = sc.factors.group_by("household_id").agg(pl.col("points").sum())
    joined = sc.families.join(totals, on="household_id")
    assert (joined["score"] == joined["points"]).all()
    three = sc.families.filter(pl.col("n_criteria") == 3)
    two = sc.families.filter(pl.col("n_criteria") == 2)
    # all-three families start 30 points ahead of two-criteria ones
    assert three["score"].min() >= 50 and two["score"].min() >= 20  # type: ignore[operator]
