"""Choosing the year's families: the cohort ranked by priority, with optional capacity per
locality or team and must-include / must-exclude lists, and why each family at the margin is in
or out. Recorded as a run of kind ``select``.

Ranking: score (high first), then criteria met (more first), then family reference, so the
order is total and the same on every run. Must-include families are taken first (they use their
group's capacity); then families in rank order until ``count`` are chosen, skipping a family
whose group has reached its capacity. Must-exclude families are never chosen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from familymatch.errors import FamilyMatchError
from familymatch.logs import get_logger
from familymatch.project import Project
from familymatch.store import Store, read_rows_in, read_table, recording_run
from familymatch.store import schema as s
from familymatch.store.runs import run_info
from rules.priority import (
    NOT_IN_LOOKUP,
    PriorityConfig,
    Scores,
    check_against,
    family_areas,
    priority_from_text,
    score_families,
)
from rules.report import load_lookup
from rules.ruleset import load_rule_set

log = get_logger(__name__)
GROUPINGS = ("locality", "team")
NO_TEAM = "no team"
REF_PATTERN = re.compile(r"^[A-Z]{1,3}\d{1,12}$")

# statuses of a family in a selection
MUST_INCLUDE = "must-include"
PRIORITY = "priority"
CAPACITY = "capacity"
TIE = "tie"
BELOW = "below cut"
MUST_EXCLUDE = "must-exclude"
CHOSEN = (MUST_INCLUDE, PRIORITY)


@dataclass(frozen=True)
class FamilyList:
    """Family references read from a file (one a line, or a CSV whose first column is
    ``family_ref``); ``lines`` maps each reference to its line number for messages."""

    path: Path
    refs: tuple[str, ...]
    lines: dict[str, int]
    sha256: str


def read_family_list(path: Path, option: str) -> FamilyList:
    """Read a must-include / must-exclude file; blank lines and ``#`` comments are skipped."""
    import hashlib

    if not path.is_file():
        raise FamilyMatchError(f"{option} {path}: the file does not exist.")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FamilyMatchError(f"{option} {path.name}: is not UTF-8 text.") from None
    refs: list[str] = []
    lines: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        value = line.split("#", 1)[0].split(",", 1)[0].strip().strip('"').strip()
        if not value or (not refs and value.lower() in ("family_ref", "family reference")):
            continue
        if not REF_PATTERN.match(value):
            # never echo the line: it may hold a name typed in by mistake
            raise FamilyMatchError(
                f"{option} {path.name} line {n}: is not a family reference (like F000123)."
            )
        if value in lines:
            raise FamilyMatchError(
                f"{option} {path.name} line {n}: family {value} is listed twice "
                f"(first on line {lines[value]})."
            )
        lines[value] = n
        refs.append(value)
    return FamilyList(path, tuple(refs), lines, hashlib.sha256(raw).hexdigest())


@dataclass(frozen=True)
class SelectionRequest:
    count: int
    capacity: dict[str, int] = field(default_factory=dict)
    capacity_by: str = "locality"
    must_include: FamilyList | None = None
    must_exclude: FamilyList | None = None
    margin: int = 5


@dataclass
class Selection:
    """``families``: every cohort family with rank, group, score, status, chosen, reason;
    ``margin``: the families whose place needed a reason (the last in, the first out, ties at
    the cut, capacity skips above the cut, both lists)."""

    families: pl.DataFrame
    margin: pl.DataFrame
    cut_score: int | None
    by_group: pl.DataFrame
    notes: list[str]

    @property
    def chosen(self) -> pl.DataFrame:
        return self.families.filter(pl.col("chosen"))


def parse_capacity(values: list[str]) -> dict[str, int]:
    """``["North=60", "East=40"]`` -> {"North": 60, "East": 40}."""
    out: dict[str, int] = {}
    for v in values:
        name, sep, number = v.rpartition("=")
        name = name.strip()
        if not sep or not name:
            raise FamilyMatchError(f"--capacity '{v}': give NAME=NUMBER, e.g. --capacity East=40.")
        try:
            n = int(number)
        except ValueError:
            raise FamilyMatchError(
                f"--capacity '{v}': '{number.strip()}' is not a whole number."
            ) from None
        if n < 0:
            raise FamilyMatchError(f"--capacity '{v}': a capacity cannot be negative.")
        if name in out:
            raise FamilyMatchError(f"--capacity: '{name}' is given twice.")
        out[name] = n
    return out


