"""The cohort commands' work, for `cli.py` to call: choose the year's families (`cohort
select`), write the caseworkers' lists (`cohort lists`), profile a build (`cohort report`).
Each records its reads and writes in the audit log and raises FamilyMatchError with one
sentence on bad input."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from familymatch.errors import FamilyMatchError
from familymatch.ingest import file_sha256
from familymatch.outputs import secure_mkdir
from familymatch.project import Project
from familymatch.store import Store, audit, read_table
from familymatch.store import schema as s
from familymatch.store.runs import run_info
from rules.lists import ListsPlan, plan_lists, write_lists
from rules.priority import PriorityConfig, load_priority
from rules.report import Profile, load_lookup, profile, write_profile_workbook
from rules.select import (
    SelectionRequest,
    SelectResult,
    parse_capacity,
    read_family_list,
    run_selection,
    selection_writer,
)


@dataclass
class SelectCommand:
    result: SelectResult
    request: SelectionRequest
    config: PriorityConfig
    build_run: int

    def document(self) -> dict[str, Any]:
        """What `cohort select --json` prints."""
        summary = self.result.summary
        return {
            **{k: v for k, v in summary.items() if k != "families"},
            "select_run": self.result.run_id,
            "workbook": str(self.result.workbook) if self.result.workbook else None,
            "families": [
                {k: f[k] for k in ("family_ref", "rank", "score", "status", "group")}
                for f in summary["families"]
            ],
        }


def select_command(
    store: Store,
    project: Project,
    build_run: int,
    count: int,
    capacity: list[str],
    capacity_by: str,
    must_include: Path | None,
    must_exclude: Path | None,
    priority: Path | None,
    margin: int,
    out: Path | None,
) -> SelectCommand:
    """Choose ``count`` families of ``build_run``, record the selection run and its workbook."""
    config = load_priority(priority)
    request = SelectionRequest(
        count=count,
        capacity=parse_capacity(capacity),
        capacity_by=capacity_by,
        must_include=read_family_list(must_include, "--must-include") if must_include else None,
        must_exclude=read_family_list(must_exclude, "--must-exclude") if must_exclude else None,
        margin=max(margin, 0),
    )
    if capacity_by not in ("locality", "team"):
        raise FamilyMatchError(f"--capacity-by {capacity_by}: use locality or team.")

    def path_for(run_id: int) -> Path:
        return out or project.folder / "selections" / f"selection-run-{run_id}.xlsx"

    result = run_selection(
        store,
        project,
        build_run,
        config,
        request,
        write=selection_writer(path_for, project.name, request),
    )
    files = []
    if result.workbook is not None:
        files.append((str(result.workbook), file_sha256(result.workbook)))
    audit(store, "cohort select", result.run_id, files)
    return SelectCommand(result, request, config, build_run)


@dataclass
class ListsCommand:
    plan: ListsPlan
    by: str
    pseudonymised: bool
    target: Path
    files: list[Path]

    def counts(self) -> pl.DataFrame:
        """group, families: the families in each list."""
        return (
            self.plan.frames.families.group_by("group")
            .len()
            .sort("group")
            .rename({"len": "families"})
            .with_columns(pl.col("families").cast(pl.Int64))
        )

    def document(self) -> dict[str, Any]:
        """What `cohort lists --json` prints."""
        return {
            "build_run": self.plan.build_run,
            "select_run": self.plan.select_run,
            "by": self.by,
            "pseudonymised": self.pseudonymised,
            "families": self.plan.frames.families.height,
            "groups": dict(self.counts().iter_rows()),
            "files": [str(f) for f in self.files],
        }


def lists_command(
    store: Store,
    project: Project,
    run: int | None,
    by: str,
    selection: int | None = None,
    whole_cohort: bool = False,
    pseudonymise: bool = False,
    priority: Path | None = None,
    out: Path | None = None,
    sheets: bool = False,
    command: str = "cohort lists",
) -> ListsCommand:
    """Gather the families (a selection's, or the whole cohort's) and write the lists."""
    if priority is not None and not whole_cohort:
        raise FamilyMatchError(
            "--priority applies to --all; a selection is listed with the priority it was chosen by."
        )
    config = load_priority(priority) if whole_cohort else None
    key = None
    if pseudonymise:
        from familymatch.pseudonyms import load_or_create_key

        key = load_or_create_key()
    plan = plan_lists(
        store,
        project,
        run,
        by,
        selection_run=selection,
        whole_cohort=whole_cohort,
        priority=config,
        key=key,
    )
    kind = f"select-run-{plan.select_run}" if plan.select_run else f"build-run-{plan.build_run}"
    suffix = "-pseudonymised" if pseudonymise else ""
    target = out or project.folder / "lists" / f"{kind}-by-{by}{suffix}"
    files = write_lists(plan, target, project.name, one_workbook=sheets)
    audit(store, command, plan.build_run, [(str(f), file_sha256(f)) for f in files])
    return ListsCommand(plan, by, pseudonymise, target, files)


@dataclass
class ReportCommand:
    run_id: int
    info: dict[str, Any]
    summary: dict[str, Any]
    profile: Profile | None
    workbook: Path | None


def report_command(
    store: Store, project: Project, run_id: int, out: Path | None, summary_only: bool
) -> ReportCommand:
    """The cohort profile of a recorded build and its workbook (default reports/)."""
    info = run_info(store, run_id)
    summary = json.loads(info["summary"])
    if summary_only:
        return ReportCommand(run_id, info, summary, None, None)
    prof = profile(
        run_id,
        info["reference_date"],
        read_table(store, s.cohort, run_id),
        read_table(store, s.membership, run_id),
        read_table(store, s.records, run_id),
        read_table(store, s.households, run_id),
        load_lookup(project.postcode_lookup),
    )
    target = out or project.folder / "reports" / f"cohort-profile-run-{run_id}.xlsx"
    if not target.parent.exists():
        secure_mkdir(target.parent)
    write_profile_workbook(prof, target, info["project_name"] or "familymatch")
    return ReportCommand(run_id, info, summary, prof, target)
