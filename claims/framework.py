"""Payment frameworks as data: load and validate ``claims/<name>.toml`` (docs/claims.md).

A framework holds the money (attachment fee and result amounts by programme year, the maximum
per family, the funded share of the indicative number), the results a family can achieve (each
a small declarative rule: ``components``, ``continuous_employment`` or ``progress_to_work``) and
the components those results are made of (the phase-2 Outcome Plan is written the same way).
Amounts are :class:`decimal.Decimal`, never floats. Every problem is a ConfigError naming the
file and the dotted key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

from familymatch.canonical import SOURCE_KINDS
from familymatch.config import ConfigContext, read_toml
from familymatch.errors import ConfigError

CLAIMS_DIR = Path(__file__).parent
PENNY = Decimal("0.01")
RESULT_KINDS = ("components", "continuous_employment", "progress_to_work")
TESTS = ("school", "reduction", "none_in_window", "none_open")
ABSENCE_MEASURES = ("unauthorised", "overall")


@dataclass(frozen=True)
class ProgrammeYear:
    name: str
    start: date
    end: date
    attachment_fee: Decimal
    results: dict[str, Decimal]

    def holds(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Component:
    """One part of a result (phase 1 R1) or one problem of an Outcome Plan (phase 2)."""

    name: str
    title: str
    test: str  # school | reduction | none_in_window | none_open
    entry_criterion: str | None = None
    kinds: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()  # count only these offence outcomes (null counts)
    terms: int = 3
    max_exclusions: int = 3
    absence_measure: str = "unauthorised"
    max_absence: Decimal = Decimal("0.15")
    age_under: int | None = None
    baseline_months: int = 6
    window_months: int = 6
    min_reduction: Decimal = Decimal("0.60")


@dataclass(frozen=True)
class ResultRule:
    name: str
    title: str
    kind: str  # components | continuous_employment | progress_to_work
    turnaround: bool
    excludes: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    benefits: tuple[str, ...] = ()
    min_weeks: int = 13
    weeks_by_benefit: dict[str, int] = field(default_factory=dict)
    lookback_months: int = 6
    event_types: tuple[str, ...] = ()
    window_months: int = 6


@dataclass(frozen=True)
class FeeBands:
    full_at: Decimal
    half_at: Decimal


@dataclass(frozen=True)
class Framework:
    name: str
    title: str
    version: str
    path: Path
    sha256: str
    max_per_family: Decimal
    funded_share: Fraction
    one_turnaround_per_family: bool
    year_basis: str
    indicative_families: int | None
    audit_sample_share: Decimal
    audit_seed: int
    years: tuple[ProgrammeYear, ...]
    results: dict[str, ResultRule]
    components: dict[str, Component]
    year2_fees: FeeBands | None = None
    notes: tuple[str, ...] = ()
    last_payment: date | None = None  # the last day a result can be claimed (phase 1: May 2015)

    @property
    def last_claim_day(self) -> date:
        """The last day a result can be paid: ``last_payment``, else the last year's end."""
        return self.last_payment if self.last_payment is not None else self.years[-1].end

    def year_of(self, day: date) -> ProgrammeYear | None:
        """The programme year holding ``day`` (None outside the programme)."""
        return next((y for y in self.years if y.holds(day)), None)

    def amount(self, result: str, day: date) -> Decimal | None:
        year = self.year_of(day)
        return None if year is None else year.results[result]

    def funded_families(self, indicative: int | None = None) -> int:
        """The cap on paid families: the funded share of the indicative number, rounded down."""
        n = indicative if indicative is not None else self.indicative_families
        if n is None:
            raise ConfigError(f"{self.path}: local.indicative_families is not set.")
        return int(Fraction(n) * self.funded_share)


