"""Income forecast: attachment fees and results payments by financial year and quarter.

Pure functions from a payment framework (``claims/<name>.toml``), the council's assumptions
(``claims/assumptions.toml``) and optionally the attachments and submitted claims recorded in
the store (as polars frames, from ``claims.records``) to a forecast per scenario and, where
records exist, the actuals beside it with the variance. Every amount is a
:class:`decimal.Decimal`; shares are Decimals or Fractions; nothing is ever a float.

The model (docs/decisions/0005-forecast.md):

- **Attachments** per programme year come from the plan, spread evenly over the year's months
  (the odd families in the earliest months); or, with ``attachments_from="recorded"``, the
  families recorded up to the month of the latest attachment and the rest of each year's plan
  spread over the months left. Families beyond the funded number earn nothing.
- **Attachment fee**: the fee of the programme year of attachment, in the month of attachment;
  fees of the second programme year are multiplied by the year-two band (full, half or
  withheld by the share of the agreed year-one families attached in year one).
- **Results**: for each result, attached families x success share, in the month of attachment
  plus the scenario's lag, at the amount of the programme year of attachment (or of the result's
  month when the framework's ``year_basis`` is ``claim``). A result after the framework's last
  payment day is not paid; its amount is reported as ``not_paid``.
- **Rounding**: exact Decimals per month; each quarter's line rounded to the penny (half up);
  years, totals and cumulative figures are sums of those quarter amounts, so every table adds up.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl

from claims.framework import CLAIMS_DIR, PENNY, FeeBands, Framework, ProgrammeYear, _Ctx
from familymatch.config import read_toml
from familymatch.errors import ConfigError, FamilyMatchError

ASSUMPTIONS_FILE = CLAIMS_DIR / "assumptions.toml"
SCENARIO_ORDER = ("low", "central", "high")
MONEY = pl.Decimal(38, 2)
MAX_LAG_MONTHS = 60
ZERO = Decimal("0.00")


# --------------------------------------------------------------------------- assumptions


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    success: dict[str, Decimal]  # result -> share of attached families achieving it
    lag_months: dict[str, int]  # result -> months from attachment to the result's claim


@dataclass(frozen=True)
class Assumptions:
    path: Path
    sha256: str
    framework: str
    planned: dict[str, int]  # programme year name -> families to attach that year
    agreed_first_year: int | None  # year-one families agreed with the department (fee bands)
    scenarios: dict[str, Scenario]

    @property
    def planned_total(self) -> int:
        return sum(self.planned.values())

    def scenario(self, name: str) -> Scenario:
        if name not in self.scenarios:
            raise FamilyMatchError(
                f"--scenario: '{name}' is not a scenario in {self.path} [{self.framework}."
                f"scenarios] (known: {', '.join(self.scenarios)})."
            )
        return self.scenarios[name]

    def default_scenario(self) -> str:
        return "central" if "central" in self.scenarios else next(iter(self.scenarios))


def _scenario(ctx: _Ctx, key: str, name: str, raw: Any, fw: Framework) -> Scenario:
    raw = ctx.table(key, raw, {"title", "success", "lag_months"}, {"success", "lag_months"})
    names = set(fw.results)
    success_raw = ctx.table(f"{key}.success", raw["success"], names, names)
    success = {r: ctx.share(f"{key}.success.{r}", success_raw[r]) for r in fw.results}
    lag_raw = ctx.table(f"{key}.lag_months", raw["lag_months"], names, names)
    lags = {}
    for r in fw.results:
        lags[r] = ctx.whole(f"{key}.lag_months.{r}", lag_raw[r], 0)
        if lags[r] > MAX_LAG_MONTHS:
            raise ctx.fail(
                f"{key}.lag_months.{r}", f"{lags[r]} months is more than {MAX_LAG_MONTHS}."
            )
    # a family is paid at most one turnaround result, and never a result beside one it excludes
    turnaround = [r for r, rule in fw.results.items() if rule.turnaround]
    if fw.one_turnaround_per_family and len(turnaround) > 1:
        total = sum(success[r] for r in turnaround)
        if total > 1:
            raise ctx.fail(
                f"{key}.success",
                f"{' + '.join(f'{r} {success[r]}' for r in turnaround)} = {total} is more than 1, "
                f"but a family is turned around once ({fw.path.name}: "
                "framework.one_turnaround_per_family).",
            )
    for r, rule in fw.results.items():
        for other in rule.excludes:
            if success[r] + success[other] > 1:
                raise ctx.fail(
                    f"{key}.success",
                    f"{r} {success[r]} + {other} {success[other]} is more than 1, but {r} is not "
                    f"paid beside {other} ({fw.path.name}: results.{r}.excludes).",
                )
    return Scenario(
        name=name,
        title=ctx.text(f"{key}.title", raw.get("title", name)),
        success=success,
        lag_months=lags,
    )


def load_assumptions(path: Path | None, fw: Framework) -> Assumptions:
    """The assumptions for ``fw`` from ``path`` (default ``claims/assumptions.toml``): the table
    named after the framework. Every problem is a ConfigError naming the file and dotted key."""
    path = path or ASSUMPTIONS_FILE
    if not path.is_file():
        raise ConfigError(f"assumptions {path}: the file does not exist.")
    raw, data = read_toml(path)
    ctx = _Ctx(path)
    if fw.name not in raw:
        known = ", ".join(raw) or "none"
        raise ConfigError(
            f"{path}: {fw.name}: no assumptions for framework '{fw.name}' (tables: {known})."
        )
    top = ctx.table(
        fw.name, raw[fw.name], {"attachments", "scenarios"}, {"attachments", "scenarios"}
    )
    _check_month_years(fw)

    key = f"{fw.name}.attachments"
    att = ctx.table(key, top["attachments"], {"planned", "agreed_first_year"}, {"planned"})
    year_names = [y.name for y in fw.years]
    planned_raw = att["planned"]
    if not isinstance(planned_raw, dict):
        raise ctx.fail(f"{key}.planned", "must be a table of programme year = families.")
    planned: dict[str, int] = {}
    for year, n in planned_raw.items():
        if year not in year_names:
            raise ctx.fail(
                f"{key}.planned.{year}",
                f"'{year}' is not a programme year of {fw.name} ({', '.join(year_names)}).",
            )
        planned[year] = ctx.whole(f"{key}.planned.{year}", n, 0)
    total = sum(planned.values())
    funded = fw.funded_families()
    if total > funded:
        raise ctx.fail(
            f"{key}.planned",
            f"{total:,} families planned is more than the {funded:,} funded ({fw.funded_share} "
            f"of {fw.indicative_families:,} indicative families in {fw.path.name}).",
        )
    agreed = None
    if "agreed_first_year" in att:
        agreed = ctx.whole(f"{key}.agreed_first_year", att["agreed_first_year"], 1)
        if agreed > funded:
            raise ctx.fail(
                f"{key}.agreed_first_year", f"{agreed:,} is more than the {funded:,} funded."
            )
    elif fw.year2_fees is not None and planned.get(fw.years[0].name, 0) == 0:
        raise ctx.fail(
            f"{key}.agreed_first_year",
            "is required when no families are planned in the first year (the year-two fee "
            "bands are measured against it).",
        )

    scen_raw = top["scenarios"]
    if not isinstance(scen_raw, dict) or not scen_raw:
        raise ctx.fail(f"{fw.name}.scenarios", "must define at least one scenario.")
    ordered = sorted(
        scen_raw, key=lambda n: (SCENARIO_ORDER.index(n) if n in SCENARIO_ORDER else 99, n)
    )
    scenarios = {n: _scenario(ctx, f"{fw.name}.scenarios.{n}", n, scen_raw[n], fw) for n in ordered}
    return Assumptions(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        framework=fw.name,
        planned=planned,
        agreed_first_year=agreed,
        scenarios=scenarios,
    )


# --------------------------------------------------------------------------- calendar


def add_months(day: date, months: int) -> date:
    """The first of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_of(day: date) -> date:
    return day.replace(day=1)


