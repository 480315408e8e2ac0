"""A cohort build: ingest, link, households, rules, recorded as one run in the store."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from familymatch.addresses import AddressResult, address_summary
from familymatch.canonical import CANONICAL_SCHEMA
from familymatch.errors import FamilyMatchError
from familymatch.ingest import IngestResult, write_rejects
from familymatch.link import LinkResult
from familymatch.link.model import FSModel
from familymatch.logs import get_logger
from familymatch.pipeline import Final, LinkedProject, link_project
from familymatch.progress import Progress, StageEvent, no_progress, timed_stage
from familymatch.project import Project, load_project
from familymatch.store import Store, open_store, read_table
from familymatch.store import schema as s
from familymatch.store.families import default_person_keys
from familymatch.store.runs import RunWriter, audit, find_previous_import, recording_run
from rules.engine import Evaluation, evaluate, summarise
from rules.ruleset import check_sources, load_rule_set
from rules.terms import project_calendar

log = get_logger(__name__)


@dataclass
class BuildResult:
    run_id: int
    summary: dict[str, Any]
    linked: LinkedProject
    evaluation: Evaluation
    seconds: dict[str, float]
    rejects_file: Path | None = None
    record_seconds: dict[str, float] = field(default_factory=dict)  # by table


def build_cohort(
    project_path: Path,
    as_of: date | None = None,
    progress: Progress | None = None,
    store_pairs: bool = True,
    model_from_run: int | None = None,
    wait: float = 0.0,
) -> BuildResult:
    """Run the whole build on a project file and record it; if another run holds the store's
    build lock, wait up to ``wait`` seconds for it."""
    project: Project = load_project(project_path)
    reference = as_of or project.reference_date
    rule_set = load_rule_set(project.rule_set, base=project.folder)
    problems = check_sources(rule_set, {src.kind for src in project.sources})
    if problems:
        raise FamilyMatchError(f"{project.path.name}: rule set '{rule_set.name}': {problems[0]}")
    store = open_store(project.database_url)
    say = progress or no_progress
    seconds: dict[str, float] = {}
    with recording_run(
        store,
        "build",
        wait=wait,
        project_name=project.name,
        project_path=str(project.path),
        reference_date=reference,
        rule_set=rule_set.name,
        rule_set_sha256=rule_set.sha256,
        parameters={
            "as_of": reference.isoformat(),
            "rule_set_version": rule_set.version,
            "model_from_run": model_from_run,
            "terms": str(project.terms) if project.terms else None,
        },
    ) as run:
        model = None
        if model_from_run is not None:
            stored = read_table(store, s.link_models, model_from_run)
            model = FSModel.from_json(stored["model_json"][0])
        # each frame is written as soon as it is final, beside the later stages' work
        run.write_while_computing()
        linked = link_project(
            project,
            reference,
            progress=say,
            model=model,
            final=_recorder(run, store_pairs, release=True),
        )
        seconds.update(linked.seconds)
        _add_households(run, linked)
        with timed_stage("rules", say, seconds) as done:
            ev = evaluate(
                rule_set,
                linked.std,
                linked.membership,
                reference,
                apart_parents=linked.households.apart_parents,
                calendar=project_calendar(project.terms),
            )
            summary = summarise(ev, run.run_id)
            summary["addresses"] = address_summary(linked.addresses)
            done(int(ev.cohort["in_cohort"].sum()), "families in the cohort")
        say(StageEvent("record"))
        t = time.perf_counter()
        _add_rules(run, ev)
        run.summary = _run_summary(store, summary, ev, linked)
    seconds["record"] = time.perf_counter() - t
    say(StageEvent("record", done=True, count=sum(run.rows.values()), unit="rows"))
    rejects_file = None
    if linked.ingest.rejects.height:
        rejects_file = write_rejects(
            linked.ingest.rejects, project.folder / "rejects" / f"run-{run.run_id}-rejects.csv"
        )
    audit(
        store,
        "cohort build",
        run.run_id,
        [(st.path, st.sha256) for st in linked.ingest.stats],
    )
    return BuildResult(
        run_id=run.run_id,
        summary=summary,
        linked=linked,
        evaluation=ev,
        seconds=seconds,
        rejects_file=rejects_file,
        record_seconds=dict(run.seconds),
    )


def _recorder(run: RunWriter, pairs: bool, release: bool = False) -> Final:
    """Hands the run each of the core's results as it becomes final (link_project's
    ``final``); with ``release``, drops from the results what only the store reads once it is
    handed over (the build's)."""

    def final(result: IngestResult | LinkResult | AddressResult) -> None:
        if isinstance(result, IngestResult):
            run.add(s.source_files, result.stats_frame())
            run.add(s.rejects, result.rejects)
            run.add(s.records, result.records.select(list(CANONICAL_SCHEMA)))
        elif isinstance(result, LinkResult):
            run.add(s.persons, result.persons)
            if pairs:
                # link_records keeps identifier links, rule decisions and every pair with a
                # chance of matching; the rest can be re-scored by `link explain`
                cols = ("record_id_l", "record_id_r", "stage", "match_weight")
                run.add(s.link_pairs, result.pairs.select(*cols, "match_probability", "linked"))
            if release:
                # no later stage reads the pairs: the build holds none of them through
                # households and rules (scale 10: 5.5M pairs, ~0.5 GB with their record ids),
                # the writer its frame until written; their number stays in
                # stats["pairs_kept"]
                result.pairs = result.pairs.clear()
            run.add(s.link_models, pl.DataFrame({"model_json": [result.model.to_json()]}))
        else:
            run.add(
                s.record_addresses,
                result.records.select("record_id", "address_id", "resolved_by", "uprn"),
            )
            run.add(s.addresses, result.addresses)

    return final


def _add_households(run: RunWriter, linked: LinkedProject) -> None:
    """The households, with stable family references (this run's households matched to the
    last build's by members), their members and links."""
    run.assign_family_refs(default_person_keys(linked.std, linked.membership))
    run.add(s.households, linked.households.households)
    run.add(s.membership, linked.membership)
    run.add(s.household_links, linked.households.household_links)


def _add_rules(run: RunWriter, ev: Evaluation) -> None:
    run.add(s.indicator_results, ev.indicator_results)
    run.add(s.evidence, ev.evidence)
    run.add(s.cohort, ev.cohort.drop("criteria"))


def queue_frames(run: RunWriter, linked: LinkedProject, ev: Evaluation, pairs: bool) -> None:
    """Every frame of a finished build, as the build hands them over (bench/bench_record.py
    records one build's frames again)."""
    final = _recorder(run, pairs)
    for result in (linked.ingest, linked.link, linked.addresses):
        final(result)
    _add_households(run, linked)
    _add_rules(run, ev)


def _run_summary(
    store: Store, summary: dict[str, Any], ev: Evaluation, linked: LinkedProject
) -> dict[str, Any]:
    """The run's summary: the cohort, the linkage figures, the sources and which of them are
    unchanged since an earlier run."""
    unchanged = {}
    for st in linked.ingest.stats:
        previous = find_previous_import(store, st.sha256, st.source)
        if previous is not None:
            unchanged[st.source] = previous.run_id
    return {
        **summary,
        "unknown_codes": ev.unknown_codes,
        "link": {k: v for k, v in linked.link.stats.items() if k != "blocking"},
        "sources": linked.ingest.stats_frame().drop("path").to_dicts(),
        "unchanged_since_run": unchanged,
    }
