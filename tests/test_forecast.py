"""The income forecast (issue #8): Plymouth 2012 to the penny, fee bands, quarters, actuals,
validation, the command and the workbook.

Plymouth 2012 [S28]: 745 indicative families, 5 of 6 funded = 620 (745 x 5/6 = 620.83, rounded
down to a whole family), £4,000 maximum each = £2,480,000; year-one attachment fee £3,200 = 80%
of the maximum; 206 families in year one, the other 414 spread as 207 + 207. Within a year the
families are attached evenly by month, odd ones first: 206 = 18, 18, then 17 x 10; 207 = 18, 18,
18, then 17 x 9.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from claims.forecast import (
    ASSUMPTIONS_FILE,
    add_months,
    build_forecast,
    cap_profile,
    financial_year,
    load_assumptions,
    planned_profile,
    quarter,
    quarter_start,
    reforecast_profile,
    year2_fee_share,
)
from claims.forecast_workbook import write_forecast_workbook
from claims.framework import FeeBands, load_framework
from cli import app
from familymatch.errors import ConfigError, FamilyMatchError

D = Decimal
runner = CliRunner()
SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "sample"


@pytest.fixture(scope="module")
def phase1():  # type: ignore[no-untyped-def]
    return load_framework("phase1")


def _assumptions(tmp_path: Path, text: str, name: str = "a.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


PLAN_ONLY = """
[phase1.attachments]
planned = {{ {planned} }}
{agreed}
[phase1.scenarios.central]
success = {{ R1 = "{r1}", R2 = "{r2}", R3 = "{r3}" }}
lag_months = {{ R1 = {l1}, R2 = {l2}, R3 = {l3} }}
"""


def _plan(
    tmp_path: Path,
    planned: str = '"2012/13" = 206, "2013/14" = 207, "2014/15" = 207',
    agreed: str = "",
    r1: str = "0.60",
    r2: str = "0.10",
    r3: str = "0.07",
    l1: str = "12",
    l2: str = "6",
    l3: str = "12",
) -> Path:
    return _assumptions(
        tmp_path,
        PLAN_ONLY.format(planned=planned, agreed=agreed, r1=r1, r2=r2, r3=r3, l1=l1, l2=l2, l3=l3),
    )


# --------------------------------------------------------------------------- Plymouth


def test_plymouth_2012_framework_figures(phase1) -> None:  # type: ignore[no-untyped-def]
    assert phase1.indicative_families == 745
    assert phase1.funded_share == Fraction(5, 6)
    assert phase1.funded_families() == 620  # 745 x 5/6 = 620.83
    assert phase1.max_per_family == D("4000.00")
    assert phase1.years[0].attachment_fee == D("0.80") * phase1.max_per_family == D("3200.00")
    assert phase1.last_claim_day == date(2015, 5, 31)


def test_plymouth_central_forecast_to_the_penny(phase1) -> None:  # type: ignore[no-untyped-def]
    a = load_assumptions(None, phase1)
    assert a.planned == {"2012/13": 206, "2013/14": 207, "2014/15": 207}
    fc = build_forecast(phase1, a)
    assert fc.funded == 620
    assert fc.maximum == D("2480000.00")  # 620 x 4,000
    central = fc.scenarios["central"]
    years = {r["financial_year"]: r for r in central.years.to_dicts()}
    assert list(years) == ["2012/13", "2013/14", "2014/15", "2015/16"]

    # attachment fees: families x the fee of the year attached
    assert years["2012/13"]["attachment_fees"] == 206 * D("3200") == D("659200.00")
    assert years["2013/14"]["attachment_fees"] == 207 * D("2400") == D("496800.00")
    assert years["2014/15"]["attachment_fees"] == 207 * D("1600") == D("331200.00")
    assert central.fees == D("1487200.00")

    # R1, 60%, 12 months after attachment, at the amount of the year attached; year three's
    # families are paid only if attached in April or May 2014 (18 + 18 = 36): the last payment
    # day is 31 May 2015
    assert years["2013/14"]["R1"] == 206 * D("0.60") * 700 == D("86520.00")
    assert years["2014/15"]["R1"] == 207 * D("0.60") * 1500 == D("186300.00")
    assert years["2015/16"]["R1"] == 36 * D("0.60") * 2300 == D("49680.00")
    assert years["2012/13"]["R1"] == D("0.00")
    # R3, 7%, 12 months
    assert years["2013/14"]["R3"] == 206 * D("0.07") * 800 == D("11536.00")
    assert years["2014/15"]["R3"] == 207 * D("0.07") * 1600 == D("23184.00")
    assert years["2015/16"]["R3"] == 36 * D("0.07") * 2400 == D("6048.00")
    # R2, 10%, 6 months, £100: year one's April-September families (104) in 2012/13, its
    # October-March families (102) and year two's April-September (105) in 2013/14, ...
    assert years["2012/13"]["R2"] == 104 * D("0.10") * 100 == D("1040.00")
    assert years["2013/14"]["R2"] == (102 + 105) * D("0.10") * 100 == D("2070.00")
    assert years["2014/15"]["R2"] == (102 + 105) * D("0.10") * 100 == D("2070.00")
    assert years["2015/16"]["R2"] == (17 + 17) * D("0.10") * 100 == D("340.00")

    assert central.results == D("368788.00")
    assert central.total == D("1855988.00")
    assert [years[y]["total"] for y in years] == [
        D("660240.00"),
        D("596926.00"),
        D("542754.00"),
        D("56068.00"),
    ]
    assert years["2015/16"]["cumulative"] == central.total
    assert years["2014/15"]["maximum_cumulative"] == fc.maximum
    # not paid: year three's June 2014 - March 2015 families (171) for R1 and R3, and its
    # December - March families (68) for R2
    assert (
        central.not_paid
        == 171 * (D("0.60") * 2300 + D("0.07") * 2400) + 68 * D("0.10") * 100
        == D("265388.00")
    )
    # never more than the maximum in any scenario
    assert all(sf.total <= fc.maximum for sf in fc.scenarios.values())
    assert [sf.total for sf in fc.scenarios.values()] == [
        D("1641509.00"),
        D("1855988.00"),
        D("2085573.00"),
    ]


def test_all_funded_families_in_year_one_earn_80_percent_of_the_maximum(
    tmp_path: Path,
    phase1,  # type: ignore[no-untyped-def]
) -> None:
    plan = _plan(tmp_path, '"2012/13" = 620', r1="1", r2="1", r3="0", l1="0", l2="0")
    fc = build_forecast(phase1, load_assumptions(plan, phase1))
    sf = fc.scenarios["central"]
    assert sf.fees == 620 * D("3200") == D("1984000.00") == D("0.80") * fc.maximum
    # every family paid R1 and R2 at once: exactly the maximum, 620 x (3,200 + 700 + 100)
    assert sf.results == 620 * (D("700") + D("100")) == D("496000.00")
    assert sf.total == fc.maximum == D("2480000.00")


def test_amounts_are_decimals_never_floats(phase1) -> None:  # type: ignore[no-untyped-def]
    fc = build_forecast(phase1, load_assumptions(None, phase1))
    for sf in fc.scenarios.values():
        for frame in (sf.quarters, sf.years):
            for col, dtype in frame.schema.items():
                if col not in ("financial_year", "quarter", "quarter_start", "families"):
                    assert dtype == pl.Decimal(38, 2), col
            assert not any(dt in (pl.Float32, pl.Float64) for dt in frame.dtypes)


# --------------------------------------------------------------------------- fee bands


@pytest.mark.parametrize(
    ("worked", "agreed", "share", "band"),
    [
        (75, 100, D(1), "full"),  # exactly 75%
        (74, 100, D("0.5"), "half"),
        (33, 100, D("0.5"), "half"),  # exactly 33%
        (32, 100, D(0), "withheld"),
        (3, 4, D(1), "full"),
        (155, 206, D(1), "full"),  # 75.24%
        (154, 206, D("0.5"), "half"),  # 74.76%
        (68, 206, D("0.5"), "half"),  # 33.01%
        (67, 206, D(0), "withheld"),  # 32.52%
        (0, 206, D(0), "withheld"),
        (300, 206, D(1), "full"),
    ],
)
def test_year_two_fee_bands(worked: int, agreed: int, share: Decimal, band: str) -> None:
    assert year2_fee_share(worked, agreed, FeeBands(D("0.75"), D("0.33"))) == (share, band)


def test_year_two_fees_follow_year_one_delivery(tmp_path: Path, phase1) -> None:  # type: ignore[no-untyped-def]
    planned = '"2012/13" = 154, "2013/14" = 207, "2014/15" = 207'
    half = build_forecast(
        phase1, load_assumptions(_plan(tmp_path, planned, "agreed_first_year = 206"), phase1)
    )
    assert half.year2 is not None and (half.year2.band, half.year2.worked_with) == ("half", 154)
    years = {r["financial_year"]: r for r in half.scenarios["central"].years.to_dicts()}
    assert years["2013/14"]["attachment_fees"] == 207 * D("2400") / 2 == D("248400.00")
    assert years["2014/15"]["attachment_fees"] == D("331200.00")  # year three unaffected

    planned = '"2012/13" = 67, "2013/14" = 207, "2014/15" = 207'
    withheld = build_forecast(
        phase1, load_assumptions(_plan(tmp_path, planned, "agreed_first_year = 206"), phase1)
    )
    years = {r["financial_year"]: r for r in withheld.scenarios["central"].years.to_dicts()}
    assert years["2013/14"]["attachment_fees"] == D("0.00")


# --------------------------------------------------------------------------- calendar


def test_financial_years_and_quarters() -> None:
    assert financial_year(date(2013, 3, 31)) == "2012/13"
    assert financial_year(date(2013, 4, 1)) == "2013/14"
    assert financial_year(date(1999, 5, 1)) == "1999/00"
    assert [quarter(date(2012, m, 15)) for m in range(1, 13)] == [
        4,
        4,
        4,
        1,
        1,
        1,
        2,
        2,
        2,
        3,
        3,
        3,
    ]
    assert quarter_start(date(2013, 2, 15)) == date(2013, 1, 1)
    assert quarter_start(date(2012, 6, 30)) == date(2012, 4, 1)
    assert add_months(date(2012, 11, 20), 3) == date(2013, 2, 1)
    assert add_months(date(2013, 1, 1), -1) == date(2012, 12, 1)


def test_quarters_add_up_to_years(phase1) -> None:  # type: ignore[no-untyped-def]
    fc = build_forecast(phase1, load_assumptions(None, phase1))
    q = fc.scenarios["central"].quarters
    assert q.height == 13  # 2012/13 Q1 to 2015/16 Q1 (the last payment, May 2015)
    first = q.row(0, named=True)
    assert (first["financial_year"], first["quarter"], first["families"]) == ("2012/13", "Q1", 53)
    assert first["attachment_fees"] == 53 * D("3200") == D("169600.00")
    assert q["families"].to_list()[:5] == [53, 51, 51, 51, 54]
    for col in ("attachment_fees", "R1", "R2", "R3", "total"):
        by_q = q.group_by("financial_year", maintain_order=True).agg(pl.col(col).sum())
        assert by_q[col].to_list() == fc.scenarios["central"].years[col].to_list()
    assert q["cumulative"][-1] == fc.scenarios["central"].total
    assert q["total"].to_list() == [
        a + b for a, b in zip(q["attachment_fees"], q["results"], strict=True)
    ]


def test_planned_profile_spreads_odd_families_first(phase1) -> None:  # type: ignore[no-untyped-def]
    p = planned_profile(phase1, load_assumptions(None, phase1))
    assert p.height == 36
    assert p["families"].to_list()[:13] == [18, 18] + [17] * 10 + [18]
    assert p["families"].sum() == 620


def test_cap_profile_keeps_the_funded_families_first() -> None:
    p = pl.DataFrame(
        {"month": [date(2012, 4, 1), date(2012, 5, 1), date(2012, 6, 1)], "families": [5, 5, 5]}
    )
    assert cap_profile(p, 7)["families"].to_list() == [5, 2, 0]


# --------------------------------------------------------------------------- actuals


def _attachments(days: list[date]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "family_ref": [f"F{i:05d}" for i in range(len(days))],
            "key_worker": ["KW"] * len(days),
            "team": [None] * len(days),
            "attached_on": days,
        },
        schema={
            "family_ref": pl.String,
            "key_worker": pl.String,
            "team": pl.String,
            "attached_on": pl.Date,
        },
    )


def _claims(rows: list[tuple[str, str, str, str, date]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "family_ref": pl.String,
            "result": pl.String,
            "amount": pl.String,
            "programme_year": pl.String,
            "submitted_on": pl.Date,
        },
        orient="row",
    )


def test_actuals_beside_the_forecast(phase1) -> None:  # type: ignore[no-untyped-def]
    attachments = _attachments(
        [date(2012, 5, 10), date(2012, 5, 20), date(2012, 7, 1), date(2013, 5, 1)]
    )
    claims = _claims(
        [
            ("F00000", "R1", "700.00", "2012/13", date(2013, 6, 28)),
            ("F00001", "R3", "800.00", "2012/13", date(2013, 7, 2)),
        ]
    )
    fc = build_forecast(phase1, load_assumptions(None, phase1), None, attachments, claims)
    assert fc.actuals_to == date(2013, 7, 2)
    assert fc.actual_quarters is not None and fc.actual_years is not None
    aq = {(r["financial_year"], r["quarter"]): r for r in fc.actual_quarters.to_dicts()}
    assert aq[("2012/13", "Q1")]["attachment_fees"] == 2 * D("3200") == D("6400.00")
    assert aq[("2012/13", "Q2")]["attachment_fees"] == D("3200.00")
    # 3 of the 206 agreed year-one families attached in year one: year-two fees withheld
    assert aq[("2013/14", "Q1")]["families"] == 1
    assert aq[("2013/14", "Q1")]["attachment_fees"] == D("0.00")
    assert aq[("2013/14", "Q1")]["R1"] == D("700.00")
    assert aq[("2013/14", "Q2")]["R3"] == D("800.00")
    assert any("withheld" in n for n in fc.notes)

    by_year = fc.comparison("central", "year")
    assert by_year is not None
    rows = {r["financial_year"]: r for r in by_year.to_dicts()}
    assert list(rows) == ["2012/13", "2013/14"]  # to the latest record only
    assert rows["2012/13"]["total_actual"] == D("9600.00")
    assert rows["2012/13"]["total_forecast"] == D("660240.00")
    assert rows["2012/13"]["total_variance"] == D("-650640.00")
    q = fc.scenarios["central"].quarters.filter(
        pl.col("financial_year") == "2013/14", pl.col("quarter").is_in(["Q1", "Q2"])
    )
    assert rows["2013/14"]["total_forecast"] == q["total"].sum()
    assert rows["2013/14"]["total_variance"] == D("1500.00") - q["total"].sum()


def test_before_year_one_ends_no_band_is_named(phase1) -> None:  # type: ignore[no-untyped-def]
    fc = build_forecast(
        phase1, load_assumptions(None, phase1), None, _attachments([date(2012, 9, 1)]), None
    )
    assert fc.notes == [
        "year one is not over: 1 families attached against the 206 agreed for year one so far."
    ]


def test_claims_only_and_unknown_results(phase1) -> None:  # type: ignore[no-untyped-def]
    a = load_assumptions(None, phase1)
    claims = _claims([("F1", "R2", "100.00", "2012/13", date(2013, 1, 5))])
    fc = build_forecast(phase1, a, None, _attachments([]), claims)
    assert fc.actual_quarters is not None
    assert fc.actual_quarters["total"].sum() == D("100.00")
    bad = _claims([("F1", "employment", "800.00", "2015/16", date(2016, 1, 5))])
    with pytest.raises(FamilyMatchError, match="employment, which framework phase1"):
        build_forecast(phase1, a, None, None, bad)


def test_recorded_attachments_then_the_rest_of_the_plan(phase1) -> None:  # type: ignore[no-untyped-def]
    a = load_assumptions(None, phase1)
    attachments = _attachments([date(2012, 5, 10), date(2012, 5, 20), date(2012, 7, 1)])
    p = reforecast_profile(phase1, a, attachments)
    months = dict(p.iter_rows())
    assert months[date(2012, 5, 1)] == 2 and months[date(2012, 7, 1)] == 1
    assert date(2012, 4, 1) not in months and date(2012, 6, 1) not in months
    # 206 - 3 = 203 over August to March: 26, 26, 26, then 25 x 5
    assert [months[add_months(date(2012, 8, 1), i)] for i in range(8)] == [26, 26, 26] + [25] * 5
    fc = build_forecast(phase1, a, None, attachments, None, "recorded")
    assert fc.attachments_from == "recorded"
    assert fc.profile["families"].sum() == 620
    years = {r["financial_year"]: r for r in fc.scenarios["central"].years.to_dicts()}
    assert years["2012/13"]["attachment_fees"] == D("659200.00")


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"r1": "1.2"}, "phase1.scenarios.central.success.R1: '1.2' must be between 0 and 1"),
        (
            {"l3": "-1"},
            "phase1.scenarios.central.lag_months.R3: must be at least 0 (got -1)",
        ),
        ({"l1": "61"}, "phase1.scenarios.central.lag_months.R1: 61 months is more than 60"),
        (
            {"planned": '"2012/13" = 300, "2013/14" = 330'},
            "phase1.attachments.planned: 630 families planned is more than the 620 funded",
        ),
        (
            {"planned": '"2016/17" = 3'},
            "phase1.attachments.planned.2016/17: '2016/17' is not a programme year",
        ),
        (
            {"planned": '"2012/13" = -3'},
            "phase1.attachments.planned.2012/13: must be at least 0 (got -3)",
        ),
        (
            {"r1": "0.95", "r3": "0.10"},
            "phase1.scenarios.central.success: R1 0.95 + R3 0.10 = 1.05 is more than 1",
        ),
        ({"r2": "0.95", "r3": "0.10", "r1": "0.5"}, "R2 0.95 + R3 0.10 is more than 1"),
        (
            {"agreed": "agreed_first_year = 0"},
            "phase1.attachments.agreed_first_year: must be at least 1 (got 0)",
        ),
    ],
)
def test_bad_assumptions_name_file_and_key(
    tmp_path: Path,
    phase1,  # type: ignore[no-untyped-def]
    kwargs: dict[str, str],
    message: str,
) -> None:
    path = _plan(tmp_path, **kwargs)
    with pytest.raises(ConfigError) as err:
        load_assumptions(path, phase1)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_malformed_toml_float_shares_missing_results(tmp_path: Path, phase1) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=r"a.toml: not valid TOML"):
        load_assumptions(_assumptions(tmp_path, "[phase1\nplanned = 3"), phase1)
    text = PLAN_ONLY.format(
        planned='"2012/13" = 1', agreed="", r1="x", r2="0", r3="0", l1=1, l2=1, l3=1
    )
    with pytest.raises(ConfigError, match=r"success.R1: 'x' is not a number"):
        load_assumptions(_assumptions(tmp_path, text), phase1)
    text = text.replace('R1 = "x"', "R1 = 0.5")
    with pytest.raises(ConfigError, match=r"success.R1: must be a share written as a string"):
        load_assumptions(_assumptions(tmp_path, text), phase1)
    text = text.replace("R1 = 0.5, ", "")
    with pytest.raises(ConfigError, match=r"phase1.scenarios.central.success.R1: is required"):
        load_assumptions(_assumptions(tmp_path, text), phase1)
    with pytest.raises(ConfigError, match=r"phase1: no assumptions for framework 'phase1'"):
        load_assumptions(_assumptions(tmp_path, "[phase9.attachments]\n"), phase1)
    a = load_assumptions(None, phase1)
    with pytest.raises(FamilyMatchError, match=r"--scenario: 'medium' is not a scenario"):
        a.scenario("medium")


def test_framework_last_payment_is_validated(tmp_path: Path) -> None:
    text = (Path(load_framework("phase1").path)).read_text()
    bad = tmp_path / "p1.toml"
    bad.write_text(text.replace('last_payment = "2015-05-31"', 'last_payment = "2015-02-01"'))
    with pytest.raises(ConfigError, match=r"p1.toml: framework.last_payment: 2015-02-01 is before"):
        load_framework(bad)
    bad.write_text(text.replace('last_payment = "2015-05-31"', 'last_payment = "May 2015"'))
    with pytest.raises(ConfigError, match=r"framework.last_payment: 'May 2015' is not a date"):
        load_framework(bad)


def test_phase2_assumptions(tmp_path: Path) -> None:
    fw = load_framework("phase2")
    fc = build_forecast(fw, load_assumptions(ASSUMPTIONS_FILE, fw))
    assert fc.funded == 2420 and fc.maximum == 2420 * D("1800") == D("4356000.00")
    central = fc.scenarios["central"]
    years = {r["financial_year"]: r for r in central.years.to_dicts()}
    assert [years[y]["attachment_fees"] for y in list(years)[:5]] == [D("484000.00")] * 5
    assert fc.year2 is None
    assert central.total <= fc.maximum


# --------------------------------------------------------------------------- workbook, command


def _project(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE, tmp_path / "s")
    return tmp_path / "s" / "familymatch.toml"


def test_workbook_sheets_charts_and_owner_only(tmp_path: Path, phase1) -> None:  # type: ignore[no-untyped-def]
    attachments = _attachments([date(2012, 5, 10)])
    claims = _claims([("F00000", "R1", "700.00", "2012/13", date(2013, 6, 28))])
    fc = build_forecast(phase1, load_assumptions(None, phase1), None, attachments, claims)
    path = write_forecast_workbook(fc, tmp_path / "f.xlsx", "Test City", "central")
    assert path.stat().st_mode & 0o777 == 0o600
    wb = load_workbook(path)
    assert wb.sheetnames == [
        "Summary",
        "By year",
        "By quarter",
        "Cumulative",
        "Actuals vs forecast",
        "Assumptions",
    ]
    assert [type(c).__name__ for c in wb["Summary"]._charts] == ["BarChart"]
    assert wb["Summary"]._charts[0].grouping == "stacked"
    assert [type(c).__name__ for c in wb["Cumulative"]._charts] == ["LineChart"]
    summary = {r[0]: r for r in wb["Summary"].iter_rows(min_row=5, max_row=7, values_only=True)}
    assert summary["central"][3] == pytest.approx(1855988)  # openpyxl reads numbers back as float
    assert wb["Summary"].cell(row=5, column=2).number_format == '"£"#,##0.00'
    assumptions = {r[0]: r[1] for r in wb["Assumptions"].iter_rows(min_row=2, values_only=True)}
    assert assumptions["funded families"] == 620
    assert assumptions["scenario central: R1 success share"] == pytest.approx(0.6)
    assert assumptions["planned attachments 2012/13"] == 206
    cum = list(wb["Cumulative"].iter_rows(values_only=True))
    assert cum[0][-1] == "maximum" and cum[1][-1] == 2480000


def test_forecast_command_plan_json_and_workbook(tmp_path: Path) -> None:
    project = _project(tmp_path)
    result = runner.invoke(app, ["forecast", "-p", str(project)])
    assert result.exit_code == 0, result.output
    assert "central forecast £1,855,988.00 of the £2,480,000.00 maximum (74.8%)" in result.output
    assert (tmp_path / "s" / "reports" / "forecast-phase1.xlsx").is_file()
    result = runner.invoke(app, ["forecast", "-p", str(project), "--scenario", "low", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data["scenarios"]) == ["low"]
    assert data["scenarios"]["low"]["headline"]["total"] == "1641509.00"
    assert data["maximum"] == "2480000.00" and data["actuals"] is None and data["workbook"] is None


def test_forecast_command_with_recorded_attachments_and_claims(tmp_path: Path) -> None:
    from claims.records import record_attachments
    from familymatch.project import load_project
    from familymatch.store import open_store
    from familymatch.store import schema as s
    from familymatch.store.runs import recording_run

    project = _project(tmp_path)
    store = open_store(load_project(project).database_url)
    rows = _attachments([date(2012, 5, 10), date(2012, 7, 1)]).with_columns(
        pl.lit(None, dtype=pl.String).alias("household_id"),
        pl.lit(None, dtype=pl.Int64).alias("source_row"),
    )
    record_attachments(store, 1, rows, "allocation.xlsx")
    with recording_run(store, "claim") as claim:
        claim.add(
            s.claims,
            pl.DataFrame(
                {
                    "claim_id": ["c-F00000", "c-F00001"],
                    "family_ref": ["F00000", "F00001"],
                    "result": ["R1", None],
                    "programme_year": ["2012/13", None],
                    "amount_pence": [70000, None],
                    "decision": ["claimed", "not_claimed"],
                }
            ),
        )
    with recording_run(store, "submit") as submit:
        submit.add(
            s.submissions,
            pl.DataFrame(
                {
                    "claim_run_id": [claim.run_id],
                    "workbook_sha256": ["0" * 64],
                    "submitted_on": [date(2013, 6, 28)],
                }
            ),
        )
    out = tmp_path / "out" / "forecast.xlsx"
    result = runner.invoke(app, ["forecast", "-p", str(project), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "recorded to 28/06/2013" in result.output
    assert "£7,100.00" in result.output  # 2 x 3,200 fees + 700 for R1
    assert "Actuals vs forecast" in load_workbook(out).sheetnames
    result = runner.invoke(
        app, ["forecast", "-p", str(project), "--json", "--attachments", "recorded"]
    )
    data = json.loads(result.output)
    assert data["attachments_from"] == "recorded"
    assert data["actuals"]["comparison_by_year"][0]["total_actual"] == "6400.00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "medium"], "--scenario: 'medium' is not a scenario"),
        (["--framework", "phase9"], "framework 'phase9': no such framework"),
        (["--out", "f.csv"], "--out f.csv: use a .xlsx file name."),
        (["--attachments", "guess"], "--attachments: 'guess' is not one of plan, recorded."),
        (["--run", "7"], "run 7 does not exist"),
    ],
)
def test_forecast_command_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    project = _project(tmp_path)
    result = runner.invoke(app, ["forecast", "-p", str(project), *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "s" / "reports").exists()


def test_forecast_command_bad_assumptions_writes_nothing(tmp_path: Path) -> None:
    project = _project(tmp_path)
    bad = _plan(tmp_path, r1="1.5")
    result = runner.invoke(app, ["forecast", "-p", str(project), "--assumptions", str(bad)])
    assert result.exit_code == 2
    assert "success.R1: '1.5' must be between 0 and 1" in " ".join(result.output.split())
    assert not (tmp_path / "s" / "reports").exists()


@pytest.mark.libreoffice
def test_forecast_workbook_opens_in_libreoffice(tmp_path: Path, phase1) -> None:  # type: ignore[no-untyped-def]
    from familymatch.workbooks import libreoffice_opens

    attachments = _attachments([date(2012, 5, 10), date(2012, 7, 1)])
    claims = _claims([("F00000", "R1", "700.00", "2012/13", date(2013, 6, 28))])
    fc = build_forecast(phase1, load_assumptions(None, phase1), None, attachments, claims)
    path = write_forecast_workbook(fc, tmp_path / "forecast.xlsx", "Test City", "central")
    pdf = libreoffice_opens(path, tmp_path / "pdf")
    assert pdf.stat().st_size > 10_000


def test_recorded_column_over_several_claims_with_the_half_band(phase1) -> None:  # type: ignore[no-untyped-def]
    # 150 of the 206 agreed families attached in year one (72.8%: half band), 10 in year two
    days = [date(2012, 7, 1)] * 150 + [date(2013, 5, 1)] * 10
    claims = _claims(
        [("F00000", "R1", "700.00", "2012/13", date(2013, 3, 15))]
        + [(f"F{i:05d}", "R3", "800.00", "2012/13", date(2013, 9, 30)) for i in (1, 2)]
        + [("F00150", "R2", "100.00", "2013/14", date(2014, 1, 6))]
    )
    fc = build_forecast(phase1, load_assumptions(None, phase1), None, _attachments(days), claims)
    assert fc.actual_years is not None
    years = {r["financial_year"]: r for r in fc.actual_years.to_dicts()}
    assert years["2012/13"]["attachment_fees"] == D("480000.00")  # 150 x 3,200
    assert years["2012/13"]["results"] == D("700.00")  # the claim submitted in March 2013
    assert years["2013/14"]["attachment_fees"] == D("12000.00")  # 10 x 2,400 x half
    assert years["2013/14"]["R3"] == D("1600.00") and years["2013/14"]["R2"] == D("100.00")
    assert years["2013/14"]["total"] == D("13700.00")
    assert any(
        "150 families attached against the 206 agreed" in n and "half" in n for n in fc.notes
    )