def rank_families(families: pl.DataFrame) -> pl.DataFrame:
    """Sort by score, criteria met, family reference and number the ranks from 1."""
    return families.sort(
        ["score", "n_criteria", "family_ref"], descending=[True, True, False], nulls_last=True
    ).with_row_index("rank", offset=1)


def select_families(
    scored: pl.DataFrame,
    request: SelectionRequest,
    groups: list[str],
    run_id: int,
) -> Selection:
    """Choose ``request.count`` families from ``scored`` (family_ref, household_id, score,
    n_criteria, group). ``groups`` are the valid capacity keys (the localities of the postcode
    lookup, or the teams). Pure: a frame in, a frame out."""
    r = request
    what = "locality" if r.capacity_by == "locality" else "team"
    plural = "localities" if what == "locality" else "teams"
    known = set(groups)
    for name in r.capacity:
        if name not in known:
            raise FamilyMatchError(
                f"--capacity: '{name}' is not a {what} ({plural}: {', '.join(sorted(known))})."
            )
    refs = set(scored["family_ref"].to_list())
    include = r.must_include.refs if r.must_include else ()
    exclude = r.must_exclude.refs if r.must_exclude else ()
    for fl, option in ((r.must_include, "--must-include"), (r.must_exclude, "--must-exclude")):
        if fl is None:
            continue
        for ref in fl.refs:
            if ref not in refs:
                raise FamilyMatchError(
                    f"{option} {fl.path.name} line {fl.lines[ref]}: family {ref} is not in the "
                    f"cohort of run {run_id}."
                )
    both = sorted(set(include) & set(exclude))
    if both:
        raise FamilyMatchError(
            f"family {both[0]} is on both the must-include and the must-exclude list."
        )
    available = scored.height - len(exclude)
    if r.count < 1:
        raise FamilyMatchError(f"--count {r.count}: choose at least one family.")
    if r.count > available:
        after = " after the must-exclude list" if exclude else ""
        raise FamilyMatchError(
            f"--count {r.count} is more than the {available} families in the cohort of run "
            f"{run_id}{after}."
        )
    if len(include) > r.count:
        raise FamilyMatchError(
            f"--must-include lists {len(include)} families, more than --count {r.count}."
        )
    ranked = rank_families(scored)
    n = ranked.height
    used: dict[str, int] = {}
    status: dict[str, str] = {}
    inc, exc = set(include), set(exclude)
    for ref, group in (
        ranked.filter(pl.col("family_ref").is_in(list(inc)))
        .select("family_ref", "group")
        .iter_rows()
    ):
        status[ref] = MUST_INCLUDE
        used[group] = used.get(group, 0) + 1
    chosen = len(inc)
    for ref, group in ranked.select("family_ref", "group").iter_rows():
        if ref in status:
            continue
        if ref in exc:
            status[ref] = MUST_EXCLUDE
        elif chosen >= r.count:
            status[ref] = BELOW
        elif group in r.capacity and used.get(group, 0) >= r.capacity[group]:
            status[ref] = CAPACITY
        else:
            status[ref] = PRIORITY
            used[group] = used.get(group, 0) + 1
            chosen += 1
    fam = ranked.with_columns(
        pl.col("family_ref").replace_strict(status, return_dtype=pl.String).alias("status")
    ).with_columns(pl.col("status").is_in(list(CHOSEN)).alias("chosen"))
    by_priority = fam.filter(pl.col("status") == PRIORITY)
    cut = int(by_priority["score"].min()) if by_priority.height else None  # type: ignore[arg-type]
    last = by_priority.tail(1).row(0, named=True) if by_priority.height else None
    if cut is not None:
        fam = fam.with_columns(
            pl.when((pl.col("status") == BELOW) & (pl.col("score") == cut))
            .then(pl.lit(TIE))
            .otherwise(pl.col("status"))
            .alias("status")
        )
    reasons = [_reason(row, n, cut, last, r) for row in fam.iter_rows(named=True)]
    fam = fam.with_columns(pl.Series("reason", reasons, dtype=pl.String))
    notes = []
    if chosen < r.count:
        full = sorted(g for g in r.capacity if used.get(g, 0) >= r.capacity[g])
        notes.append(
            f"only {chosen} of the {r.count} families requested could be chosen: the capacity "
            f"of {', '.join(full)} is reached and no other family is left."
        )
    margin = _margin(fam, r.margin)
    by_group = (
        fam.group_by("group")
        .agg(
            pl.len().alias("cohort_families"),
            pl.col("chosen").sum().alias("chosen"),
        )
        .with_columns(
            pl.col("group")
            .replace_strict(r.capacity, default=None, return_dtype=pl.Int64)
            .alias("capacity")
        )
        .sort("group")
    )
    return Selection(fam, margin, cut, by_group, notes)


