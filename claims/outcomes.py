"""Outcome evidence: a later period's extracts linked onto the persons and households of the
build the families were attached from.

The later extracts are ingested and standardised like any build's; then they are linked onto
that build's records (read back from the store) using the build's own fitted model (same
comparisons, same m and u, same term frequencies) with the build's persons held fixed (link
only: no pair of two build records is scored again), so a later record joins the person it
belongs to whatever its source. A later record whose person cluster holds a record of the build
takes that record's person and household; a later record that joined nobody of the build
(a baby, a new partner) joins the build household of the people it lives with at the later
date, as a new member (``N``-numbered person), so a problem they bring counts as the framework
says. Records of attached families are the outcome evidence. The import is recorded as a run of kind ``outcomes``: its records, each record's
person and household in the build (``persons`` / ``membership``), and the attached families'
evidence rows (``outcome_evidence``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from claims.records import require_attachments
from familymatch.addresses import resolve_addresses, with_addresses
from familymatch.addresses.claims import with_claim_addresses
from familymatch.addresses.gazetteer import read_gazetteer
from familymatch.canonical import CANONICAL_SCHEMA
from familymatch.errors import FamilyMatchError
from familymatch.households import build_households
from familymatch.ingest import ingest_project
from familymatch.link import LinkConfig, LinkResult, link_keys, link_records
from familymatch.link.blocking import BlockingRule, near, rule_groups
from familymatch.link.model import FSModel
from familymatch.project import Project, load_project
from familymatch.standardise import standardise
from familymatch.store import Store, audit, read_rows_in, read_table, recording_run, run_info
from familymatch.store import schema as s

BUILD_PREFIX = "build|"  # keeps the build's record ids apart from the later extract's
NEW = pl.col("person_id").str.starts_with("N")  # a newcomer: nobody of the build


@dataclass
class OutcomesImport:
    run_id: int
    build_run: int
    records: int
    matched: int  # later records that joined a person of the build (newcomers not counted)
    attached: int  # ... of whom in an attached family
    families_with_evidence: int
    by_source: pl.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)


def map_to_build(later_persons: pl.DataFrame, build_membership: pl.DataFrame) -> pl.DataFrame:
    """For each later record (record_id without the prefix), the build's person_id and
    household_id of its cluster (null when the cluster holds no record of the build).

    ``later_persons``: record_id, person_id (clusters over build + later records, the build's
    record ids prefixed); ``build_membership``: record_id, person_id, household_id of the build.
    A cluster holding records of several build persons takes the one with most records."""
    build = build_membership.select(
        (pl.lit(BUILD_PREFIX) + pl.col("record_id")).alias("record_id"),
        pl.col("person_id").alias("build_person"),
        pl.col("household_id").alias("build_household"),
    )
    clusters = later_persons.select("record_id", pl.col("person_id").alias("cluster"))
    best = (
        clusters.join(build, on="record_id")
        .group_by("cluster", "build_person", "build_household")
        .agg(pl.len().alias("n"))
        .sort(["cluster", "n", "build_person"], descending=[False, True, False])
        .group_by("cluster", maintain_order=True)
        .first()
        .drop("n")
    )
    later = clusters.filter(~pl.col("record_id").str.starts_with(BUILD_PREFIX))
    return later.join(best, on="cluster", how="left").select(
        "record_id",
        pl.col("build_person").alias("person_id"),
        pl.col("build_household").alias("household_id"),
    )


def join_newcomers(
    mapped: pl.DataFrame, persons: pl.DataFrame, later_households: pl.DataFrame
) -> pl.DataFrame:
    """Give a later record that joined no person of the build (a baby, a new partner, a person
    the build never saw) the build household of the people it lives with at the later date.

    ``mapped``: record_id, person_id, household_id from :func:`map_to_build`; ``persons``: the
    combined clusters; ``later_households``: record_id, household_id at the later date over the
    build's records (prefixed) and the later ones. The newcomer's person id is ``N`` + its
    cluster, the household the build household most of the later household's known people
    belonged to."""
    known = mapped.drop_nulls("person_id")
    unknown = mapped.filter(pl.col("person_id").is_null()).select("record_id")
    if unknown.height == 0:
        return mapped
    later_hh = later_households.select("record_id", pl.col("household_id").alias("later_hh"))
    # the later household's known people, by the build household they came from
    known_later = (
        known.join(later_hh, on="record_id")
        .group_by("later_hh", "household_id")
        .agg(pl.col("person_id").n_unique().alias("n"))
        .sort(["later_hh", "n", "household_id"], descending=[False, True, False])
        .group_by("later_hh", maintain_order=True)
        .first()
        .select("later_hh", pl.col("household_id").alias("joins"))
    )
    newcomers = (
        unknown.join(later_hh, on="record_id")
        .join(known_later, on="later_hh")
        .join(persons.select("record_id", "person_id"), on="record_id")
        .select(
            "record_id",
            pl.format("N{}", pl.col("person_id")).alias("new_person"),
            pl.col("joins"),
        )
    )
    return (
        mapped.join(newcomers, on="record_id", how="left")
        .with_columns(
            pl.coalesce("person_id", "new_person").alias("person_id"),
            pl.coalesce("household_id", "joins").alias("household_id"),
        )
        .select("record_id", "person_id", "household_id")
    )


@dataclass
class LinkedOntoBuild:
    """Later records linked onto a build's records (its persons held) by its fitted model."""

    std: pl.DataFrame  # both, standardised; the build's record ids prefixed BUILD_PREFIX
    linked: LinkResult  # persons over both; the scored pairs with a later record
    membership: pl.DataFrame  # the build's: record_id, person_id, household_id


