"""What a caseworker's list says about each family, from a recorded build: its members (name,
date of birth, relationship, school), current address and area, the criteria it meets in plain
English ("Jordan Smith (14): 3 fixed-term exclusions in the last 3 school terms"), the services
already involved (the local discretionary cohorts its members are on), its team and key worker
when attached. ``familymatch.family_lists`` writes these frames as workbooks.

With a pseudonymisation key the frames hold no name, date of birth, address, postcode, school or
exact date: households and people are keyed hashes (``familymatch.pseudonyms``) of the family
reference and the person id, people are "child"/"adult" with an age, dates are months.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from familymatch.people import age_in_years, modal_dob
from familymatch.project import Project
from familymatch.pseudonyms import pseudonym
from familymatch.store import Store, read_rows_in, read_table
from familymatch.store import schema as s
from rules.priority import AREAS
from rules.ruleset import Indicator, RuleSet, load_rule_set

FAMILY_PREFIX = "H-"
PERSON_PREFIX = "P-"

TYPE_LABELS = {
    "FIXED": "fixed-term exclusion",
    "PERMANENT": "permanent exclusion",
    "PRU": "at a pupil referral unit",
    "AP": "in alternative provision",
    "EHE": "electively home educated",
    "CME": "missing education (on no school roll)",
    "JSA": "Jobseeker's Allowance",
    "IS": "Income Support",
    "IB": "Incapacity Benefit",
    "ESA": "Employment and Support Allowance",
    "CA": "Carer's Allowance",
    "SDA": "Severe Disablement Allowance",
    "UC": "Universal Credit",
    "HB": "Housing Benefit",
    "CTS": "Council Tax Support",
    "ASBO": "ASBO",
    "ASBI": "ASB injunction",
    "ABC": "acceptable behaviour contract",
    "CBO": "criminal behaviour order",
    "CI": "civil injunction",
    "HOUSING_NOTICE": "housing ASB notice",
    "HOUSING_INJUNCTION": "housing ASB injunction",
    "DEMOTION": "tenancy demotion",
    "EVICTION": "eviction",
    "CPP": "on a child protection plan",
    "CIN": "a child in need",
    "LAC": "looked after",
    "DA_INCIDENT": "domestic abuse incident",
    "MARAC": "MARAC referral",
    "NEET": "not in education, employment or training",
}
KIND_NOUNS = {
    "exclusions": "exclusion",
    "youth_offending": "proven offence",
    "asb_interventions": "ASB intervention",
    "asb_incidents": "ASB incident",
    "domestic_abuse": "domestic abuse incident",
    "health": "health service contact",
    "social_care": "social care record",
}
SERVICE_LABELS = {
    "FIP": "Family Intervention Project (FIP)",
    "CAF": "Common Assessment Framework (CAF)",
    "ISS": "Intensive Support Service (ISS)",
    "CPP": "child protection plan list (CPP)",
    "LAC": "looked-after children list (LAC)",
    "HOUSING_WAITING": "housing waiting list",
    "DISABILITY": "disability register",
}
RELATIONSHIP_ORDER = ("claimant", "partner", "dependant")
ENTRY = "entry"


@dataclass
class ListFrames:
    """``families``: one row per family (rank, family_ref, score, breakdown, criteria,
    services, members, address, postcode, areas, team, key_worker, attached_on, group);
    ``members``: one row per member (family_ref, rank, group, person, name, dob, age, sex,
    relationship, school). Pseudonymised frames lack the identifying columns."""

    families: pl.DataFrame
    members: pl.DataFrame
    reference_date: date
    pseudonymised: bool


def _label(code: str) -> str:
    return TYPE_LABELS.get(code, code.lower().replace("_", " "))


def _plural(noun: str, n: int) -> str:
    return noun if n == 1 else f"{noun}s"


def describe(ind: Indicator, g: dict[str, Any], when: Any) -> str:
    """Plain English for one person's evidence of one indicator (``g``: n, first, last, types,
    absent, possible; ``when`` formats a date)."""
    types = sorted(t for t in g.get("types") or [] if t)
    n = int(g.get("n") or 0)
    if ind.measure != "count":
        possible = g.get("possible") or 0
        rate = 100.0 * (g.get("absent") or 0) / possible if possible else 0.0
        what = "unauthorised absence" if ind.measure == "unauthorised_rate" else "absence"
        return f"{rate:.1f}% {what} over the last {ind.census_terms} terms of census data"
    first, last = g.get("first"), g.get("last")
    if ind.open_at_reference:
        labels = [_label(t) for t in types] or [ind.description or ind.name]
        state = ", ".join(labels)
        if ind.kind == "benefits":
            state = f"on {state}"
        return state + (f" since {when(first)}" if first else "")
    if ind.kind == "exclusions" and len(types) == 1:
        noun = _label(types[0])
        extra = ""
    else:
        noun = KIND_NOUNS.get(ind.kind, ind.kind.replace("_", " ") + " record")
        shown = [_label(t) for t in types if t != "DA_INCIDENT"]
        extra = f" ({', '.join(shown)})" if shown and ind.kind != "exclusions" else ""
    window = ""
    if ind.window_months:
        window = f" in the last {ind.window_months} months"
    elif ind.window_terms:
        window = f" in the last {ind.window_terms} school terms"
    dated = ""
    if last is not None:
        dated = f" (latest {when(last)})" if n > 1 else f" ({when(last)})"
    return f"{n} {_plural(noun, n)}{extra}{window}{dated}"


def _rule_set_of(project: Project, info: dict[str, Any]) -> RuleSet:
    rs = load_rule_set(project.rule_set, base=project.folder)
    if info.get("rule_set") and info["rule_set"] != rs.name:
        rs = load_rule_set(info["rule_set"])
    return rs


def people_of(records: pl.DataFrame, members: pl.DataFrame, reference: date) -> pl.DataFrame:
    """household_id, person_id, forename, surname, dob, age, sex, relationship, school: each
    member's most common name and date of birth across their records, the benefit-claim role
    (claimant, partner, dependant) or adult/child, and the school of their latest census term."""
    rec = members.join(records, on="record_id")
    keys = ["household_id", "person_id"]

    def mode(col: str) -> pl.Expr:
        return pl.col(col).drop_nulls().mode().sort().first().alias(col)

    def name(col: str) -> pl.Expr:
        # the spelling most sources use, preferring one in mixed case ("Siobhan" to "SIOBHAN")
        mixed = pl.col(col).filter(pl.col(col) != pl.col(col).str.to_uppercase())
        return pl.coalesce(
            mixed.drop_nulls().mode().sort().first(), pl.col(col).drop_nulls().mode().sort().first()
        ).alias(col)

    base = rec.group_by(keys).agg(name("forename"), name("surname"), mode("sex"))
    dob = modal_dob(rec, tuple(keys))
    rel = (
        rec.filter(pl.col("relationship").is_in(list(RELATIONSHIP_ORDER)))
        .with_columns(
            pl.col("relationship")
            .replace_strict({r: i for i, r in enumerate(RELATIONSHIP_ORDER)}, return_dtype=pl.Int32)
            .alias("_o")
        )
        .sort("_o")
        .group_by(keys, maintain_order=True)
        .first()
        .select(*keys, "relationship")
    )
    school = (
        rec.filter(pl.col("school").is_not_null())
        .sort(["term", "event_date"], nulls_last=False)
        .group_by(keys, maintain_order=True)
        .last()
        .select(*keys, "school")
    )
    people = (
        base.join(dob, on=keys, how="left")
        .join(rel, on=keys, how="left")
        .join(school, on=keys, how="left")
        .with_columns(age_in_years(pl.col("dob"), reference).alias("age"))
        .with_columns(
            pl.coalesce(
                "relationship",
                pl.when(pl.col("age") < 18)
                .then(pl.lit("child"))
                .when(pl.col("age") >= 18)
                .then(pl.lit("adult")),
                pl.lit("member"),
            ).alias("relationship")
        )
    )
    return people.sort(
        ["household_id", "age", "person_id"], descending=[False, True, False], nulls_last=True
    )


def gather_lists(
    store: Store,
    project: Project,
    build_run: int,
    families: pl.DataFrame,
    areas: pl.DataFrame,
    attachments: pl.DataFrame | None,
    key: bytes | None = None,
) -> ListFrames:
    """The list frames for ``families`` (family_ref, household_id, rank, score, breakdown, and
    team when grouping by team) of one build. ``areas`` is :func:`rules.priority.family_areas`;
    ``attachments`` the latest attachment per family (or None). ``key`` pseudonymises."""
    from familymatch.store.runs import run_info

    info = run_info(store, build_run)
    reference: date = info["reference_date"]
    rule_set = _rule_set_of(project, info)

    hh = families["household_id"].to_list()
    membership = read_rows_in(store, s.membership, build_run, "household_id", hh)
    records = read_rows_in(
        store, s.records, build_run, "record_id", membership["record_id"].to_list()
    )
    people = people_of(records, membership, reference)
    results = read_rows_in(store, s.indicator_results, build_run, "household_id", hh)
    evidence = read_rows_in(store, s.evidence, build_run, "household_id", hh).unique(
        ["household_id", "criterion", "indicator", "record_id"]
    )
    pseudo = key is not None

    def person_label(row: dict[str, Any]) -> str:
        age = row.get("age")
        if pseudo:
            assert key is not None
            who = "member" if age is None else "child" if age < 18 else "adult"
            p = pseudonym(key, str(row["person_id"]), PERSON_PREFIX)
            return f"{who} {p}" + (f" ({age})" if age is not None else "")
        name = " ".join(x for x in (row.get("forename"), row.get("surname")) if x) or "a member"
        return name + (f" ({age})" if age is not None else "")

    def when(d: Any) -> str:
        if d is None:
            return ""
        return d.strftime("%b %Y") if pseudo else d.strftime("%d/%m/%Y")

    criteria = _criteria_text(rule_set, results, evidence, records, people, person_label, when)
    services = _services(records, membership)
    member_lines = (
        people.with_columns(
            pl.Series(
                "line",
                [_member_line(r, person_label, pseudo) for r in people.iter_rows(named=True)],
                dtype=pl.String,
            )
        )
        .group_by("household_id", maintain_order=True)
        .agg(pl.col("line").str.join("\n").alias("members"))
    )
    fam = (
        families.join(areas.drop("family_ref"), on="household_id", how="left")
        .join(criteria, on="household_id", how="left")
        .join(services, on="household_id", how="left")
        .join(member_lines, on="household_id", how="left")
        .with_columns(pl.lit(reference).alias("data_as_at"))
    )
    if attachments is not None:
        fam = fam.join(
            attachments.select(
                "family_ref",
                "key_worker",
                pl.col("team").alias("_att_team"),
                "attached_on",
            ),
            on="family_ref",
            how="left",
        )
        fam = fam.drop("_att_team") if "team" in fam.columns else fam.rename({"_att_team": "team"})
    fam = fam.sort("rank")
    mem = people.join(
        families.select(
            "household_id",
            "family_ref",
            "rank",
            *(["group"] if "group" in families.columns else []),
        ),
        on="household_id",
    ).sort(["rank", "age"], descending=[False, True], nulls_last=True)
    if pseudo:
        assert key is not None
        fam = fam.with_columns(
            pl.col("family_ref")
            .map_elements(lambda v: pseudonym(key, v, FAMILY_PREFIX), return_dtype=pl.String)
            .alias("family_ref")
        ).drop("address", "postcode", "lsoa", "household_id", "attached_on", strict=False)
        mem = mem.with_columns(
            pl.col("family_ref").map_elements(
                lambda v: pseudonym(key, v, FAMILY_PREFIX), return_dtype=pl.String
            ),
            pl.col("person_id")
            .map_elements(lambda v: pseudonym(key, v, PERSON_PREFIX), return_dtype=pl.String)
            .alias("person"),
        ).select(
            "family_ref",
            "person",
            "rank",
            *(["group"] if "group" in mem.columns else []),
            "age",
            "sex",
            "relationship",
        )
    else:
        mem = mem.select(
            "family_ref",
            "rank",
            *(["group"] if "group" in mem.columns else []),
            "forename",
            "surname",
            "dob",
            "age",
            "sex",
            "relationship",
            "school",
        )
        fam = fam.drop("household_id", strict=False)
    return ListFrames(fam, mem, reference, pseudo)


def _member_line(row: dict[str, Any], label: Any, pseudo: bool) -> str:
    parts = [label(row), row["relationship"]]
    if not pseudo and row.get("school"):
        parts.append(row["school"])
    return ", ".join(p for p in parts if p)


def _criteria_text(
    rule_set: RuleSet,
    results: pl.DataFrame,
    evidence: pl.DataFrame,
    records: pl.DataFrame,
    people: pl.DataFrame,
    person_label: Any,
    when: Any,
) -> pl.DataFrame:
    """household_id, criteria: one line per (criterion, indicator, person) met."""
    met = results.filter(pl.col("met")).select("household_id", "criterion", "indicator")
    sessions = records.select(
        "record_id", "sessions_possible", "sessions_authorised", "sessions_unauthorised"
    )
    ev = evidence.join(met, on=["household_id", "criterion", "indicator"]).join(
        sessions, on="record_id", how="left"
    )
    per_person = ev.group_by("household_id", "criterion", "indicator", "person_id").agg(
        pl.len().alias("n"),
        pl.col("date").min().alias("first"),
        pl.col("date").max().alias("last"),
        pl.col("value").unique().alias("types"),
        pl.col("sessions_unauthorised").fill_null(0).sum().alias("unauth"),
        pl.col("sessions_authorised").fill_null(0).sum().alias("auth"),
        pl.col("sessions_possible").fill_null(0).sum().alias("possible"),
    )
    per_person = per_person.join(
        people.select("household_id", "person_id", "forename", "surname", "age"),
        on=["household_id", "person_id"],
        how="left",
    )
    crit_order = {c: i for i, c in enumerate(rule_set.criteria)}
    crit_order[ENTRY] = len(crit_order)
    ind_order = {n: i for i, n in enumerate(rule_set.indicators)}
    lines = []
    for r in per_person.iter_rows(named=True):
        ind = rule_set.indicators.get(r["indicator"])
        if ind is None:
            continue
        title = (
            rule_set.criteria[r["criterion"]].title
            if r["criterion"] in rule_set.criteria
            else "Local filter"
        )
        g = dict(r)
        g["absent"] = r["unauth"] + (r["auth"] if ind.measure == "absence_rate" else 0)
        if ind.measure != "count":
            g["types"] = []
        text = describe(ind, g, when)
        if ind.measure == "count" and not ind.open_at_reference and r["n"] == 0:
            text = ind.description
        lines.append(
            (
                r["household_id"],
                crit_order.get(r["criterion"], 99),
                ind_order.get(r["indicator"], 99),
                -(r["age"] if r["age"] is not None else -1),
                str(r["person_id"]),
                f"{title}: {person_label(r)}: {text}",
            )
        )
    frame = pl.DataFrame(
        lines,
        schema={
            "household_id": pl.String,
            "c": pl.Int64,
            "i": pl.Int64,
            "a": pl.Int64,
            "p": pl.String,
            "line": pl.String,
        },
        orient="row",
    )
    return (
        frame.sort("household_id", "c", "i", "a", "p")
        .group_by("household_id", maintain_order=True)
        .agg(pl.col("line").str.join("\n").alias("criteria"))
    )


def _services(records: pl.DataFrame, membership: pl.DataFrame) -> pl.DataFrame:
    """household_id, services: the discretionary cohorts any member is on, in plain English."""
    lists = (
        records.filter(pl.col("kind") == "discretionary")
        .select("record_id", "event_type")
        .drop_nulls("event_type")
        .join(membership.select("record_id", "household_id"), on="record_id")
        .select("household_id", "event_type")
        .unique()
        .with_columns(
            pl.col("event_type")
            .replace_strict(SERVICE_LABELS, default=pl.col("event_type"), return_dtype=pl.String)
            .alias("service")
        )
        .sort("household_id", "service")
    )
    return lists.group_by("household_id", maintain_order=True).agg(
        pl.col("service").str.join("\n").alias("services")
    )


__all__ = ["AREAS", "ListFrames", "describe", "gather_lists", "people_of"]


# --------------------------------------------------------------------------- which families, grouped

BY = ("locality", "team", "worker")
NOT_ATTACHED = "not yet attached"


@dataclass
class ListsPlan:
    """The families a set of lists shows and where they came from."""

    build_run: int
    select_run: int | None
    config: Any  # rules.priority.PriorityConfig
    frames: ListFrames
    by: str
    description: str


def plan_lists(
    store: Store,
    project: Project,
    build_run: int | None,
    by: str,
    *,
    selection_run: int | None = None,
    whole_cohort: bool = False,
    priority: Any = None,
    key: bytes | None = None,
) -> ListsPlan:
    """Pick the families (a recorded selection, by default the newest for the build; or the
    whole cohort scored with ``priority``), group them ``by`` locality, team or key worker, and
    gather their list frames."""
    from familymatch.errors import FamilyMatchError
    from familymatch.store import latest_run
    from rules.priority import family_areas, load_priority
    from rules.report import load_lookup
    from rules.select import (
        check_teams,
        latest_selection,
        rank_families,
        read_attachments,
        read_selection,
        score_build,
        team_of,
    )

    if by not in BY:
        raise FamilyMatchError(f"--by {by}: use one of {', '.join(BY)}.")
    attachments = read_attachments(store)
    if by == "worker" and (
        attachments is None or attachments["key_worker"].drop_nulls().len() == 0
    ):
        raise FamilyMatchError(
            "no key workers are recorded yet: attach families with `familymatch attach FILE` "
            "before listing them --by worker."
        )
    if selection_run is None and not whole_cohort:
        selection_run = latest_selection(store, build_run)
    if selection_run is not None and not whole_cohort:
        rec = read_selection(store, selection_run)
        if build_run is not None and rec.build_run != build_run:
            raise FamilyMatchError(
                f"selection run {selection_run} chose from build {rec.build_run}, not run "
                f"{build_run}."
            )
        build = rec.build_run
        config = rec.config
        families = rec.families.select("family_ref", "household_id", "rank", "score", "breakdown")
        lookup = load_lookup(project.postcode_lookup)
        areas = family_areas(read_table(store, s.households, build), lookup)
        localities = sorted(lookup["locality"].unique().to_list()) if lookup is not None else []
        description = (
            f"the {families.height} families chosen by selection run {selection_run} "
            f"(from build run {build})"
        )
    else:
        if build_run is None:
            found = latest_run(store)
            if found is None:
                raise FamilyMatchError(
                    f"no complete build in {store.label}; run `familymatch cohort build` first."
                )
            build_run = found
        build = build_run
        config = priority or load_priority()
        scored = score_build(store, project, build, config)
        families = rank_families(scored.scores.families).select(
            "family_ref", "household_id", "rank", "score", "breakdown"
        )
        areas = scored.areas
        localities = scored.localities
        selection_run = None
        description = f"every family in the cohort of build run {build} ({families.height})"
    with_area = families.join(
        areas.select("household_id", "locality"), on="household_id", how="left"
    )
    if by == "locality":
        grouped = with_area.with_columns(
            pl.col("locality").fill_null("not in lookup").alias("group")
        )
    elif by == "team":
        has_team = attachments is not None and attachments["team"].drop_nulls().len() > 0
        if not config.teams and not has_team:
            raise FamilyMatchError(
                f"no teams are known: map localities to teams under [teams] in {config.path}, "
                "or record each family's team with `familymatch attach`."
            )
        check_teams(config, localities)
        grouped = team_of(with_area, config, attachments).with_columns(
            pl.col("team").alias("group")
        )
    else:
        assert attachments is not None
        grouped = with_area.join(
            attachments.select("family_ref", "key_worker"), on="family_ref", how="left"
        ).with_columns(pl.col("key_worker").fill_null(NOT_ATTACHED).alias("group"))
    grouped = grouped.drop("locality", "key_worker", strict=False)
    frames = gather_lists(store, project, build, grouped, areas, attachments, key)
    return ListsPlan(build, selection_run, config, frames, by, description)


def _handling(pseudo: bool) -> list[str]:
    if pseudo:
        return [
            "Pseudonymised for analysis: families and people appear only as keyed hashes "
            "(H-..., P-...) made with the coordinator's key; there are no names, dates of birth, "
            "addresses, postcodes or schools, and dates are months. The same key gives the same "
            "hashes in every list, so lists can be compared; without the key they cannot be "
            "reversed. Still handle it as OFFICIAL-SENSITIVE: small groups can be recognised."
        ]
    return [
        "OFFICIAL-SENSITIVE: personal data about the families listed. Keep it on the council's "
        "secure systems, share it only with staff working with these families, and delete it "
        "when a newer list replaces it.",
        "The criteria and dates come from the council's extracts as at the date above; check a "
        "family's details with `familymatch cohort show` before acting on a surprising one.",
    ]


def write_lists(
    plan: ListsPlan,
    out_dir: Path,
    project_name: str,
    *,
    one_workbook: bool = False,
) -> list[Path]:
    """Write ``plan`` as workbooks (one per group, or one with sheets per group)."""
    from familymatch.family_lists import Cover, write_family_lists

    built = datetime.now().replace(microsecond=0)
    cfg = plan.config
    frames = plan.frames
    top = cfg.highlight_top
    by_word = {"locality": "locality", "team": "team", "worker": "key worker"}[plan.by]

    def cover_for(group: str | None, n: int) -> Cover:
        where = f"whose {by_word} is {group}" if group is not None else f"one sheet per {by_word}"
        lines: list[tuple[str, Any]] = [
            (
                "What this list is",
                f"Of {plan.description}, those {where}, highest priority first: each family's "
                "members, current address, the criteria it meets in plain English, the services "
                "already involved, and its priority score with the arithmetic behind it.",
            ),
            (by_word.capitalize() if group is not None else "Lists", group or f"by {by_word}"),
            ("Families", n),
            ("Data as at", frames.reference_date),
            ("List built", built),
            ("Build run", plan.build_run),
            (
                "Selection run",
                plan.select_run if plan.select_run is not None else "none: the whole cohort",
            ),
            ("Priority", f"{cfg.title} ({cfg.describe()})"),
            ("Shaded", f"the {top} families with the highest scores in each list"),
        ]
        if frames.pseudonymised:
            lines.append(("Pseudonymised", "yes: keyed hashes, no names or dates of birth"))
        rules = [f.rule() for f in cfg.factors.values()]
        return Cover(
            title=f"{project_name}: families to contact first"
            + (f" ({group})" if group is not None else ""),
            lines=lines,
            sections=[
                (
                    "How the priority score adds up",
                    [
                        "Each factor gives whole points; the score is their sum. Every family's "
                        "column 'How the score adds up' shows its own arithmetic.",
                        *rules,
                    ],
                ),
                ("Handling", _handling(frames.pseudonymised)),
            ],
        )

    stem = "family-list-pseudonymised" if frames.pseudonymised else "family-list"
    if one_workbook:
        stem = f"family-lists-by-{plan.by}" + ("-pseudonymised" if frames.pseudonymised else "")
    return write_family_lists(
        frames.families,
        frames.members,
        cover_for,
        out_dir,
        stem=stem,
        one_workbook=one_workbook,
        highlight_top=top,
    )
