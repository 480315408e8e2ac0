"""Priority as readable configuration: weighted, explainable factors (``rules/priority.toml``).

Every factor turns one quantity of a family (criteria met, a count of evidence rows, an absence
rate, months on benefit, cohort families in the neighbourhood, ...) into whole points:

    points = min(cap, points_per_unit * floor(max(0, quantity - above) / every))

A family's score is the sum of its factors' points, and each family keeps its breakdown (the
quantity and points of every factor, and one line of arithmetic a person can redo by hand).
Quantities come from a recorded build only: ``cohort``, ``indicator_results``, ``evidence``,
``households`` and the postcode lookup. There is no fitted model.

Loading validates the file like the rule sets do: unknown keys, wrong types, impossible values
and indicators the rule set does not define are one :class:`ConfigError` naming the file and the
dotted key.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from familymatch.config import ConfigContext
from familymatch.errors import ConfigError
from familymatch.standardise import normalise_postcode
from rules.engine import months_before
from rules.ruleset import RuleSet

DEFAULT_PRIORITY = Path(__file__).parent / "priority.toml"
AREAS = ("locality", "neighbourhood", "lsoa")
MEASURES = (
    "criteria_met",
    "all_criteria",
    "met",
    "value",
    "evidence_rows",
    "recent_rows",
    "months_since_earliest",
    "area_families",
)
NEEDS_INDICATORS = frozenset(
    {"met", "value", "evidence_rows", "recent_rows", "months_since_earliest"}
)
TAKES_EVENT_TYPES = frozenset({"met", "evidence_rows", "recent_rows", "months_since_earliest"})
FLAG_MEASURES = frozenset({"all_criteria", "met"})
NOT_IN_LOOKUP = "not in lookup"


@dataclass(frozen=True)
class Factor:
    name: str
    label: str
    measure: str
    points: int
    above: float = 0.0
    every: float = 1.0
    cap: int | None = None
    indicators: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    within_months: int | None = None
    area: str | None = None
    unit: str = ""

    def score(self, quantity: float) -> int:
        """Whole points for ``quantity`` (the formula in the module docstring)."""
        units = math.floor(max(0.0, quantity - self.above) / self.every)
        raw = units * self.points
        return raw if self.cap is None else min(self.cap, raw)

    def rule(self) -> str:
        """The factor in words: ``fixed-term exclusions ...: 2 points each, at most 12``."""
        if self.measure in FLAG_MEASURES:
            return f"{self.label}: {self.points} points"
        unit = self.unit if self.unit.startswith("%") else f" {self.unit}".rstrip()
        if self.above or self.every != 1:
            text = f"{self.points} points for each {_num(self.every)}{unit}"
            if self.above:
                text += f" above {_num(self.above)}{unit}"
        else:
            text = f"{self.points} points each"
        if self.cap is not None:
            text += f", at most {self.cap}"
        return f"{self.label}: {text}"

    def explain(self, quantity: float) -> str:
        """One line a person can check: ``+4 label (27.5, 2 x 2)``."""
        pts = self.score(quantity)
        if self.measure in FLAG_MEASURES:
            return f"{pts:+d} {self.label}"
        units = math.floor(max(0.0, quantity - self.above) / self.every)
        raw = units * self.points
        q = _num(quantity) + (self.unit if self.unit.startswith("%") else f" {self.unit}")
        q = q.rstrip()
        detail = f"{q} x {self.points}"
        if self.above or self.every != 1:
            detail = f"{q}: {units} x {self.points}"
        if self.cap is not None and raw > self.cap:
            detail += f" = {raw}, at most {self.cap}"
        return f"{pts:+d} {self.label} ({detail})"


@dataclass(frozen=True)
class PriorityConfig:
    path: Path
    sha256: str
    text: str
    name: str
    title: str
    version: str
    rule_set: str | None
    factors: dict[str, Factor]
    highlight_top: int = 10
    teams: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.name} {self.version} ({self.path.name}, sha256 {self.sha256[:12]})"


def _num(q: float) -> str:
    return f"{q:g}" if float(q).is_integer() else f"{q:.1f}"


class _Ctx(ConfigContext):
    def names(self, key: str, value: Any, empty: bool = False) -> tuple[str, ...]:
        return super().names(key, value, empty)


FACTOR_KEYS = {
    "label",
    "measure",
    "points",
    "above",
    "every",
    "cap",
    "indicators",
    "event_types",
    "within_months",
    "area",
    "unit",
}


def _factor(ctx: _Ctx, name: str, raw: Any) -> Factor:
    key = f"factors.{name}"
    raw = ctx.table(key, raw)
    ctx.keys(key, raw, FACTOR_KEYS)
    for required in ("measure", "points"):
        if required not in raw:
            raise ctx.fail(f"{key}.{required}", "is required.")
    measure = raw["measure"]
    if measure not in MEASURES:
        raise ctx.fail(f"{key}.measure", f"'{measure}' is not one of {', '.join(MEASURES)}.")
    points = ctx.whole(f"{key}.points", raw["points"])
    above = ctx.number(f"{key}.above", raw.get("above", 0))
    every = ctx.number(f"{key}.every", raw.get("every", 1))
    if every <= 0:
        raise ctx.fail(f"{key}.every", f"must be above 0 (got {_num(every)}).")
    cap = ctx.whole(f"{key}.cap", raw["cap"]) if "cap" in raw else None
    if measure in FLAG_MEASURES:
        for k in ("above", "every", "cap"):
            if k in raw:
                raise ctx.fail(f"{key}.{k}", f"does not apply to a yes/no measure ('{measure}').")
    indicators: tuple[str, ...] = ()
    if measure in NEEDS_INDICATORS:
        if "indicators" not in raw:
            raise ctx.fail(f"{key}.indicators", f"is required for measure '{measure}'.")
        indicators = ctx.names(f"{key}.indicators", raw["indicators"])
    elif "indicators" in raw:
        raise ctx.fail(f"{key}.indicators", f"does not apply to measure '{measure}'.")
    event_types: tuple[str, ...] = ()
    if "event_types" in raw:
        if measure not in TAKES_EVENT_TYPES:
            raise ctx.fail(f"{key}.event_types", f"does not apply to measure '{measure}'.")
        event_types = ctx.names(f"{key}.event_types", raw["event_types"])
    within = None
    if measure == "recent_rows":
        if "within_months" not in raw:
            raise ctx.fail(f"{key}.within_months", "is required for measure 'recent_rows'.")
        within = ctx.whole(f"{key}.within_months", raw["within_months"], minimum=1)
        if within > 240:
            raise ctx.fail(f"{key}.within_months", f"{within} months is not a plausible window.")
    elif "within_months" in raw:
        raise ctx.fail(f"{key}.within_months", f"does not apply to measure '{measure}'.")
    area = None
    if measure == "area_families":
        area = raw.get("area")
        if area not in AREAS:
            raise ctx.fail(f"{key}.area", f"must be one of {', '.join(AREAS)} (got {area!r}).")
    elif "area" in raw:
        raise ctx.fail(f"{key}.area", f"does not apply to measure '{measure}'.")
    return Factor(
        name=name,
        label=ctx.text(f"{key}.label", raw.get("label", name.replace("_", " "))),
        measure=measure,
        points=points,
        above=above,
        every=every,
        cap=cap,
        indicators=indicators,
        event_types=event_types,
        within_months=within,
        area=area,
        unit=ctx.text(f"{key}.unit", raw["unit"]) if "unit" in raw else "",
    )


def load_priority(path: Path | None = None) -> PriorityConfig:
    """Load and validate a priority file (default ``rules/priority.toml``)."""
    path = path or DEFAULT_PRIORITY
    if not path.is_file():
        raise ConfigError(f"{path}: priority file not found.")
    raw_bytes = path.read_bytes()
    try:
        text = raw_bytes.decode("utf-8")
        data = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: is not valid TOML ({exc}).") from None
    return parse_priority(data, path, text, hashlib.sha256(raw_bytes).hexdigest())


def parse_priority(data: dict[str, Any], path: Path, text: str, sha256: str) -> PriorityConfig:
    """Validate parsed TOML (``path`` is named in every error)."""
    ctx = _Ctx(path)
    ctx.keys("", data, {"priority", "factors", "lists", "teams"})
    meta = ctx.table("priority", data.get("priority", {}))
    ctx.keys("priority", meta, {"name", "title", "version", "rule_set", "notes"})
    for k in ("name", "title", "version", "rule_set"):
        if k in meta:
            ctx.text(f"priority.{k}", meta[k])
    factors_raw = ctx.table("factors", data.get("factors", {}))
    if not factors_raw:
        raise ctx.fail("factors", "at least one factor is required.")
    factors = {n: _factor(ctx, n, v) for n, v in factors_raw.items()}
    lists = ctx.table("lists", data.get("lists", {}))
    ctx.keys("lists", lists, {"highlight_top"})
    highlight = ctx.whole("lists.highlight_top", lists.get("highlight_top", 10))
    teams_raw = ctx.table("teams", data.get("teams", {}))
    teams = {loc: ctx.text(f"teams.{loc}", team) for loc, team in teams_raw.items()}
    return PriorityConfig(
        path=path,
        sha256=sha256,
        text=text,
        name=str(meta.get("name", path.stem)),
        title=str(meta.get("title", path.stem)),
        version=str(meta.get("version", "")),
        rule_set=meta.get("rule_set"),
        factors=factors,
        highlight_top=highlight,
        teams=teams,
    )


def priority_from_text(text: str, path: Path) -> PriorityConfig:
    """A priority configuration recorded in a run (its text), named by its original path."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: is not valid TOML ({exc}).") from None
    return parse_priority(data, path, text, hashlib.sha256(text.encode("utf-8")).hexdigest())