def _reason(
    row: dict[str, Any],
    n: int,
    cut: int | None,
    last: dict[str, Any] | None,
    r: SelectionRequest,
) -> str:
    st, rank, score = row["status"], row["rank"], row["score"]
    if st == MUST_INCLUDE:
        src = r.must_include.path.name if r.must_include else "the must-include list"
        return f"in: on the must-include list ({src}); by priority alone it ranks {rank} of {n}"
    if st == MUST_EXCLUDE:
        src = r.must_exclude.path.name if r.must_exclude else "the must-exclude list"
        return f"out: on the must-exclude list ({src}); by priority alone it ranks {rank} of {n}"
    if st == PRIORITY:
        if score == cut:
            return (
                f"in: rank {rank} of {n}, score {score}, tied at the lowest score chosen and "
                "ahead on criteria met, then family reference"
            )
        return f"in: rank {rank} of {n}, score {score} (the lowest score chosen is {cut})"
    if st == CAPACITY:
        return (
            f"out: score {score} (rank {rank}), but {row['group']} had already reached its "
            f"capacity of {r.capacity.get(row['group'])} families"
        )
    if st == TIE and last is not None:
        return (
            f"out: tied at {score} with the last family in ({last['family_ref']}); ties go to "
            "more criteria met, then the lower family reference"
        )
    if cut is None:
        return f"out: score {score} (rank {rank}); every place went to the must-include list"
    return f"out: score {score} (rank {rank}) is below the lowest score chosen ({cut})"


def _margin(fam: pl.DataFrame, k: int) -> pl.DataFrame:
    prio = fam.filter(pl.col("status") == PRIORITY).tail(k)["family_ref"]
    first_out = fam.filter(pl.col("status").is_in([BELOW, TIE, CAPACITY])).head(k)["family_ref"]
    cut = fam.filter(pl.col("status") == PRIORITY)["score"].min()
    ties = fam.filter(pl.col("status") == TIE)["family_ref"]
    lists = fam.filter(pl.col("status").is_in([MUST_INCLUDE, MUST_EXCLUDE]))["family_ref"]
    skipped = (
        fam.filter((pl.col("status") == CAPACITY) & (pl.col("score") >= (cut or 0)))
        .group_by("group", maintain_order=True)
        .head(k)["family_ref"]
    )
    keep = pl.concat([prio, first_out, ties, lists, skipped]).unique()
    return fam.filter(pl.col("family_ref").is_in(keep.implode())).sort("rank")


# --------------------------------------------------------------------------- from a build


@dataclass
class ScoredBuild:
    """A build's cohort scored: the scores, the families' areas and teams."""

    run_id: int
    info: dict[str, Any]
    scores: Scores
    areas: (
        pl.DataFrame
    )  # household_id, family_ref, address, postcode, locality, neighbourhood, lsoa
    localities: list[str]