def financial_year(day: date) -> str:
    """The UK financial year (April to March) holding ``day``: ``2012/13``."""
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}/{(start + 1) % 100:02d}"


def quarter(day: date) -> int:
    """The financial-year quarter: 1 = April-June ... 4 = January-March."""
    return (day.month - 4) % 12 // 3 + 1


def quarter_start(day: date) -> date:
    return add_months(month_of(day), -((day.month - 4) % 3))


def _months(first: date, last: date) -> list[date]:
    out, m = [], month_of(first)
    while m <= last:
        out.append(m)
        m = add_months(m, 1)
    return out


def _check_month_years(fw: Framework) -> None:
    for i, y in enumerate(fw.years):
        if y.start.day != 1:
            raise ConfigError(
                f"{fw.path}: years[{i}].start: the forecast counts in months; a programme year "
                "must start on the first of a month."
            )
        if (y.end + timedelta(days=1)).day != 1:
            raise ConfigError(
                f"{fw.path}: years[{i}].end: the forecast counts in months; a programme year "
                "must end on the last day of a month."
            )


def _year_index(fw: Framework, day: date) -> int | None:
    return next((i for i, y in enumerate(fw.years) if y.holds(day)), None)


# --------------------------------------------------------------------------- attachments


def year2_fee_share(worked_with: int, agreed: int, bands: FeeBands) -> tuple[Decimal, str]:
    """The share of year-two attachment fees paid: 1 (``full``) at or above ``full_at`` of the
    agreed year-one families worked with, 0.5 (``half``) at or above ``half_at``, else 0
    (``withheld``). Compared exactly (206 agreed: 155 is 75.2% full, 154 is 74.8% half)."""
    if agreed < 1:
        raise ValueError("the agreed year-one families must be at least 1")
    ratio = Fraction(worked_with, agreed)
    if ratio >= Fraction(bands.full_at):
        return Decimal(1), "full"
    if ratio >= Fraction(bands.half_at):
        return Decimal("0.5"), "half"
    return Decimal(0), "withheld"


