"""A refresh: what a build on new extracts means for the programme's families.

The store keeps family references across builds (``familymatch/store/families.py``: a family
keeps its reference when the new household shares members with the old one, and an attached
family's reference wins when two old families merge). Attachments are recorded against the
reference and the build the family was attached from, so a rebuild never changes them: the
payment rules follow the family from attachment, whatever a later build finds.

:func:`refresh_report` compares two builds for the coordinator: every attached family with its
state in the later build (still meets the criteria, no longer meets them, or not found as one
household, with the families its members are in now), the new cohort families not yet attached,
and the families whose members changed. Members are compared as people
(``familymatch/store/members.py``, decision 0008): the person of one build is the person of the
other when they share any key (NINO, UPN, name + date of birth), when what is left of a family
on both sides differs by keying slips only, or when our build split one person in two; so a typo
in one record, a date of birth missing from one extract or a person split by the build is no
change. The keys are never shown: only counts leave this
module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from claims.records import read_attachments
from familymatch.errors import FamilyMatchError
from familymatch.store import Store, run_info
from familymatch.store.families import (
    CohortDiff,
    cohort_by_family,
    diff_cohorts,
    run_households,
    two_runs,
)
from familymatch.store.members import BuildPeople, build_people, compare_builds
from familymatch.workbooks import (
    one_sheet_workbook,
    print_one_page_wide,
    save_workbook,
    write_table,
)

MEETS = "meets the criteria"
NO_LONGER = "no longer meets the criteria"
NOT_FOUND = "not found as one household"


@dataclass
class Refresh:
    diff: CohortDiff
    as_of_a: Any
    as_of_b: Any
    attached: pl.DataFrame  # family_ref, attached_on, key_worker, criteria_at_attachment,
    # status, criteria_now, household_id, members_joined, members_left, members_now_in
    new_families: pl.DataFrame  # family_ref, household_id, combination (joined, not attached)
    members_changed: pl.DataFrame  # family_ref, household_id, in_cohort, attached,
    # members_before, members_now, joined, left (people)
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        by_status = dict(self.attached.group_by("status").len().iter_rows())
        return {
            **self.diff.counts(),
            "as_of_a": self.as_of_a,
            "as_of_b": self.as_of_b,
            "attached": self.attached.height,
            "attached_meet_criteria": by_status.get(MEETS, 0),
            "attached_no_longer_meet_criteria": by_status.get(NO_LONGER, 0),
            "attached_not_found": by_status.get(NOT_FOUND, 0),
            "new_families": self.new_families.height,
            "members_changed": self.members_changed.height,
            "members_compared_as": "keys" if self.warnings else "people",
        }

    def document(self) -> dict[str, Any]:
        """What ``cohort diff --json`` prints."""
        return {
            "run_a": self.diff.run_a,
            "run_b": self.diff.run_b,
            "counts": self.counts(),
            "joined": self.diff.joined.to_dicts(),
            "left": self.diff.left.to_dicts(),
            "changed": self.diff.changed.to_dicts(),
            "unchanged": self.diff.unchanged,
            "attached": self.attached.to_dicts(),
            "new": self.new_families.to_dicts(),
            "members_changed": self.members_changed.to_dicts(),
            "warnings": self.warnings,
        }


class Households:
    """Builds' cohort rows and family references (:func:`run_households`), each build's read
    once: a report reads a build as one side of the diff, as the build families were attached
    from, or both; a caller comparing each refresh with the next keeps one for all of them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.read: dict[int, tuple[pl.DataFrame, pl.DataFrame]] = {}

    def of(self, run_id: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        if run_id not in self.read:
            self.read[run_id] = run_households(self.store, run_id)
        return self.read[run_id]

    def cohort(self, run_id: int) -> pl.DataFrame:
        """:func:`cohort_by_family` of the build."""
        return cohort_by_family(run_id, *self.of(run_id))

    def families(self, run_id: int) -> pl.DataFrame:
        """family_ref, household_id, in_cohort, combination of every household of a build."""
        cohort, refs = self.of(run_id)
        cohort = cohort.select("household_id", "in_cohort", "combination")
        return refs.drop_nulls("family_ref").join(cohort, on="household_id", how="left")


def _now_in(lost: pl.DataFrame, before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    """family_ref, members_now_in: for families missing from the later build, the references
    of the later families holding their members ("" when none is in the later extracts)."""
    keys = before.join(lost.select("family_ref"), on="family_ref").select(
        "family_ref", "person_key"
    )
    where = keys.join(
        after.select(pl.col("family_ref").alias("now_in"), "person_key"), on="person_key"
    )
    found = where.group_by("family_ref").agg(
        pl.col("now_in").unique().sort().str.join(", ").alias("members_now_in")
    )
    return lost.select("family_ref").join(found, on="family_ref", how="left")


def _attached_states(
    households: Households,
    attachments: pl.DataFrame,
    b: pl.DataFrame,
    changes: pl.DataFrame,
    keys: tuple[pl.DataFrame, pl.DataFrame],
) -> pl.DataFrame:
    """One row per attached family: its criteria at attachment and its state in build b."""
    at_entry = pl.concat(
        [
            households.families(int(run)).select(
                "family_ref",
                pl.col("combination").alias("criteria_at_attachment"),
                pl.lit(int(run), dtype=pl.Int64).alias("build_run_id"),
            )
            for run in attachments["build_run_id"].unique().sort()
        ]
    )
    later = b.select(
        "family_ref",
        "household_id",
        "in_cohort",
        pl.when(pl.col("in_cohort")).then(pl.col("combination")).alias("criteria_now"),
    )
    out = (
        attachments.select(
            "family_ref", "attached_on", "key_worker", pl.col("build_run_id").cast(pl.Int64)
        )
        .join(at_entry, on=["family_ref", "build_run_id"], how="left")
        .join(later, on="family_ref", how="left")
    )
    lost = out.filter(pl.col("household_id").is_null())
    out = out.join(_now_in(lost, *keys), on="family_ref", how="left")
    status = (
        pl.when(pl.col("household_id").is_null())
        .then(pl.lit(NOT_FOUND))
        .when(pl.col("in_cohort"))
        .then(pl.lit(MEETS))
        .otherwise(pl.lit(NO_LONGER))
    )
    return (
        out.with_columns(status.alias("status"))
        .join(changes.select("family_ref", "joined", "left"), on="family_ref", how="left")
        .select(
            "family_ref",
            "attached_on",
            "key_worker",
            "criteria_at_attachment",
            "status",
            "criteria_now",
            "household_id",
            pl.col("joined").fill_null(0).alias("members_joined"),
            pl.col("left").fill_null(0).alias("members_left"),
            "members_now_in",
        )
        .sort("family_ref")
    )


def refresh_report(
    store: Store,
    run_a: int,
    run_b: int,
    people: Callable[[Store, int], BuildPeople] = build_people,
    attached_before: int | None = None,
    households: Households | None = None,
) -> Refresh:
    """Compare build ``run_a`` with the later build ``run_b`` for the programme; ``people``
    reads a build's people and ``households`` its households (a caller comparing each refresh
    with the next may keep both). The attached families are those of every attach run, or with
    ``attached_before`` those of the attach runs before that run (``run_b``: as they stood when
    the later build was made)."""
    two_runs(run_a, run_b)
    households = households or Households(store)
    diff = diff_cohorts(run_a, run_b, households.cohort(run_a), households.cohort(run_b))
    info_a, info_b = run_info(store, run_a), run_info(store, run_b)
    for run, info in ((run_a, info_a), (run_b, info_b)):
        if info["kind"] != "build":
            raise FamilyMatchError(f"run {run} is a {info['kind']} run, not a build.")
    a, b = households.families(run_a), households.families(run_b)
    people_a, people_b = people(store, run_a), people(store, run_b)
    changes = compare_builds(people_a, people_b)
    keys_a, keys_b = (
        p.people.filter(~pl.col("person_key").str.ends_with("|")).select("family_ref", "person_key")
        for p in (people_a, people_b)
    )
    warnings = [
        f"build {run} was recorded before person ids were kept: its members are compared key "
        "by key, so a typo in a record can read as one member who left and another who joined "
        "(rebuild it to compare people)."
        for run, kept in ((run_a, people_a.by_person), (run_b, people_b.by_person))
        if not kept
    ]
    attachments = read_attachments(store)
    if attached_before is not None:
        attachments = attachments.filter(pl.col("run_id") < attached_before)
    attached_set = set(attachments["family_ref"].to_list())
    states = (
        _attached_states(households, attachments, b, changes, (keys_a, keys_b))
        if attachments.height
        else pl.DataFrame(schema={"family_ref": pl.String, "status": pl.String})
    )
    of_interest = pl.concat([a.filter(pl.col("in_cohort")), b.filter(pl.col("in_cohort"))]).select(
        "family_ref"
    )
    changed_members = (
        changes.join(
            b.select("family_ref", "household_id", "in_cohort"), on="family_ref", how="left"
        )
        .with_columns(pl.col("family_ref").is_in(list(attached_set)).alias("attached"))
        .filter(
            pl.col("attached") | pl.col("family_ref").is_in(of_interest["family_ref"].to_list())
        )
        .select(
            "family_ref",
            "household_id",
            pl.col("in_cohort").fill_null(False),
            "attached",
            "members_before",
            "members_now",
            "joined",
            "left",
        )
    )
    new = diff.joined.filter(~pl.col("family_ref").is_in(list(attached_set)))
    return Refresh(
        diff,
        info_a["reference_date"],
        info_b["reference_date"],
        states,
        new,
        changed_members,
        warnings,
    )


def summary_lines(r: Refresh) -> list[str]:
    """The refresh in plain words."""
    c = r.counts()
    lines = [
        f"build {c['run_a']} (as of {c['as_of_a']}) -> build {c['run_b']} (as of "
        f"{c['as_of_b']}): {c['joined']} families joined the cohort, {c['left']} left it, "
        f"{c['changed']} changed criteria, {c['unchanged']} unchanged.",
    ]
    if c["attached"]:
        lines.append(
            f"{c['attached']} attached families: {c['attached_meet_criteria']} still meet the "
            f"criteria, {c['attached_no_longer_meet_criteria']} no longer meet them and "
            f"{c['attached_not_found']} are not found as one household. They all stay attached "
            "with their reference: payment follows the family from attachment."
        )
    else:
        lines.append("no family is attached yet.")
    lines.append(
        f"{c['new_families']} cohort families are new and not attached; {c['members_changed']} "
        "cohort or attached families have people who joined or left."
    )
    return lines + r.warnings


def _people(n: int) -> str:
    return f"{n} {'person' if n == 1 else 'people'}"


def _attached_line(a: dict[str, Any]) -> str:
    members = [
        f"{_people(a[k])} {w}"
        for k, w in (("members_joined", "joined"), ("members_left", "left"))
        if a[k]
    ]
    where = ""
    if a["status"] == NOT_FOUND:
        where = (
            f"; its members are now in {a['members_now_in']}"
            if a["members_now_in"]
            else "; none of its members is in the new extracts"
        )
    return (
        f"{a['family_ref']} (attached {a['attached_on']:%d/%m/%Y}, "
        f"{a['criteria_at_attachment'] or 'criteria unknown'}): {a['status']}"
        + (f" ({a['criteria_now']})" if a["criteria_now"] else "")
        + where
        + (f"; {', '.join(members)}" if members else "")
    )


def family_lines(r: Refresh) -> list[tuple[str, list[str]]]:
    """The refresh one family a line, by section, for the terminal."""
    attention = r.attached.filter(pl.col("status") != MEETS).to_dicts() if r.attached.height else []
    left = r.diff.left.filter(~pl.col("family_ref").is_in(r.attached["family_ref"].to_list()))
    return [
        ("attached families needing attention", [_attached_line(a) for a in attention]),
        (
            "new in the cohort, not attached",
            [f"{f} ({c})" for f, _, c in r.new_families.iter_rows()],
        ),
        (
            "left the cohort, not attached",
            [
                f"{f} ({c})" + ("" if known else ": not found as one household")
                for f, _, c, known in left.iter_rows()
            ],
        ),
        (
            "changed criteria",
            [f"{row[0]}: {row[3]} -> {row[4]}" for row in r.diff.changed.iter_rows()],
        ),
        (
            "members changed",
            [
                f"{m['family_ref']}: {_people(m['joined'])} joined, {_people(m['left'])} left "
                f"({m['members_before']} -> {m['members_now']} people)"
                + (", attached" if m["attached"] else "")
                for m in r.members_changed.to_dicts()
            ],
        ),
    ]


def refresh_tables(r: Refresh) -> list[tuple[str, pl.DataFrame]]:
    """The tables behind the summary, titled, for the terminal and the workbook."""
    attention = r.attached.filter(pl.col("status") != MEETS) if r.attached.height else r.attached
    return [
        ("Attached, needing attention", attention),
        ("Attached", r.attached),
        ("New families", r.new_families),
        ("Left the cohort", r.diff.left),
        ("Changed criteria", r.diff.changed),
        ("Members changed", r.members_changed),
    ]


def write_refresh_workbook(r: Refresh, path: Path) -> Path:
    """Summary, then one sheet per table (owner-only, atomic)."""
    if path.suffix.lower() != ".xlsx":
        raise FamilyMatchError(f"--out {path}: use a .xlsx file name.")
    wb, ws = one_sheet_workbook("Summary")
    write_table(ws, ("refresh",), [(line,) for line in summary_lines(r)], filters=False)
    ws.column_dimensions["A"].width = 120
    for title, frame in refresh_tables(r)[1:]:
        sheet = wb.create_sheet(title)
        write_table(sheet, frame.columns, frame.iter_rows())
        print_one_page_wide(sheet)
    return save_workbook(wb, path)


def refresh_command(
    store: Store, run_a: int | None, run_b: int | None, out: Path | None
) -> Refresh:
    """``cohort diff``: the two builds given, or the two newest; the workbook when ``out``."""
    from familymatch.store.families import diff_runs

    newest = diff_runs(store, run_a, run_b)
    run_a, run_b = newest.run_a, newest.run_b
    r = refresh_report(store, run_a, run_b)
    if out is not None:
        write_refresh_workbook(r, out)
    return r