def score_build(store: Store, project: Project, run_id: int, config: PriorityConfig) -> ScoredBuild:
    """Read a complete build and score its cohort with ``config``."""
    info = run_info(store, run_id)
    if info["kind"] != "build":
        raise FamilyMatchError(f"run {run_id} is a {info['kind']} run, not a cohort build.")
    rule_set = load_rule_set(project.rule_set, base=project.folder)
    if info["rule_set"] and info["rule_set"] != rule_set.name:
        # the project now names another rule set: score by the one the build used, if built in
        rule_set = load_rule_set(info["rule_set"])
    check_against(config, rule_set)
    lookup = load_lookup(project.postcode_lookup)
    areas = family_areas(read_table(store, s.households, run_id), lookup)
    cohort = read_table(store, s.cohort, run_id)
    ids = cohort.filter(pl.col("in_cohort"))["household_id"].to_list()
    scores = score_families(
        config,
        cohort,
        read_rows_in(store, s.indicator_results, run_id, "household_id", ids),
        read_rows_in(store, s.evidence, run_id, "household_id", ids),
        areas,
        info["reference_date"],
        len(rule_set.criteria),
    )
    localities = (
        sorted(lookup["locality"].drop_nulls().unique().to_list()) if lookup is not None else []
    )
    log.info("scored %d cohort families of run %d", scores.families.height, run_id)
    return ScoredBuild(run_id, info, scores, areas, localities)


def team_of(
    families: pl.DataFrame, config: PriorityConfig, attachments: pl.DataFrame | None
) -> pl.DataFrame:
    """``families`` (family_ref, locality) with a ``team`` column: the team recorded by the
    latest attachment, else the [teams] mapping of the family's locality, else "no team"."""
    mapped = families.with_columns(
        pl.col("locality")
        .replace_strict(config.teams, default=None, return_dtype=pl.String)
        .alias("team")
    )
    if attachments is not None and "team" in attachments.columns:
        att = attachments.select("family_ref", pl.col("team").alias("_att_team")).drop_nulls()
        mapped = (
            mapped.join(att, on="family_ref", how="left")
            .with_columns(pl.coalesce("_att_team", "team").alias("team"))
            .drop("_att_team")
        )
    return mapped.with_columns(pl.col("team").fill_null(NO_TEAM))


def check_teams(config: PriorityConfig, localities: list[str]) -> None:
    """Every [teams] key is a locality of the postcode lookup."""
    for loc in config.teams:
        if localities and loc not in localities:
            raise FamilyMatchError(
                f"{config.path}: teams.{loc}: '{loc}' is not a locality of the postcode lookup "
                f"(localities: {', '.join(localities)})."
            )


def read_attachments(store: Store) -> pl.DataFrame | None:
    """The latest attachment of each family from complete ``attach`` runs: family_ref,
    key_worker, team, attached_on; None if nothing is recorded."""
    from familymatch.store import read_kind

    frame = read_kind(store, s.attachments, "attach")
    if frame.height == 0:
        return None
    return (
        frame.sort(["family_ref", "run_id", "attached_on"], nulls_last=False)
        .group_by("family_ref", maintain_order=True)
        .last()
        .select("family_ref", "key_worker", "team", "attached_on")
    )


@dataclass
class SelectResult:
    run_id: int
    build_run: int
    selection: Selection
    scored: ScoredBuild
    summary: dict[str, Any]
    workbook: Path | None = None