def check_against(config: PriorityConfig, rule_set: RuleSet) -> None:
    """The factors name indicators of ``rule_set`` (and the file was written for it)."""
    ctx = _Ctx(config.path)
    if config.rule_set is not None and config.rule_set != rule_set.name:
        raise ctx.fail(
            "priority.rule_set",
            f"is written for rule set '{config.rule_set}', but the build used "
            f"'{rule_set.name}'; give a priority file for it with --priority.",
        )
    for f in config.factors.values():
        for ind in f.indicators:
            if ind not in rule_set.indicators:
                raise ctx.fail(
                    f"factors.{f.name}.indicators",
                    f"indicator '{ind}' is not defined in rule set '{rule_set.name}'.",
                )


# --------------------------------------------------------------------------- scoring


@dataclass
class Scores:
    """Per cohort family: ``families`` (household_id, family_ref, n_criteria, combination,
    locality, neighbourhood, lsoa, score, breakdown) and ``factors`` (household_id, factor,
    label, quantity, points, line) for every factor, zero points included."""

    config: PriorityConfig
    families: pl.DataFrame
    factors: pl.DataFrame


def whole_months(earliest: pl.Expr, reference: date) -> pl.Expr:
    """Whole months from ``earliest`` to ``reference`` (a month counts once its day is reached)."""
    months = (reference.year - earliest.dt.year()) * 12 + (reference.month - earliest.dt.month())
    return months - (pl.lit(reference.day) < earliest.dt.day()).cast(pl.Int32)