class _Ctx(ConfigContext):
    """The shared checks, and amounts, shares and fractions."""

    def money(self, key: str, value: Any) -> Decimal:
        """An amount in pounds: a string ("3200.00") or a whole number; never a float."""
        if isinstance(value, bool | float):
            raise self.fail(key, 'must be an amount written as a string, e.g. "3200.00".')
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise self.fail(key, f"'{value}' is not an amount.") from None
        if not amount.is_finite() or amount < 0 or amount != amount.quantize(PENNY):
            raise self.fail(key, f"'{value}' is not an amount in pounds and pence.")
        return amount.quantize(PENNY)

    def share(self, key: str, value: Any) -> Decimal:
        if isinstance(value, bool | float):
            raise self.fail(key, 'must be a share written as a string, e.g. "0.60".')
        try:
            share = Decimal(str(value))
        except InvalidOperation:
            raise self.fail(key, f"'{value}' is not a number.") from None
        if not share.is_finite() or not 0 <= share <= 1:
            raise self.fail(key, f"'{value}' must be between 0 and 1.")
        return share

    def fraction(self, key: str, value: Any) -> Fraction:
        try:
            frac = Fraction(self.text(key, value))
        except (ValueError, ZeroDivisionError):
            raise self.fail(key, f"'{value}' is not a fraction such as \"5/6\".") from None
        if not 0 < frac <= 1:
            raise self.fail(key, f"'{value}' must be more than 0 and at most 1.")
        return frac


def _component(ctx: _Ctx, name: str, raw: Any) -> Component:
    key = f"components.{name}"
    allowed = {f.name for f in Component.__dataclass_fields__.values()} - {"name"}
    raw = ctx.table(key, raw, allowed, {"title", "test"})
    test = ctx.text(f"{key}.test", raw["test"])
    if test not in TESTS:
        raise ctx.fail(f"{key}.test", f"'{test}' is not one of {', '.join(TESTS)}.")
    kinds = ctx.names(f"{key}.kinds", raw.get("kinds", []))
    for i, k in enumerate(kinds):
        if k not in SOURCE_KINDS:
            raise ctx.fail(f"{key}.kinds[{i}]", f"'{k}' is not a source kind.")
    if test != "school" and not kinds:
        raise ctx.fail(f"{key}.kinds", f"a '{test}' test needs the source kinds it counts.")
    measure = raw.get("absence_measure", "unauthorised")
    if measure not in ABSENCE_MEASURES:
        raise ctx.fail(f"{key}.absence_measure", f"must be one of {', '.join(ABSENCE_MEASURES)}.")
    baseline = ctx.whole(f"{key}.baseline_months", raw.get("baseline_months", 6), 1)
    window = ctx.whole(f"{key}.window_months", raw.get("window_months", 6), 1)
    if baseline > 36 or window > 36:
        raise ctx.fail(key, "windows longer than 36 months are not a result period.")
    return Component(
        name=name,
        title=ctx.text(f"{key}.title", raw["title"]),
        test=test,
        entry_criterion=(
            ctx.text(f"{key}.entry_criterion", raw["entry_criterion"])
            if "entry_criterion" in raw
            else None
        ),
        kinds=kinds,
        event_types=ctx.names(f"{key}.event_types", raw.get("event_types", [])),
        outcomes=ctx.outcome_codes(f"{key}.outcomes", raw.get("outcomes")),
        terms=ctx.whole(f"{key}.terms", raw.get("terms", 3), 1),
        max_exclusions=ctx.whole(f"{key}.max_exclusions", raw.get("max_exclusions", 3), 1),
        absence_measure=measure,
        max_absence=ctx.share(f"{key}.max_absence", raw.get("max_absence", "0.15")),
        age_under=(
            ctx.whole(f"{key}.age_under", raw["age_under"], 1) if "age_under" in raw else None
        ),
        baseline_months=baseline,
        window_months=window,
        min_reduction=ctx.share(f"{key}.min_reduction", raw.get("min_reduction", "0.60")),
    )