def run_selection(
    store: Store,
    project: Project,
    build_run: int,
    config: PriorityConfig,
    request: SelectionRequest,
    write: Callable[[int, Selection, ScoredBuild], Path | None] | None = None,
) -> SelectResult:
    """Score the build, choose the families, and record a ``select`` run. ``write(run_id,
    selection, scored)`` writes the selection workbook while the run is being recorded."""
    scored = score_build(store, project, build_run, config)
    fam = scored.scores.families
    if request.capacity_by == "team":
        check_teams(config, scored.localities)
        fam = team_of(fam, config, read_attachments(store)).with_columns(
            pl.col("team").alias("group")
        )
        groups = sorted(set(config.teams.values()) | set(fam["group"].to_list()))
    elif request.capacity_by == "locality":
        fam = fam.with_columns(pl.col("locality").alias("group"))
        groups = scored.localities or sorted(set(fam["group"].to_list()) - {NOT_IN_LOOKUP})
    else:
        raise FamilyMatchError(
            f"--capacity-by {request.capacity_by}: use one of {', '.join(GROUPINGS)}."
        )
    if request.capacity and not scored.localities and request.capacity_by == "locality":
        raise FamilyMatchError(
            f"--capacity needs the project's postcode_lookup ({project.path.name}) to know "
            "each family's locality."
        )
    selection = select_families(fam, request, groups, build_run)
    info = scored.info
    chosen = selection.chosen
    points = scored.scores.factors.filter(pl.col("points") != 0)
    per_family = {
        hh: dict(zip(g["factor"], g["points"], strict=True))
        for (hh,), g in points.group_by("household_id")
    }
    summary = {
        "build_run": build_run,
        "count_requested": request.count,
        "chosen": chosen.height,
        "cut_score": selection.cut_score,
        "capacity_by": request.capacity_by,
        "by_group": selection.by_group.to_dicts(),
        "notes": selection.notes,
        "families": [
            {
                "family_ref": row["family_ref"],
                "household_id": row["household_id"],
                "rank": row["rank"],
                "score": row["score"],
                "status": row["status"],
                "group": row["group"],
                "reason": row["reason"],
                "points": per_family.get(row["household_id"], {}),
                "breakdown": row["breakdown"],
            }
            for row in chosen.iter_rows(named=True)
        ],
        "margin": selection.margin.select(
            "family_ref", "rank", "score", "status", "group", "reason"
        ).to_dicts(),
    }

    def file_param(fl: FamilyList | None) -> dict[str, Any] | None:
        if fl is None:
            return None
        return {"path": str(fl.path), "sha256": fl.sha256, "families": len(fl.refs)}

    written: list[Path] = []
    try:
        with recording_run(
            store,
            "select",
            project_name=info["project_name"],
            project_path=info["project_path"],
            reference_date=info["reference_date"],
            rule_set=info["rule_set"],
            rule_set_sha256=info["rule_set_sha256"],
            parameters={
                "build_run": build_run,
                "count": request.count,
                "capacity_by": request.capacity_by,
                "capacity": request.capacity,
                "must_include": file_param(request.must_include),
                "must_exclude": file_param(request.must_exclude),
                "priority": {
                    "path": str(config.path),
                    "name": config.name,
                    "version": config.version,
                    "sha256": config.sha256,
                    "text": config.text,
                },
            },
        ) as run:
            run.summary = summary
            if write is not None:
                # inside the run: a failure to write leaves no recorded selection, and a failure
                # to record removes the file
                path = write(run.run_id, selection, scored)
                if path is not None:
                    written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    log.info(
        "selection run %d: %d of %d cohort families chosen from build %d",
        run.run_id,
        chosen.height,
        fam.height,
        build_run,
    )
    return SelectResult(
        run.run_id, build_run, selection, scored, summary, written[0] if written else None
    )


@dataclass
class RecordedSelection:
    run_id: int
    build_run: int
    config: PriorityConfig
    families: (
        pl.DataFrame
    )  # family_ref, household_id, rank, score, status, group, reason, breakdown
    summary: dict[str, Any]
    parameters: dict[str, Any]


def latest_selection(store: Store, build_run: int | None = None) -> int | None:
    """The newest complete ``select`` run (of ``build_run`` if given)."""
    from sqlalchemy import select

    query = (
        select(s.runs.c.id, s.runs.c.parameters)
        .where(s.runs.c.kind == "select", s.runs.c.status == "complete")
        .order_by(s.runs.c.id.desc())
    )
    with store.engine.connect() as conn:
        for run_id, params in conn.execute(query):
            if build_run is None or json.loads(params or "{}").get("build_run") == build_run:
                return int(run_id)
    return None


def read_selection(store: Store, run_id: int) -> RecordedSelection:
    """A recorded selection: its chosen families, scores and breakdowns, and its priority file."""
    info = run_info(store, run_id)
    if info["kind"] != "select":
        raise FamilyMatchError(f"run {run_id} is a {info['kind']} run, not a selection.")
    params = json.loads(info["parameters"] or "{}")
    summary = json.loads(info["summary"] or "{}")
    prio = params["priority"]
    config = priority_from_text(prio["text"], Path(prio["path"]))
    schema = {
        "family_ref": pl.String,
        "household_id": pl.String,
        "rank": pl.Int64,
        "score": pl.Int64,
        "status": pl.String,
        "group": pl.String,
        "reason": pl.String,
        "breakdown": pl.String,
    }
    families = pl.DataFrame(
        [{k: f.get(k) for k in schema} for f in summary.get("families", [])],
        schema=schema,
    )
    return RecordedSelection(
        run_id, int(params["build_run"]), config, families.sort("rank"), summary, params
    )