def family_areas(households: pl.DataFrame, lookup: pl.DataFrame | None) -> pl.DataFrame:
    """household_id, family_ref, address, postcode, locality, neighbourhood, lsoa (areas from the
    postcode lookup; "not in lookup" when the postcode is missing from it)."""
    hh = households.select("household_id", "family_ref", "address", "postcode").with_columns(
        normalise_postcode(pl.col("postcode")).alias("postcode")
    )
    if lookup is None:
        return hh.with_columns(pl.lit(NOT_IN_LOOKUP).alias(a) for a in AREAS)
    return hh.join(
        lookup.select("postcode", *AREAS).unique("postcode"), on="postcode", how="left"
    ).with_columns(pl.col(a).fill_null(NOT_IN_LOOKUP) for a in AREAS)


def score_families(
    config: PriorityConfig,
    cohort: pl.DataFrame,
    indicator_results: pl.DataFrame,
    evidence: pl.DataFrame,
    areas: pl.DataFrame,
    reference_date: date,
    n_criteria_total: int,
) -> Scores:
    """Score every family in the cohort (``in_cohort``) of one build.

    ``areas`` is :func:`family_areas` of the build's households. Pure: frames in, frames out."""
    fam = (
        cohort.filter(pl.col("in_cohort"))
        .select("household_id", "n_criteria", "combination")
        .join(areas, on="household_id", how="left")
    )
    ids = fam.select("household_id")
    ir = indicator_results.join(ids, on="household_id")
    ev = evidence.join(ids, on="household_id")
    rows = []
    for f in config.factors.values():
        q = _quantity(f, fam, ir, ev, reference_date, n_criteria_total)
        rows.append(
            ids.join(q, on="household_id", how="left").select(
                "household_id",
                pl.lit(f.name).alias("factor"),
                pl.lit(f.label).alias("label"),
                pl.col("q").fill_null(0).cast(pl.Float64).alias("quantity"),
            )
        )
    long = pl.concat(rows) if rows else pl.DataFrame()
    pts = [
        config.factors[n].score(q) for n, q in zip(long["factor"], long["quantity"], strict=True)
    ]
    lines = [
        config.factors[n].explain(q) for n, q in zip(long["factor"], long["quantity"], strict=True)
    ]
    long = long.with_columns(
        pl.Series("points", pts, dtype=pl.Int64), pl.Series("line", lines, dtype=pl.String)
    )
    order = {n: i for i, n in enumerate(config.factors)}
    long = long.with_columns(
        pl.col("factor").replace_strict(order, return_dtype=pl.Int32).alias("_o")
    ).sort("household_id", "_o")
    totals = long.group_by("household_id", maintain_order=True).agg(
        pl.col("points").sum().alias("score"),
        pl.col("line").filter(pl.col("points") != 0).str.join("\n").alias("breakdown"),
    )
    families = fam.join(totals, on="household_id", how="left").sort("household_id")
    return Scores(config, families, long.drop("_o"))