def _spread(families: int, months: list[date]) -> list[tuple[date, int]]:
    base, extra = divmod(families, len(months))
    return [(m, base + (1 if i < extra else 0)) for i, m in enumerate(months)]


def _profile_frame(rows: list[tuple[date, int]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema={"month": pl.Date, "families": pl.Int64}, orient="row")
    return frame.group_by("month").agg(pl.col("families").sum()).sort("month")


def planned_profile(fw: Framework, a: Assumptions) -> pl.DataFrame:
    """month, families: each programme year's planned families spread evenly over its months,
    the odd families in the earliest months."""
    rows: list[tuple[date, int]] = []
    for y in fw.years:
        rows += _spread(a.planned.get(y.name, 0), _months(y.start, y.end))
    return _profile_frame(rows)


def recorded_profile(attachments: pl.DataFrame) -> pl.DataFrame:
    """month, families: recorded attachments counted by month of ``attached_on``."""
    return (
        attachments.drop_nulls("attached_on")
        .group_by(pl.col("attached_on").dt.truncate("1mo").alias("month"))
        .agg(pl.len().cast(pl.Int64).alias("families"))
        .sort("month")
    )


def reforecast_profile(fw: Framework, a: Assumptions, attachments: pl.DataFrame) -> pl.DataFrame:
    """The recorded families up to the month of the latest attachment, then the rest of each
    programme year's plan (planned minus recorded that year, at least 0) spread evenly over the
    months left in that year."""
    recorded = recorded_profile(attachments)
    if recorded.height == 0:
        return planned_profile(fw, a)
    last = recorded["month"].max()
    assert isinstance(last, date)
    rows = [(m, n) for m, n in recorded.iter_rows()]
    for y in fw.years:
        done = sum(n for m, n in rows if y.holds(m))
        remaining = max(0, a.planned.get(y.name, 0) - done)
        months = [m for m in _months(y.start, y.end) if m > last]
        if months and remaining:
            rows += _spread(remaining, months)
    return _profile_frame(rows)


def cap_profile(profile: pl.DataFrame, funded: int) -> pl.DataFrame:
    """Keep families up to the funded number, in month order; later families earn nothing."""
    before = pl.col("families").cum_sum() - pl.col("families")
    return profile.sort("month").with_columns(
        pl.min_horizontal(pl.col("families"), pl.lit(funded) - before).clip(lower_bound=0)
    )


# --------------------------------------------------------------------------- the forecast


@dataclass(frozen=True)
class YearTwoFees:
    share: Decimal  # 1, 0.5 or 0
    band: str  # full | half | withheld
    worked_with: int
    agreed: int


@dataclass(frozen=True)
class ScenarioForecast:
    scenario: Scenario
    quarters: pl.DataFrame
    years: pl.DataFrame
    fees: Decimal
    results: Decimal
    total: Decimal
    not_paid: Decimal  # results due after the last payment day (not paid)


@dataclass(frozen=True)
class Forecast:
    framework: Framework
    assumptions: Assumptions
    funded: int
    maximum: Decimal  # funded families x maximum per family
    attachments_from: str  # plan | recorded
    profile: pl.DataFrame  # month, families (after the funded cap)
    year2: YearTwoFees | None
    scenarios: dict[str, ScenarioForecast]
    actual_quarters: pl.DataFrame | None = None
    actual_years: pl.DataFrame | None = None
    actuals_to: date | None = None  # the latest attachment or submission recorded
    notes: list[str] = field(default_factory=list)

    def comparison(self, scenario: str, by: str = "quarter") -> pl.DataFrame | None:
        """Forecast beside actuals, for the periods up to the latest record: fees, results and
        total, forecast / actual / variance (actual minus forecast)."""
        if self.actual_quarters is None or self.actuals_to is None:
            return None
        keys = ["financial_year", "quarter"] if by == "quarter" else ["financial_year"]
        to = quarter_start(self.actuals_to)
        cols = ["attachment_fees", "results", "total"]
        fc = (
            self.scenarios[scenario]
            .quarters.filter(pl.col("quarter_start") <= to)
            .select(*keys, "families", *cols)
        )
        ac = self.actual_quarters.filter(pl.col("quarter_start") <= to).select(
            *keys, "families", *cols
        )
        if by == "year":
            fc = fc.group_by(keys, maintain_order=True).agg(pl.all().sum())
            ac = ac.group_by(keys, maintain_order=True).agg(pl.all().sum())
        joined = fc.join(ac, on=keys, suffix="_actual", how="left", maintain_order="left")
        out = joined.select(
            *keys,
            pl.col("families").alias("families_forecast"),
            pl.col("families_actual"),
            *[
                expr
                for c in cols
                for expr in (
                    pl.col(c).alias(f"{c}_forecast"),
                    pl.col(f"{c}_actual"),
                    (pl.col(f"{c}_actual") - pl.col(c)).cast(MONEY).alias(f"{c}_variance"),
                )
            ],
        )
        return out


def _round(value: Decimal) -> Decimal:
    return value.quantize(PENNY, rounding=ROUND_HALF_UP)


def _fee_share(year_index: int | None, year2: YearTwoFees | None) -> Decimal:
    """The share of the fee paid: the year-two band for the second programme year, else 1."""
    if year_index == 1 and year2 is not None:
        return year2.share
    return Decimal(1)


def _quarter_grid(fw: Framework, last: date) -> list[date]:
    out, q = [], quarter_start(fw.years[0].start)
    end = quarter_start(last)
    while q <= end:
        out.append(q)
        q = add_months(q, 3)
    return out


def _quarter_frame(
    fw: Framework,
    grid: list[date],
    families: dict[date, int],
    money: dict[tuple[date, str], Decimal],
    maximum: bool,
) -> pl.DataFrame:
    """One row per quarter: financial_year, quarter, quarter_start, families, attachment_fees,
    one column per result, results, total, cumulative[, maximum, maximum_cumulative]."""
    names = list(fw.results)
    rows: list[dict[str, Any]] = []
    cumulative = ZERO
    max_cumulative = ZERO
    for q in grid:
        fees = _round(money.get((q, "attachment_fees"), ZERO))
        by_result = {r: _round(money.get((q, r), ZERO)) for r in names}
        results = sum(by_result.values(), ZERO)
        total = fees + results
        cumulative += total
        row: dict[str, Any] = {
            "financial_year": financial_year(q),
            "quarter": f"Q{quarter(q)}",
            "quarter_start": q,
            "families": families.get(q, 0),
            "attachment_fees": fees,
            **by_result,
            "results": results,
            "total": total,
            "cumulative": cumulative,
        }
        if maximum:
            most = fw.max_per_family * families.get(q, 0)
            max_cumulative += most
            row["maximum"] = most
            row["maximum_cumulative"] = max_cumulative
        rows.append(row)
    schema: dict[str, Any] = {
        "financial_year": pl.String,
        "quarter": pl.String,
        "quarter_start": pl.Date,
        "families": pl.Int64,
        "attachment_fees": MONEY,
        **{r: MONEY for r in names},
        "results": MONEY,
        "total": MONEY,
        "cumulative": MONEY,
    }
    if maximum:
        schema |= {"maximum": MONEY, "maximum_cumulative": MONEY}
    return pl.DataFrame(rows, schema=schema, orient="row")


def money_sum(series: pl.Series) -> Decimal:
    """The exact sum of a money column (polars sums Decimal columns as Decimal)."""
    value = series.sum()
    if not isinstance(value, Decimal):
        raise TypeError(f"{series.name} is not a Decimal column")
    return value


def by_year(quarters: pl.DataFrame) -> pl.DataFrame:
    """Quarters summed by financial year; cumulative columns are the year-end figures."""
    sums = [
        c
        for c in quarters.columns
        if c not in ("financial_year", "quarter", "quarter_start", "cumulative")
        and c != "maximum_cumulative"
    ]
    out = quarters.group_by("financial_year", maintain_order=True).agg(
        *[pl.col(c).sum() for c in sums],
        pl.col("cumulative").last(),
        *(
            [pl.col("maximum_cumulative").last()]
            if "maximum_cumulative" in quarters.columns
            else []
        ),
    )
    order = [c for c in quarters.columns if c not in ("quarter", "quarter_start")]
    return out.select(order).with_columns(
        pl.col(c).cast(MONEY) for c in order if c not in ("financial_year", "families")
    )


def _scenario_forecast(
    fw: Framework,
    sc: Scenario,
    profile: pl.DataFrame,
    year2: YearTwoFees | None,
    grid: list[date],
) -> ScenarioForecast:
    money: dict[tuple[date, str], Decimal] = defaultdict(lambda: Decimal(0))
    families: dict[date, int] = defaultdict(int)
    not_paid = Decimal(0)
    cutoff = month_of(fw.last_claim_day)
    with localcontext() as ctx:
        ctx.prec = 60  # exact: families x share x amount never needs more digits
        for month, n in profile.iter_rows():
            yi = _year_index(fw, month)
            if yi is None or n == 0:
                continue
            year = fw.years[yi]
            q = quarter_start(month)
            families[q] += n
            money[(q, "attachment_fees")] += year.attachment_fee * n * _fee_share(yi, year2)
            for r in fw.results:
                expected = sc.success[r] * n
                due = add_months(month, sc.lag_months[r])
                amount = _result_amount(fw, year, r, due)
                if due > cutoff or amount is None:
                    not_paid += expected * (year.results[r] if amount is None else amount)
                    continue
                money[(quarter_start(due), r)] += expected * amount
    quarters = _quarter_frame(fw, grid, families, money, maximum=True)
    fees = money_sum(quarters["attachment_fees"])
    results = money_sum(quarters["results"])
    return ScenarioForecast(
        scenario=sc,
        quarters=quarters,
        years=by_year(quarters),
        fees=fees,
        results=results,
        total=fees + results,
        not_paid=_round(not_paid),
    )


def _result_amount(fw: Framework, year: ProgrammeYear, result: str, due: date) -> Decimal | None:
    if fw.year_basis == "attachment":
        return year.results[result]
    claim_year = fw.year_of(due)
    return None if claim_year is None else claim_year.results[result]


def _year2(fw: Framework, a: Assumptions, first_year_families: int) -> YearTwoFees | None:
    if fw.year2_fees is None or len(fw.years) < 2:
        return None
    agreed = a.agreed_first_year or a.planned.get(fw.years[0].name, 0)
    share, band = year2_fee_share(first_year_families, agreed, fw.year2_fees)
    return YearTwoFees(share, band, first_year_families, agreed)


def _first_year(fw: Framework, profile: pl.DataFrame) -> int:
    y = fw.years[0]
    return int(profile.filter(pl.col("month").is_between(y.start, y.end))["families"].sum())


def _actuals(
    fw: Framework,
    a: Assumptions,
    funded: int,
    attachments: pl.DataFrame,
    claims: pl.DataFrame,
    grid: list[date],
) -> tuple[pl.DataFrame, YearTwoFees | None]:
    """Attachment fees earned by the families recorded (the first ``funded`` by date), in the
    quarter attached; results claimed in submitted claims, in the quarter submitted."""
    money: dict[tuple[date, str], Decimal] = defaultdict(lambda: Decimal(0))
    families: dict[date, int] = defaultdict(int)
    profile = cap_profile(recorded_profile(attachments), funded)
    year2 = _year2(fw, a, _first_year(fw, profile))
    for month, n in profile.iter_rows():
        yi = _year_index(fw, month)
        q = quarter_start(month)
        families[q] += n
        if yi is not None:
            fee = fw.years[yi].attachment_fee * n * _fee_share(yi, year2)
            money[(q, "attachment_fees")] += fee
    unknown = sorted(set(claims["result"].drop_nulls().to_list()) - set(fw.results))
    if unknown:
        raise FamilyMatchError(
            f"the submitted claims include result(s) {', '.join(unknown)}, which framework "
            f"{fw.name} ({fw.path}) does not define; forecast with the framework they were "
            "claimed under."
        )
    paid = (
        claims.drop_nulls("result")
        .group_by(pl.col("submitted_on").dt.truncate("1mo").alias("month"), "result")
        .agg(pl.col("amount").str.to_decimal(scale=2).sum())
    )
    for month, result, amount in paid.iter_rows():
        money[(quarter_start(month), result)] += amount
    return _quarter_frame(fw, grid, families, money, maximum=False), year2


def build_forecast(
    fw: Framework,
    a: Assumptions,
    scenarios: list[str] | None = None,
    attachments: pl.DataFrame | None = None,
    claims: pl.DataFrame | None = None,
    attachments_from: str = "plan",
) -> Forecast:
    """The forecast of every scenario named (default: all in the assumptions), and the actuals
    when ``attachments`` (family_ref, attached_on, ...) or ``claims`` (result, amount,
    submitted_on, ...) hold rows. ``attachments_from``: ``plan`` or ``recorded``."""
    if a.framework != fw.name:
        raise ConfigError(f"{a.path}: assumptions for '{a.framework}', not '{fw.name}'.")
    if attachments_from not in ("plan", "recorded"):
        raise FamilyMatchError(f"--attachments: '{attachments_from}' is not one of plan, recorded.")
    names = scenarios or list(a.scenarios)
    chosen = [a.scenario(n) for n in names]
    funded = fw.funded_families()
    has_attachments = attachments is not None and attachments.height > 0
    has_claims = claims is not None and claims.height > 0
    notes: list[str] = []
    if attachments_from == "recorded" and attachments is not None and has_attachments:
        profile = reforecast_profile(fw, a, attachments)
    else:
        if attachments_from == "recorded":
            notes.append("no attachments are recorded: the plan is used.")
            attachments_from = "plan"
        profile = planned_profile(fw, a)
    capped = cap_profile(profile, funded)
    dropped = int(profile["families"].sum()) - int(capped["families"].sum())
    if dropped:
        notes.append(
            f"{dropped:,} families beyond the {funded:,} funded earn nothing and are left out."
        )
    year2 = _year2(fw, a, _first_year(fw, capped))

    latest: list[date] = []
    if has_attachments and attachments is not None:
        latest.append(attachments["attached_on"].max())  # type: ignore[arg-type]
    if has_claims and claims is not None:
        latest.append(claims["submitted_on"].max())  # type: ignore[arg-type]
    actuals_to = max(latest) if latest else None
    last_profile = capped["month"].max() if capped.height else fw.years[-1].end
    assert isinstance(last_profile, date)
    ends = [fw.last_claim_day, last_profile] + ([actuals_to] if actuals_to else [])
    grid = _quarter_grid(fw, max(ends))

    results = {sc.name: _scenario_forecast(fw, sc, capped, year2, grid) for sc in chosen}
    actual_q = actual_y = None
    if actuals_to is not None:
        empty_att = pl.DataFrame(schema={"family_ref": pl.String, "attached_on": pl.Date})
        empty_claims = pl.DataFrame(
            schema={"result": pl.String, "amount": pl.String, "submitted_on": pl.Date}
        )
        actual_q, actual_year2 = _actuals(
            fw,
            a,
            funded,
            attachments if has_attachments and attachments is not None else empty_att,
            claims if has_claims and claims is not None else empty_claims,
            grid,
        )
        actual_y = by_year(actual_q)
        if actual_year2 is not None and has_attachments:
            done = (
                f"{actual_year2.worked_with:,} families attached against the "
                f"{actual_year2.agreed:,} agreed for year one"
            )
            if actuals_to > fw.years[0].end:
                notes.append(
                    f"recorded year-one attachments: {done}, so year-two fees are "
                    f"{actual_year2.band} in the actuals."
                )
            else:
                notes.append(f"year one is not over: {done} so far.")
    return Forecast(
        framework=fw,
        assumptions=a,
        funded=funded,
        maximum=fw.max_per_family * funded,
        attachments_from=attachments_from,
        profile=capped,
        year2=year2,
        scenarios=results,
        actual_quarters=actual_q,
        actual_years=actual_y,
        actuals_to=actuals_to,
        notes=notes,
    )


def headline(fc: Forecast, scenario: str) -> dict[str, Any]:
    """The figures a coordinator quotes: total, maximum, share, by financial year."""
    sf = fc.scenarios[scenario]
    share = (sf.total / fc.maximum * 100).quantize(Decimal("0.1")) if fc.maximum else ZERO
    out: dict[str, Any] = {
        "framework": fc.framework.name,
        "scenario": scenario,
        "funded_families": fc.funded,
        "maximum": fc.maximum,
        "attachment_fees": sf.fees,
        "results": sf.results,
        "total": sf.total,
        "share_of_maximum_pct": share,
        "results_not_paid": sf.not_paid,
        "last_payment": fc.framework.last_claim_day,
        "by_year": {fy: total for fy, total in sf.years.select("financial_year", "total").rows()},
    }
    if fc.actual_quarters is not None:
        out["actual_to_date"] = money_sum(fc.actual_quarters["total"])
        out["actuals_to"] = fc.actuals_to
    return out