def selection_table(selection: Selection, scored: ScoredBuild) -> pl.DataFrame:
    """Every cohort family of a selection with its factor points as columns (for the workbook)."""
    sel = selection.families
    wide = scored.scores.factors.pivot(on="factor", index="household_id", values="points")
    factors = list(scored.scores.config.factors)
    return sel.join(wide.select("household_id", *factors), on="household_id", how="left").select(
        "rank",
        "family_ref",
        "chosen",
        "status",
        "reason",
        "score",
        "group",
        "locality",
        "neighbourhood",
        "n_criteria",
        "combination",
        *factors,
        "breakdown",
    )


__all__ = [
    "FamilyList",
    "NO_TEAM",
    "NOT_IN_LOOKUP",
    "RecordedSelection",
    "ScoredBuild",
    "SelectResult",
    "Selection",
    "SelectionRequest",
    "check_teams",
    "latest_selection",
    "parse_capacity",
    "rank_families",
    "read_attachments",
    "read_family_list",
    "read_selection",
    "run_selection",
    "score_build",
    "select_families",
    "selection_table",
    "team_of",
]


def selection_writer(
    path_for: Callable[[int], Path], project_name: str, request: SelectionRequest
) -> Callable[[int, Selection, ScoredBuild], Path]:
    """A ``write`` callback for :func:`run_selection`: the selection workbook at
    ``path_for(run_id)``."""
    from datetime import datetime

    from familymatch.family_lists import Cover, write_selection_workbook

    def write(run_id: int, selection: Selection, scored: ScoredBuild) -> Path:
        cfg = scored.scores.config
        chosen = selection.chosen.height
        what = "locality" if request.capacity_by == "locality" else "team"
        capacity = (
            ", ".join(f"{k} {v}" for k, v in sorted(request.capacity.items()))
            if request.capacity
            else "none"
        )
        lines: list[tuple[str, Any]] = [
            (
                "What this is",
                f"The choice of {chosen} families for the programme from the "
                f"{selection.families.height} in the cohort of build run {scored.run_id}, by "
                "priority score, with every family's rank, its factors' points, whether it was "
                "chosen and why. Families are named by reference only.",
            ),
            ("Selection run", run_id),
            ("Build run", scored.run_id),
            ("Data as at", scored.info["reference_date"]),
            ("Selected", datetime.now().replace(microsecond=0)),
            ("Families requested", request.count),
            ("Families chosen", chosen),
            ("Lowest score chosen", selection.cut_score),
            (f"Capacity by {what}", capacity),
            (
                "Must-include list",
                f"{request.must_include.path.name} ({len(request.must_include.refs)} families)"
                if request.must_include
                else "none",
            ),
            (
                "Must-exclude list",
                f"{request.must_exclude.path.name} ({len(request.must_exclude.refs)} families)"
                if request.must_exclude
                else "none",
            ),
            ("Priority", f"{cfg.title} ({cfg.describe()})"),
        ]
        sections = [
            (
                "How the choice is made",
                [
                    "Families are ranked by score, then criteria met, then family reference. "
                    "Must-include families are chosen first and use their group's capacity; "
                    "then families are taken in rank order, skipping one whose group is full, "
                    "until the number requested is reached. Must-exclude families are never "
                    "chosen. The Margin sheet explains the families either side of the cut.",
                ],
            ),
            ("How the priority score adds up", [f.rule() for f in cfg.factors.values()]),
        ]
        if selection.notes:
            sections.append(("Notes", selection.notes))
        return write_selection_workbook(
            selection_table(selection, scored),
            selection.margin,
            selection.by_group,
            {n: f.label for n, f in cfg.factors.items()},
            Cover(f"{project_name}: selection run {run_id}", lines, sections),
            path_for(run_id),
        )

    return write