def _result(ctx: _Ctx, name: str, raw: Any, components: dict[str, Component]) -> ResultRule:
    key = f"results.{name}"
    allowed = {f.name for f in ResultRule.__dataclass_fields__.values()} - {"name"}
    raw = ctx.table(key, raw, allowed, {"title", "kind", "turnaround"})
    kind = ctx.text(f"{key}.kind", raw["kind"])
    if kind not in RESULT_KINDS:
        raise ctx.fail(f"{key}.kind", f"'{kind}' is not one of {', '.join(RESULT_KINDS)}.")
    parts = ctx.names(f"{key}.components", raw.get("components", []))
    for i, c in enumerate(parts):
        if c not in components:
            raise ctx.fail(f"{key}.components[{i}]", f"'{c}' is not defined under [components].")
    if kind == "components" and not parts:
        raise ctx.fail(f"{key}.components", "a 'components' result needs at least one.")
    weeks = raw.get("weeks_by_benefit", {})
    if not isinstance(weeks, dict):
        raise ctx.fail(f"{key}.weeks_by_benefit", "must be a table of benefit = weeks.")
    by_benefit = {str(b): ctx.whole(f"{key}.weeks_by_benefit.{b}", w, 1) for b, w in weeks.items()}
    benefits = ctx.names(f"{key}.benefits", raw.get("benefits", []))
    if kind == "continuous_employment" and not benefits:
        raise ctx.fail(f"{key}.benefits", "continuous employment needs the out-of-work benefits.")
    for b in by_benefit:
        if b not in benefits:
            raise ctx.fail(f"{key}.weeks_by_benefit.{b}", f"'{b}' is not in {key}.benefits.")
    return ResultRule(
        name=name,
        title=ctx.text(f"{key}.title", raw["title"]),
        kind=kind,
        turnaround=ctx.boolean(f"{key}.turnaround", raw["turnaround"]),
        excludes=ctx.names(f"{key}.excludes", raw.get("excludes", [])),
        components=parts,
        benefits=benefits,
        min_weeks=ctx.whole(f"{key}.min_weeks", raw.get("min_weeks", 13), 1),
        weeks_by_benefit=by_benefit,
        lookback_months=ctx.whole(f"{key}.lookback_months", raw.get("lookback_months", 6), 1),
        event_types=ctx.names(f"{key}.event_types", raw.get("event_types", [])),
        window_months=ctx.whole(f"{key}.window_months", raw.get("window_months", 6), 1),
    )


def framework_path(name_or_path: str | Path, base: Path | None = None) -> Path:
    """A framework name in claims/ (``phase1``) or a path (relative to ``base``)."""
    text = str(name_or_path)
    if "/" not in text and not text.endswith(".toml"):
        path = CLAIMS_DIR / f"{text}.toml"
        if not path.is_file():
            known = ", ".join(
                sorted(p.stem for p in CLAIMS_DIR.glob("*.toml") if p.stem != "assumptions")
            )
            raise ConfigError(f"framework '{text}': no such framework (known: {known}).")
        return path
    path = Path(text)
    if not path.is_absolute() and base is not None:
        path = base / path
    if not path.is_file():
        raise ConfigError(f"framework {path}: the file does not exist.")
    return path