def _quantity(
    f: Factor,
    fam: pl.DataFrame,
    ir: pl.DataFrame,
    ev: pl.DataFrame,
    reference: date,
    n_total: int,
) -> pl.DataFrame:
    """household_id, q for one factor (households without a row score 0)."""
    if f.measure == "criteria_met":
        return fam.select("household_id", pl.col("n_criteria").cast(pl.Float64).alias("q"))
    if f.measure == "all_criteria":
        return fam.select(
            "household_id", (pl.col("n_criteria") >= n_total).cast(pl.Float64).alias("q")
        )
    if f.measure == "area_families":
        assert f.area is not None
        known = fam.filter(pl.col(f.area) != NOT_IN_LOOKUP)
        per_area = known.group_by(f.area).agg(pl.len().cast(pl.Float64).alias("q"))
        return known.join(per_area, on=f.area).select("household_id", "q")
    inds = list(f.indicators)
    rows = ev.filter(pl.col("indicator").is_in(inds))
    if f.event_types:
        rows = rows.filter(pl.col("value").is_in(list(f.event_types)))
    if f.measure == "met":
        if f.event_types:
            met = rows.select("household_id").unique()
        else:
            met = ir.filter(pl.col("indicator").is_in(inds) & pl.col("met")).select("household_id")
        return met.unique().with_columns(pl.lit(1.0).alias("q"))
    if f.measure == "value":
        return (
            ir.filter(pl.col("indicator").is_in(inds))
            .group_by("household_id")
            .agg(pl.col("value").max().round(1).alias("q"))
        )
    # evidence rows may repeat one record when an indicator serves two criteria
    rows = rows.unique(["household_id", "indicator", "record_id"])
    if f.measure == "evidence_rows":
        return rows.group_by("household_id").agg(pl.len().cast(pl.Float64).alias("q"))
    if f.measure == "recent_rows":
        assert f.within_months is not None
        lower = months_before(reference, f.within_months)
        recent = rows.filter((pl.col("date") > lower) & (pl.col("date") <= reference))
        return recent.group_by("household_id").agg(pl.len().cast(pl.Float64).alias("q"))
    # months_since_earliest
    return (
        rows.drop_nulls("date")
        .group_by("household_id")
        .agg(pl.col("date").min().alias("earliest"))
        .select(
            "household_id",
            whole_months(pl.col("earliest"), reference)
            .clip(lower_bound=0)
            .cast(pl.Float64)
            .alias("q"),
        )
    )
