"""Rule sets as data: load and validate a rule set TOML (docs/rules.md explains the format).

A rule set has indicators (small named conditions over one source kind), criteria (indicators
combined with any / all / at_least), and an entry rule. Every problem is a ConfigError naming the
file and the dotted key.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from familymatch.canonical import SOURCE_KINDS
from familymatch.config import ConfigContext
from familymatch.errors import ConfigError

RULES_DIR = Path(__file__).parent
WHO = ("member", "child", "adult")
MEASURES = ("count", "unauthorised_rate", "absence_rate")
ANY_KIND = "any"  # an indicator over every record (e.g. a member aged 0-15)


@dataclass(frozen=True)
class Indicator:
    name: str
    kind: str
    description: str = ""
    measure: str = "count"
    who: str = "member"
    event_types: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()  # count only these outcomes (a null outcome counts)
    window_months: int | None = None
    window_terms: int | None = None
    open_at_reference: bool = False
    age_at_event_max: int | None = None
    age_min: int | None = None
    age_max: int | None = None
    min_count: int = 1
    threshold_pct: float | None = None
    census_terms: int | None = None


@dataclass(frozen=True)
class Criterion:
    name: str
    title: str
    indicators: tuple[str, ...]
    combine: str  # any | all | at_least
    at_least: int = 1


@dataclass(frozen=True)
class Entry:
    at_least: int
    all_criteria_admit: bool = True
    local_filter: tuple[str, ...] = ()
    take_all_at_least: bool = False
    require_any: tuple[str, ...] = ()
    # problems a parent living apart from the children may supply (None: apart parents are not
    # counted at all, as in phase 1)
    parent_apart_max_problems: int | None = None


@dataclass(frozen=True)
class RuleSet:
    name: str
    title: str
    version: str
    path: Path
    sha256: str
    indicators: dict[str, Indicator]
    criteria: dict[str, Criterion]
    entry: Entry
    notes: tuple[str, ...] = field(default_factory=tuple)

    def kinds(self) -> set[str]:
        return {i.kind for i in self.indicators.values()}


_Ctx = ConfigContext


def _names(ctx: _Ctx, key: str, value: Any) -> tuple[str, ...]:
    return ctx.names(key, value)


def _indicator(ctx: _Ctx, name: str, raw: Any) -> Indicator:
    key = f"indicators.{name}"
    if not isinstance(raw, dict):
        raise ctx.fail(key, "must be a table.")
    allowed = {f for f in Indicator.__dataclass_fields__ if f != "name"}
    ctx.keys(key, raw, allowed)
    if "kind" not in raw:
        raise ctx.fail(f"{key}.kind", "is required.")
    kind = ctx.typed(f"{key}.kind", raw["kind"], str, "a source kind")
    if kind not in SOURCE_KINDS and kind != ANY_KIND:
        raise ctx.fail(
            f"{key}.kind", f"'{kind}' is not a source kind ({', '.join(SOURCE_KINDS)}, or any)."
        )
    measure = raw.get("measure", "count")
    if measure not in MEASURES:
        raise ctx.fail(f"{key}.measure", f"must be one of {', '.join(MEASURES)}.")
    who = raw.get("who", "member")
    if who not in WHO:
        raise ctx.fail(f"{key}.who", f"must be one of {', '.join(WHO)}.")
    ints: dict[str, int | None] = {}
    for f in (
        "window_months",
        "window_terms",
        "age_at_event_max",
        "age_min",
        "age_max",
        "census_terms",
    ):
        v = raw.get(f)
        if v is not None:
            v = ctx.typed(f"{key}.{f}", v, int, "a whole number")
            if f in ("window_months", "window_terms", "census_terms") and v <= 0:
                raise ctx.fail(f"{key}.{f}", f"must be at least 1 (got {v}): an impossible window.")
            if f in ("window_months",) and v > 240:
                raise ctx.fail(f"{key}.{f}", f"{v} months is not a plausible window.")
            if f.startswith("age") and not 0 <= v <= 120:
                raise ctx.fail(f"{key}.{f}", "must be an age between 0 and 120.")
        ints[f] = v
    windows = [w for w in ("window_months", "window_terms") if ints[w] is not None]
    open_at = ctx.typed(
        f"{key}.open_at_reference", raw.get("open_at_reference", False), bool, "true or false"
    )
    if len(windows) + int(open_at) > 1:
        raise ctx.fail(key, "give one of window_months, window_terms or open_at_reference.")
    min_count = ctx.typed(f"{key}.min_count", raw.get("min_count", 1), int, "a whole number")
    if min_count < 1:
        raise ctx.fail(f"{key}.min_count", "must be at least 1.")
    threshold = raw.get("threshold_pct")
    if measure != "count":
        if kind != "school_census":
            raise ctx.fail(f"{key}.measure", "a rate is measured over school_census records only.")
        if threshold is None or ints["census_terms"] is None:
            raise ctx.fail(key, "a rate needs threshold_pct and census_terms.")
        threshold = ctx.typed(f"{key}.threshold_pct", threshold, float, "a percentage")
        if not 0 < threshold <= 100:
            raise ctx.fail(
                f"{key}.threshold_pct", f"must be above 0 and at most 100 (got {threshold})."
            )
    elif threshold is not None or ints["census_terms"] is not None:
        raise ctx.fail(key, "threshold_pct and census_terms belong to a rate measure.")
    if (
        ints["age_min"] is not None
        and ints["age_max"] is not None
        and ints["age_min"] > ints["age_max"]
    ):
        raise ctx.fail(f"{key}.age_min", "is above age_max: no one can meet it.")
    return Indicator(
        name=name,
        outcomes=ctx.outcome_codes(f"{key}.outcomes", raw.get("outcomes")),
        kind=kind,
        description=str(raw.get("description", "")),
        measure=measure,
        who=who,
        event_types=_names(ctx, f"{key}.event_types", raw["event_types"])
        if "event_types" in raw
        else (),
        window_months=ints["window_months"],
        window_terms=ints["window_terms"],
        open_at_reference=open_at,
        age_at_event_max=ints["age_at_event_max"],
        age_min=ints["age_min"],
        age_max=ints["age_max"],
        min_count=min_count,
        threshold_pct=threshold,
        census_terms=ints["census_terms"],
    )


def _criterion(ctx: _Ctx, name: str, raw: Any, indicators: dict[str, Indicator]) -> Criterion:
    key = f"criteria.{name}"
    if not isinstance(raw, dict):
        raise ctx.fail(key, "must be a table.")
    ctx.keys(key, raw, {"title", "any", "all", "at_least", "of"})
    modes = [m for m in ("any", "all", "of") if m in raw]
    if len(modes) != 1:
        raise ctx.fail(
            key, "needs exactly one of any = [...], all = [...] or at_least = N with of = [...]."
        )
    mode = modes[0]
    names = _names(ctx, f"{key}.{mode}", raw[mode])
    for n in names:
        if n not in indicators:
            raise ctx.fail(f"{key}.{mode}", f"indicator '{n}' is not defined under [indicators].")
    at_least = 1
    if mode == "of":
        at_least = ctx.typed(f"{key}.at_least", raw.get("at_least"), int, "a whole number")
        if not 1 <= at_least <= len(names):
            raise ctx.fail(f"{key}.at_least", f"must be between 1 and {len(names)}.")
    return Criterion(
        name=name,
        title=str(raw.get("title", name)),
        indicators=names,
        combine="at_least" if mode == "of" else mode,
        at_least=at_least if mode == "of" else (len(names) if mode == "all" else 1),
    )


def load_rule_set(name_or_path: str | Path, base: Path | None = None) -> RuleSet:
    """Load a rule set by name (rules/<name>.toml) or path (relative to ``base``)."""
    text_name = str(name_or_path)
    path = Path(text_name)
    if not path.suffix:
        path = RULES_DIR / f"{text_name}.toml"
    elif not path.is_absolute() and base is not None:
        path = base / path
    ctx = _Ctx(path)
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in RULES_DIR.glob("*.toml") if p.stem != "terms"))
        raise ConfigError(f"{path}: rule set not found (built in: {available}).")
    raw_bytes = path.read_bytes()
    try:
        data = tomllib.loads(raw_bytes.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: is not valid TOML ({exc}).") from None
    for k in data:
        if k not in {"rule_set", "entry", "criteria", "indicators"}:
            raise ctx.fail(k, "unknown key (allowed: rule_set, entry, criteria, indicators).")
    meta = data.get("rule_set", {})
    ctx.keys("rule_set", meta, {"name", "title", "version", "notes"})
    indicators = {n: _indicator(ctx, n, v) for n, v in data.get("indicators", {}).items()}
    if not data.get("criteria"):
        raise ctx.fail("criteria", "at least one criterion is required.")
    criteria = {n: _criterion(ctx, n, v, indicators) for n, v in data["criteria"].items()}
    for n in criteria:
        if "+" in n:
            raise ctx.fail(f"criteria.{n}", "a criterion name cannot contain '+'.")
    e = data.get("entry", {})
    ctx.keys(
        "entry",
        e,
        {
            "at_least",
            "all_criteria_admit",
            "local_filter",
            "take_all_at_least",
            "require_any",
            "parent_apart_max_problems",
        },
    )
    apart_max = e.get("parent_apart_max_problems")
    if apart_max is not None:
        apart_max = ctx.typed("entry.parent_apart_max_problems", apart_max, int, "a whole number")
        if not 0 <= apart_max <= len(criteria):
            raise ctx.fail(
                "entry.parent_apart_max_problems", f"must be between 0 and {len(criteria)}."
            )
    at_least = ctx.typed("entry.at_least", e.get("at_least", len(criteria)), int, "a whole number")
    if not 1 <= at_least <= len(criteria):
        raise ctx.fail("entry.at_least", f"must be between 1 and {len(criteria)} (the criteria).")
    entry = Entry(
        at_least=at_least,
        all_criteria_admit=ctx.typed(
            "entry.all_criteria_admit", e.get("all_criteria_admit", True), bool, "true or false"
        ),
        local_filter=_names(ctx, "entry.local_filter", e.get("local_filter", [])),
        take_all_at_least=ctx.typed(
            "entry.take_all_at_least", e.get("take_all_at_least", False), bool, "true or false"
        ),
        require_any=_names(ctx, "entry.require_any", e.get("require_any", [])),
        parent_apart_max_problems=apart_max,
    )
    for n in (*entry.local_filter, *entry.require_any):
        if n not in indicators:
            raise ctx.fail("entry", f"indicator '{n}' is not defined under [indicators].")
    return RuleSet(
        name=str(meta.get("name", path.stem)),
        title=str(meta.get("title", path.stem)),
        version=str(meta.get("version", "")),
        path=path,
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
        indicators=indicators,
        criteria=criteria,
        entry=entry,
        notes=tuple(meta.get("notes", [])),
    )


def check_sources(rule_set: RuleSet, available_kinds: set[str]) -> list[str]:
    """One sentence per criterion that no source can prove (its indicators' kinds are absent)."""
    messages = []
    for c in rule_set.criteria.values():
        kinds = available_kinds | {ANY_KIND}
        missing = sorted({rule_set.indicators[i].kind for i in c.indicators} - kinds)
        usable = [i for i in c.indicators if rule_set.indicators[i].kind in kinds]
        impossible = (c.combine == "any" and not usable) or (
            c.combine != "any" and len(usable) < c.at_least
        )
        if impossible:
            messages.append(
                f"criterion '{c.name}' cannot be met: no source of kind {', '.join(missing)}."
            )
    return messages