def link_onto_build(
    store: Store,
    build_run: int,
    later: pl.DataFrame,
    seconds: dict[str, float] | None = None,
    say: Callable[[str], None] | None = None,
    gazetteer: pl.DataFrame | None = None,
) -> LinkedOntoBuild:
    """Link ``later`` (canonical records) onto build ``build_run``'s records using the build's
    own fitted model (same comparisons, m, u and term frequencies) with the build's persons held
    fixed (``link_records(fixed=...)``: only pairs with a later record are scored; a later
    record joins one build person or forms a new person with other later records): the one way
    a record from outside a build is matched to its people (outcomes, attachment by person
    details). Addresses of both resolve together (against ``gazetteer`` when given)."""
    seconds = {} if seconds is None else seconds
    say = say or (lambda _: None)
    t = time.perf_counter()
    say("read the build")
    build_records = read_table(store, s.records, build_run).select(list(CANONICAL_SCHEMA))
    membership = read_table(store, s.membership, build_run)
    build_persons = read_table(store, s.persons, build_run).select(
        (pl.lit(BUILD_PREFIX) + pl.col("record_id")).alias("record_id"), "person_id"
    )
    model = FSModel.from_json(read_table(store, s.link_models, build_run)["model_json"][0])
    seconds["read build"] = time.perf_counter() - t

    t = time.perf_counter()
    say("standardise")
    both = pl.concat(
        [
            build_records.with_columns(
                (pl.lit(BUILD_PREFIX) + pl.col("record_id")).alias("record_id")
            ),
            later,
        ]
    )
    std = standardise(both)
    std = with_addresses(std, resolve_addresses(std, gazetteer))
    seconds["standardise"] = time.perf_counter() - t

    t = time.perf_counter()
    say("link")
    # link only: the build's persons held, never a pair of two build records re-scored
    linked = link_records(with_claim_addresses(std), model=model, fixed=build_persons)
    seconds["link"] = time.perf_counter() - t
    return LinkedOntoBuild(std, linked, membership)


@dataclass
class Held:
    """An attaching build's attached families: their members' records (canonical), each
    record's person and household, and the build's fitted model."""

    records: pl.DataFrame
    membership: pl.DataFrame  # record_id, person_id, household_id
    model: FSModel


def held_families(store: Store, build_run: int, attachments: pl.DataFrame) -> Held:
    """The records of the families attached from ``build_run`` (``attachments``: its rows), read
    by household and record id (a few thousand of a build's records, not all of them)."""
    households = read_table(store, s.households, build_run).select("household_id", "family_ref")
    ids = households.join(attachments.select("family_ref").unique(), on="family_ref")
    membership = read_rows_in(
        store, s.membership, build_run, "household_id", ids["household_id"].to_list()
    ).select("record_id", "person_id", "household_id")
    records = read_rows_in(
        store, s.records, build_run, "record_id", membership["record_id"].to_list()
    ).select(list(CANONICAL_SCHEMA))
    model = FSModel.from_json(read_table(store, s.link_models, build_run)["model_json"][0])
    return Held(records, membership, model)


# a later record is linked when it shares a block with an attached family's record, or with a
# later record that does (a school row that meets the benefit row that meets the held person;
# a baby's row that meets its mother's later row at a new address)
HOPS = 2