def load_framework(name_or_path: str | Path, base: Path | None = None) -> Framework:
    path = framework_path(name_or_path, base)
    raw, data = read_toml(path)
    ctx = _Ctx(path)
    top = {
        "framework",
        "local",
        "audit",
        "year2_attachment_fees",
        "years",
        "results",
        "components",
    }
    ctx.table("(top level)", raw, top, {"framework", "years", "results"})
    fw = ctx.table(
        "framework",
        raw["framework"],
        {
            "name",
            "title",
            "version",
            "max_per_family",
            "funded_share",
            "one_turnaround_per_family",
            "year_basis",
            "notes",
            "last_payment",
        },
        {"name", "title", "version", "max_per_family"},
    )
    year_basis = fw.get("year_basis", "attachment")
    if year_basis not in ("attachment", "claim"):
        raise ctx.fail("framework.year_basis", "must be 'attachment' or 'claim'.")
    local = ctx.table("local", raw.get("local", {}), {"indicative_families"}, set())
    audit = ctx.table("audit", raw.get("audit", {}), {"sample_share", "seed"}, set())

    components = {}
    comp_raw = raw.get("components", {})
    if not isinstance(comp_raw, dict):
        raise ctx.fail("components", "must be a table of components.")
    for name, value in comp_raw.items():
        components[name] = _component(ctx, name, value)

    res_raw = raw["results"]
    if not isinstance(res_raw, dict) or not res_raw:
        raise ctx.fail("results", "must define at least one result.")
    results = {name: _result(ctx, name, value, components) for name, value in res_raw.items()}
    for r in results.values():
        for i, other in enumerate(r.excludes):
            if other not in results:
                raise ctx.fail(f"results.{r.name}.excludes[{i}]", f"'{other}' is not a result.")

    if not isinstance(raw["years"], list) or not raw["years"]:
        raise ctx.fail("years", "must be a list of programme years ([[years]]).")
    years: list[ProgrammeYear] = []
    for i, y in enumerate(raw["years"]):
        key = f"years[{i}]"
        y = ctx.table(
            key, y, {"name", "start", "end", "attachment_fee", "results"}, {"name", "start", "end"}
        )
        start, end = ctx.day(f"{key}.start", y["start"]), ctx.day(f"{key}.end", y["end"])
        if end < start:
            raise ctx.fail(f"{key}.end", "is before the year's start.")
        if years and start <= years[-1].end:
            raise ctx.fail(f"{key}.start", "overlaps the year before (years go in order).")
        amounts = ctx.table(f"{key}.results", y.get("results", {}), set(results), set(results))
        years.append(
            ProgrammeYear(
                name=ctx.text(f"{key}.name", y["name"]),
                start=start,
                end=end,
                attachment_fee=ctx.money(f"{key}.attachment_fee", y.get("attachment_fee", "0")),
                results={r: ctx.money(f"{key}.results.{r}", v) for r, v in amounts.items()},
            )
        )
    maximum = ctx.money("framework.max_per_family", fw["max_per_family"])
    for i, y in enumerate(years):
        turnaround = [v for r, v in y.results.items() if results[r].turnaround]
        top_result = max(turnaround, default=Decimal(0))
        if y.attachment_fee + top_result > maximum:
            raise ctx.fail(
                f"years[{i}]",
                f"attachment fee {y.attachment_fee} plus the largest result {top_result} is more "
                f"than framework.max_per_family {maximum}.",
            )
    fees = raw.get("year2_attachment_fees")
    bands = None
    if fees is not None:
        fees = ctx.table("year2_attachment_fees", fees, {"full_at", "half_at"}, {"full_at"})
        bands = FeeBands(
            full_at=ctx.share("year2_attachment_fees.full_at", fees["full_at"]),
            half_at=ctx.share("year2_attachment_fees.half_at", fees.get("half_at", "0")),
        )
        if bands.half_at > bands.full_at:
            raise ctx.fail("year2_attachment_fees.half_at", "is above full_at.")
    last_payment = None
    if "last_payment" in fw:
        last_payment = ctx.day("framework.last_payment", fw["last_payment"])
        if last_payment < years[-1].end:
            raise ctx.fail(
                "framework.last_payment",
                f"{last_payment} is before the last programme year ends ({years[-1].end}).",
            )
    indicative = local.get("indicative_families")
    return Framework(
        name=ctx.text("framework.name", fw["name"]),
        title=ctx.text("framework.title", fw["title"]),
        version=ctx.text("framework.version", fw["version"]),
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        max_per_family=maximum,
        funded_share=ctx.fraction("framework.funded_share", fw.get("funded_share", "1/1")),
        one_turnaround_per_family=ctx.boolean(
            "framework.one_turnaround_per_family", fw.get("one_turnaround_per_family", True)
        ),
        year_basis=year_basis,
        indicative_families=(
            None if indicative is None else ctx.whole("local.indicative_families", indicative, 1)
        ),
        audit_sample_share=ctx.share("audit.sample_share", audit.get("sample_share", "0.10")),
        audit_seed=ctx.whole("audit.seed", audit.get("seed", 0)),
        years=tuple(years),
        results=results,
        components=components,
        year2_fees=bands,
        notes=ctx.names("framework.notes", fw.get("notes", [])),
        last_payment=last_payment,
    )