def reach_groups(std: pl.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every row's block under each blocking rule of the linkage and each identifier the
    linkage joins on (computed once for the later records and every build's held ones)."""
    config = LinkConfig()
    identifiers = tuple(BlockingRule(c, (c,)) for c in config.identifier_columns)
    keys = std.with_row_index("__i").with_columns(link_keys())
    return rule_groups(keys, config.rules + identifiers)


def import_outcomes(
    project_path: Path,
    store: Store,
    build_run: int | None = None,
    progress: Callable[[str], None] | None = None,
    wait: float = 0.0,
) -> list[OutcomesImport]:
    """Ingest ``project_path`` (the later period's project file) once, link it onto the
    attached families of every build they came from (only ``build_run`` when given: families
    attached after a refresh come from a later build), and record the evidence: one
    ``outcomes`` run per build.

    The later records and every attaching build's attached records are standardised and their
    addresses resolved once, together; each build's linkage then holds its attached families'
    persons and takes the later records within reach of them (:func:`onto_held`). Each run is
    recorded when the store's build lock is free, waiting up to ``wait`` seconds for it (the
    demo imports a refresh's outcomes while that refresh's build runs)."""
    say = progress or (lambda _: None)
    project = load_project(project_path)
    attachments = require_attachments(store)
    builds = (
        [build_run]
        if build_run is not None
        else sorted(int(b) for b in attachments["build_run_id"].unique())
    )
    for b in builds:
        info = run_info(store, b)
        if info["kind"] != "build":
            raise FamilyMatchError(f"run {b} is a {info['kind']} run, not a build.")
    t = time.perf_counter()
    say("ingest")
    ingested = ingest_project(project)
    gazetteer = read_gazetteer(project.gazetteer)
    later = ingested.records.select(list(CANONICAL_SCHEMA))
    seconds = {"ingest": time.perf_counter() - t}
    t = time.perf_counter()
    say("read the attached families")
    held = {
        b: held_families(store, b, attachments.filter(pl.col("build_run_id") == b)) for b in builds
    }
    seconds["read build"] = time.perf_counter() - t
    t = time.perf_counter()
    say("standardise")
    std = standardise_together(later, held, gazetteer)
    groups = reach_groups(std)
    seconds["standardise"] = time.perf_counter() - t
    found = []
    say("link")
    for b in builds:  # every linkage first: a demo's build beside the import may hold the lock
        of_build = attachments.filter(pl.col("build_run_id") == b)
        found.append(
            _link_onto(
                project,
                store,
                b,
                of_build,
                later,
                onto_held(std, groups, b),
                held[b],
                dict(seconds),
            )
        )
    say("record")
    return [_record_import(project, store, ingested, f, wait) for f in found]


def standardise_together(
    later: pl.DataFrame, held: dict[int, Held], gazetteer: pl.DataFrame | None
) -> pl.DataFrame:
    """The later records and every build's held records standardised, their addresses resolved
    together; a held record's id prefixed ``build<run>|`` (two builds' extracts share record
    ids) and its build in ``__held`` (null for a later record)."""
    frames = [later.with_columns(pl.lit(None, pl.Int64).alias("__held"))] + [
        h.records.with_columns(
            (pl.lit(f"build{b}|") + pl.col("record_id")).alias("record_id"),
            pl.lit(b, pl.Int64).alias("__held"),
        )
        for b, h in held.items()
    ]
    std = standardise(pl.concat(frames))
    return with_addresses(std, resolve_addresses(std, gazetteer))


def onto_held(
    std: pl.DataFrame, groups: list[tuple[np.ndarray, np.ndarray]], build_run: int
) -> pl.DataFrame:
    """From :func:`standardise_together`: the later records within ``HOPS`` candidate pairs of
    ``build_run``'s held records (by any blocking rule or identifier: ``groups``, from
    :func:`reach_groups`; other builds' records neither reached nor passing the reach on), and
    those held records, their ids prefixed ``BUILD_PREFIX`` (as :func:`map_to_build` reads)."""
    held = std["__held"]
    mine = (held == build_run).fill_null(False).to_numpy()
    among = mine | held.is_null().to_numpy()
    reached = near(groups, mine, HOPS, among)
    prefix = len(f"build{build_run}|")
    return (
        std.filter(pl.Series(reached))
        .with_columns(
            pl.when(pl.col("__held").is_not_null())
            .then(pl.lit(BUILD_PREFIX) + pl.col("record_id").str.slice(prefix))
            .otherwise(pl.col("record_id"))
            .alias("record_id")
        )
        .drop("__held")
    )


@dataclass
class Found:
    """One build's linkage of an import, before it is recorded."""

    build_run: int
    mapped: pl.DataFrame  # record_id, person_id, household_id (of the later records linked)
    evidence: pl.DataFrame
    by_source: pl.DataFrame
    matched: int
    newcomers: int
    seconds: dict[str, float]


def _link_onto(
    project: Project,
    store: Store,
    build_run: int,
    attachments: pl.DataFrame,
    later: pl.DataFrame,
    std: pl.DataFrame,
    held: Held,
    seconds: dict[str, float],
) -> Found:
    """Link the later records within reach (``std``, from :func:`onto_held`) onto one build's
    attached families (``held``): the evidence of each attached family."""
    t = time.perf_counter()
    fixed = held.membership.select(
        (pl.lit(BUILD_PREFIX) + pl.col("record_id")).alias("record_id"), "person_id"
    )
    # link only: the attached persons held, never a pair of two of their records re-scored
    linked = link_records(with_claim_addresses(std), model=held.model, fixed=fixed)
    mapped = map_to_build(linked.persons, held.membership)
    later_households = build_households(std, linked.persons, project.reference_date).membership
    mapped = join_newcomers(mapped, linked.persons, later_households)
    seconds["link"] = time.perf_counter() - t

    households = read_table(store, s.households, build_run).select("household_id", "family_ref")
    attached = attachments.select("family_ref").unique()
    families = households.join(attached, on="family_ref")
    evidence = (
        later.join(mapped, on="record_id")
        .join(families, on="household_id")
        .select(
            "family_ref",
            "household_id",
            pl.col("kind").alias("outcome"),
            pl.col("event_type").alias("indicator"),
            "record_id",
            "source",
            "row",
            "person_id",
            pl.coalesce(pl.col("event_date"), pl.col("end_date")).alias("date"),
            pl.coalesce(pl.col("term"), pl.col("detail")).alias("value"),
        )
        .sort("family_ref", "source", "row")
    )
    by_source = (
        later.join(mapped, on="record_id", how="left")
        .join(
            families.select("household_id", pl.lit(True).alias("attached")),
            on="household_id",
            how="left",
        )
        .group_by("source")
        .agg(
            pl.len().alias("records"),
            (pl.col("person_id").is_not_null() & ~NEW).sum().alias("matched"),
            NEW.fill_null(False).sum().alias("newcomers"),
            pl.col("attached").fill_null(False).sum().alias("attached_families"),
        )
        .sort("source")
    )
    newcomers = int(mapped.select(NEW.fill_null(False).sum()).item())
    matched = int(mapped["person_id"].is_not_null().sum()) - newcomers
    return Found(build_run, mapped, evidence, by_source, matched, newcomers, seconds)


def _record_import(
    project: Project, store: Store, ingested: Any, found: Found, wait: float = 0.0
) -> OutcomesImport:
    """One build's linkage (:func:`_link_onto`) recorded as an ``outcomes`` run, when the
    store's build lock is free (waiting up to ``wait`` seconds)."""
    later = ingested.records.select(list(CANONICAL_SCHEMA))
    mapped, evidence, seconds = found.mapped, found.evidence, found.seconds
    t = time.perf_counter()
    with recording_run(
        store,
        "outcomes",
        wait=wait,
        project_name=project.name,
        project_path=str(project.path),
        reference_date=project.reference_date,
        parameters={"build_run": found.build_run},
    ) as run:
        run.add(s.source_files, ingested.stats_frame())
        run.add(s.rejects, ingested.rejects)
        # the later records within reach of the attached families (the rest cannot be
        # evidence: docs/contracts.md section 6)
        run.add(s.records, later.join(mapped.select("record_id"), on="record_id", how="semi"))
        run.add(
            s.persons,
            mapped.select(
                "record_id", pl.col("person_id").fill_null(""), pl.lit(True).alias("linkable")
            ),
        )
        run.add(s.membership, mapped.drop_nulls("person_id"))
        run.add(s.outcome_evidence, evidence)
        run.summary = {
            "build_run": found.build_run,
            "records": later.height,
            "matched": found.matched,
            "newcomers": found.newcomers,
            "attached": evidence.height,
            "families_with_evidence": evidence["family_ref"].n_unique(),
            "by_source": found.by_source.to_dicts(),
        }
    seconds["record"] = time.perf_counter() - t
    audit(store, "outcomes import", run.run_id, [(st.path, st.sha256) for st in ingested.stats])
    return OutcomesImport(
        run_id=run.run_id,
        build_run=found.build_run,
        records=later.height,
        matched=found.matched,
        attached=evidence.height,
        families_with_evidence=evidence["family_ref"].n_unique(),
        by_source=found.by_source,
        seconds=seconds,
    )


def latest_outcomes_run(store: Store, build_run: int) -> int | None:
    """The newest complete outcomes import linked onto ``build_run``."""
    import json

    from sqlalchemy import select

    from familymatch.store.engine import as_engine

    query = (
        select(s.runs.c.id, s.runs.c.parameters)
        .where(s.runs.c.kind == "outcomes", s.runs.c.status == "complete")
        .order_by(s.runs.c.id.desc())
    )
    with as_engine(store).connect() as conn:
        for run_id, params in conn.execute(query):
            if json.loads(params or "{}").get("build_run") == build_run:
                return int(run_id)
    return None
