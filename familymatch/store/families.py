"""Stable family references across runs, and what changed between two runs' cohorts.

A run's ``household_id`` is only stable within the run. A family keeps its reference
(``F000123``) from one build to the next when the new household shares members with the old
one. Members are compared by a ``person_key`` the caller supplies (something that survives a
refreshed extract, e.g. the person's strongest identifier); person ids are not compared, since
they are renumbered by every build. Matching is
:func:`familymatch.households.match_households` when it exists, else the overlap rule here
(most shared members wins; each old family goes to at most one new household).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Engine, func, select

from familymatch.errors import FamilyMatchError
from familymatch.store import schema as s
from familymatch.store.bulk import read_frame
from familymatch.store.engine import Store, as_engine, label_of
from familymatch.store.runs import latest_run, run_info

REF_PREFIX = "F"
REF_DIGITS = 6

Matcher = Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame]


def match_by_overlap(previous: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """household_id, previous_household_id: each current household takes the previous one it
    shares most person keys with (ties: the smaller id); a previous household goes to at most
    one current household (the one sharing most). Unmatched current households are absent.

    When ``previous`` has a boolean ``attached`` column, a previous family the programme has
    attached comes first: two old families merged into one household keep the attached one's
    reference (its attachment and claims follow the reference)."""
    prev = previous.select(
        "household_id",
        "person_key",
        (pl.col("attached") if "attached" in previous.columns else pl.lit(False)).alias("attached"),
    ).unique()
    cur = current.select("household_id", "person_key").unique()
    overlap = (
        cur.join(prev.rename({"household_id": "previous_household_id"}), on="person_key")
        .group_by("household_id", "previous_household_id")
        .agg(pl.len().alias("shared"), pl.col("attached").any())
    )
    best = overlap.sort(
        ["attached", "shared", "household_id", "previous_household_id"],
        descending=[True, True, False, False],
    )
    best = best.unique("household_id", keep="first", maintain_order=True)
    best = best.unique("previous_household_id", keep="first", maintain_order=True)
    return best.select("household_id", "previous_household_id").sort("household_id")


def _matcher() -> Matcher:
    """``familymatch.households.match_households`` if the households module has it."""
    import familymatch.households as households_module

    found: Matcher | None = getattr(households_module, "match_households", None)
    return found if found is not None else match_by_overlap


def format_ref(number: int) -> str:
    return f"{REF_PREFIX}{number:0{REF_DIGITS}d}"


def _highest_ref(engine: Engine) -> int:
    col = s.households.c.family_ref
    with engine.connect() as conn:
        top = conn.execute(
            select(col)
            .where(col.is_not(None))
            .order_by(func.length(col).desc(), col.desc())
            .limit(1)
        ).scalar()
    if top is None:
        return 0
    digits = str(top)[len(REF_PREFIX) :]
    return int(digits) if digits.isdigit() else 0


def previous_members(store: Store | Engine, run_id: int) -> pl.DataFrame:
    """household_id, family_ref, person_key, attached (the family is attached in a complete
    ``attach`` run) of a complete run's households (those with a ref)."""
    engine = as_engine(store)
    run_info(engine, run_id)
    with engine.connect() as conn:
        keys = read_frame(conn, s.household_keys, run_id)
        refs = read_frame(conn, s.households, run_id).select("household_id", "family_ref")
    attached = attached_refs(engine)
    return keys.join(refs.drop_nulls("family_ref"), on="household_id").with_columns(
        pl.col("family_ref").is_in(list(attached)).alias("attached")
    )


def attached_refs(store: Store | Engine) -> set[str]:
    """The family references attached in complete ``attach`` runs."""
    a = s.attachments
    query = (
        select(a.c.family_ref)
        .join(s.runs, s.runs.c.id == a.c.run_id)
        .where(s.runs.c.kind == "attach", s.runs.c.status == "complete")
        .distinct()
    )
    with as_engine(store).connect() as conn:
        return {str(r[0]) for r in conn.execute(query)}


def assign_stable_household_ids(
    store: Store | Engine,
    members: pl.DataFrame,
    previous_run: int | None = None,
    matcher: Matcher | None = None,
) -> pl.DataFrame:
    """Map this run's households (``members``: household_id, person_key) to family references.

    Households matched to one of the previous complete build's families (``previous_run``,
    default the newest build with references) keep its reference; the others get new ones,
    numbered after the highest in the database. Returns household_id, family_ref,
    previous_household_id, status (``kept`` or ``new``), sorted by household_id. Call it while
    holding the build lock (``RunWriter.assign_family_refs`` does) so numbers are not reused.
    """
    missing = {"household_id", "person_key"} - set(members.columns)
    if missing:
        raise FamilyMatchError(
            f"store: family references need columns {', '.join(sorted(missing))} in the members."
        )
    engine = as_engine(store)
    current = members.select(
        pl.col("household_id").cast(pl.String), pl.col("person_key").cast(pl.String)
    )
    households = current.select("household_id").unique().sort("household_id")
    if previous_run is None:
        previous_run = _latest_with_refs(engine)
    if previous_run is not None:
        prev = previous_members(engine, previous_run)
        matched = (matcher or _matcher())(
            prev.select("household_id", "person_key", "attached"), current
        )
        refs = prev.select(
            pl.col("household_id").alias("previous_household_id"), "family_ref"
        ).unique()
        matched = matched.select("household_id", "previous_household_id").join(
            refs, on="previous_household_id", how="left"
        )
    else:
        matched = pl.DataFrame(
            schema={
                "household_id": pl.String,
                "previous_household_id": pl.String,
                "family_ref": pl.String,
            }
        )
    out = households.join(matched, on="household_id", how="left")
    new = out.filter(pl.col("family_ref").is_null()).select("household_id")
    start = _highest_ref(engine) + 1
    new = new.with_columns(
        pl.Series("new_ref", [format_ref(start + i) for i in range(new.height)], dtype=pl.String)
    )
    out = out.join(new, on="household_id", how="left")
    return out.select(
        "household_id",
        pl.coalesce("family_ref", "new_ref").alias("family_ref"),
        "previous_household_id",
        pl.when(pl.col("new_ref").is_null())
        .then(pl.lit("kept"))
        .otherwise(pl.lit("new"))
        .alias("status"),
    ).sort("household_id")


def _latest_with_refs(engine: Engine) -> int | None:
    """The newest complete build whose households carry family references."""
    with engine.connect() as conn:
        found = conn.execute(
            select(func.max(s.households.c.run_id))
            .join(s.runs, s.runs.c.id == s.households.c.run_id)
            .where(
                s.runs.c.status == "complete",
                s.runs.c.kind == "build",
                s.households.c.family_ref.is_not(None),
            )
        ).scalar()
    return None if found is None else int(found)


def default_person_keys(std: pl.DataFrame, membership: pl.DataFrame) -> pl.DataFrame:
    """household_id, person_id, person_key for every household member: the identifiers that
    survive a refreshed extract (the record's row number and the build's ids do not), each
    beside the build's person it belongs to.

    Every key a record has: ``nino:<NINO>``, ``upn:<UPN>`` and ``name:<SURNAME>|<FORENAME>|
    <dob>`` (standardised names, nickname-folded forename); records with none of these give no
    key. A person keeps the union of their records' keys, so a later build finds them by any one
    (``familymatch.store.members``). ``std`` is the standardise output (``nino_std``, ``upn_std``,
    ``sn``, ``fn_canon``, ``dob``), ``membership`` the linkage output.
    """
    name_key = pl.when(
        pl.col("sn").is_not_null() & pl.col("fn_canon").is_not_null() & pl.col("dob").is_not_null()
    ).then(pl.format("name:{}|{}|{}", "sn", "fn_canon", pl.col("dob").cast(pl.String)))
    members = membership.lazy().select("record_id", "person_id", "household_id")
    columns = std.lazy().select("record_id", "nino_std", "upn_std", "sn", "fn_canon", "dob")
    joined = members.join(columns, on="record_id", how="inner")
    # one kind of key at a time, each made unique before the next: no frame of every record's
    # every key (at county scale the build's peak)
    kinds = (pl.format("nino:{}", "nino_std"), pl.format("upn:{}", "upn_std"), name_key)
    parts = [
        joined.select("household_id", pl.col("person_id").cast(pl.String), key.alias("person_key"))
        .drop_nulls("person_key")
        .unique()
        .collect()
        for key in kinds
    ]
    return pl.concat(parts).unique().sort("household_id", "person_id", "person_key")


# --------------------------------------------------------------------------- cohort diff


@dataclass
class CohortDiff:
    """Families that joined, left and changed criteria between run ``run_a`` and ``run_b``."""

    run_a: int
    run_b: int
    joined: pl.DataFrame  # family_ref, household_id, combination (in b's cohort, not a's)
    left: pl.DataFrame  # family_ref, household_id, combination, still_known (a's cohort, not b's)
    changed: pl.DataFrame  # family_ref, household_id_a/_b, combination_a/_b, n_criteria_a/_b
    unchanged: int  # families in both cohorts with the same combination

    def counts(self) -> dict[str, Any]:
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "joined": self.joined.height,
            "left": self.left.height,
            "changed": self.changed.height,
            "unchanged": self.unchanged,
        }

    def document(self) -> dict[str, Any]:
        """What `cohort diff --json` prints."""
        return {
            **self.counts(),
            "joined": self.joined.to_dicts(),
            "left": self.left.to_dicts(),
            "changed": self.changed.to_dicts(),
        }

    def summary_line(self) -> str:
        c = self.counts()
        return (
            f"run {c['run_a']} -> run {c['run_b']}: {c['joined']} joined, {c['left']} left, "
            f"{c['changed']} changed criteria, {c['unchanged']} unchanged"
        )


def run_households(store: Store | Engine, run_id: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A complete run's ``cohort`` rows and its households' family references
    (household_id, family_ref), read once for everything that compares runs by family."""
    engine = as_engine(store)
    run_info(engine, run_id)
    with engine.connect() as conn:
        cohort = read_frame(conn, s.cohort, run_id)
        refs = read_frame(conn, s.households, run_id).select("household_id", "family_ref")
    return cohort, refs


def cohort_by_family(run_id: int, cohort: pl.DataFrame, refs: pl.DataFrame) -> pl.DataFrame:
    """family_ref, household_id, n_criteria, combination, in_cohort of every cohort row of a
    run (from :func:`run_households`)."""
    if refs.height and refs["family_ref"].null_count() == refs.height:
        raise FamilyMatchError(
            f"run {run_id} has no family references (it was built before they existed); "
            "rebuild to compare cohorts."
        )
    return cohort.join(refs, on="household_id", how="left").select(
        "family_ref", "household_id", "n_criteria", "combination", "in_cohort"
    )


def two_runs(run_a: int, run_b: int) -> None:
    """Refuse a diff of a run with itself."""
    if run_a == run_b:
        raise FamilyMatchError(f"cohort diff needs two different runs (got {run_a} twice).")


def cohort_diff(store: Store | Engine, run_a: int, run_b: int) -> CohortDiff:
    """Compare two complete runs' cohorts family by family (by stable family reference)."""
    two_runs(run_a, run_b)
    a = cohort_by_family(run_a, *run_households(store, run_a))
    b = cohort_by_family(run_b, *run_households(store, run_b))
    return diff_cohorts(run_a, run_b, a, b)


def diff_cohorts(run_a: int, run_b: int, a: pl.DataFrame, b: pl.DataFrame) -> CohortDiff:
    """:func:`cohort_diff` of two runs' :func:`cohort_by_family` frames."""
    in_a = a.filter(pl.col("in_cohort"))
    in_b = b.filter(pl.col("in_cohort"))
    known_b = b.select("family_ref").unique()
    joined = (
        in_b.join(in_a, on="family_ref", how="anti")
        .select("family_ref", "household_id", "combination")
        .sort("family_ref")
    )
    left = (
        in_a.join(in_b, on="family_ref", how="anti")
        .join(known_b.with_columns(pl.lit(True).alias("still_known")), on="family_ref", how="left")
        .select(
            "family_ref",
            "household_id",
            "combination",
            pl.col("still_known").fill_null(False),
        )
        .sort("family_ref")
    )
    both = in_a.join(in_b, on="family_ref", suffix="_b").rename(
        {
            "household_id": "household_id_a",
            "combination": "combination_a",
            "n_criteria": "n_criteria_a",
        }
    )
    changed = (
        both.filter(pl.col("combination_a") != pl.col("combination_b"))
        .select(
            "family_ref",
            "household_id_a",
            "household_id_b",
            "combination_a",
            "combination_b",
            "n_criteria_a",
            "n_criteria_b",
        )
        .sort("family_ref")
    )
    return CohortDiff(
        run_a=run_a,
        run_b=run_b,
        joined=joined,
        left=left,
        changed=changed,
        unchanged=both.height - changed.height,
    )


def diff_runs(store: Store | Engine, run_a: int | None, run_b: int | None) -> CohortDiff:
    """The diff between two given runs, or the two newest builds when neither is given."""
    if (run_a is None) != (run_b is None):
        raise FamilyMatchError("give both runs, or neither for the two newest builds.")
    if run_a is None or run_b is None:
        return diff_latest(store)
    return cohort_diff(store, run_a, run_b)


def diff_latest(store: Store | Engine) -> CohortDiff:
    """The diff between the two newest complete builds (an error if there are fewer)."""
    engine = as_engine(store)
    b = latest_run(engine)
    a = latest_run(engine, before=b) if b is not None else None
    if a is None or b is None:
        raise FamilyMatchError(f"cohort diff needs two complete builds in {label_of(store)}.")
    return cohort_diff(engine, a, b)


# --------------------------------------------------------------------------- naming a family


@dataclass(frozen=True)
class FamilyId:
    """A family as one run knows it: its reference (None in runs built before references)
    and the run's internal household id."""

    run_id: int
    household_id: str
    family_ref: str | None

    @property
    def name(self) -> str:
        """The reference first, then the internal id."""
        if self.family_ref is None:
            return f"household {self.household_id}"
        return f"{self.family_ref} (household {self.household_id})"


REF_INPUT = re.compile(rf"^{REF_PREFIX}0*(\d{{1,{REF_DIGITS}}})$", re.IGNORECASE)


def normalise_ref(given: str) -> str:
    """``f11`` or ``F000011`` -> ``F000011``; anything else unchanged (an internal id)."""
    text = given.strip()
    found = REF_INPUT.match(text)
    return format_ref(int(found.group(1))) if found else text


def _households_named(engine: Engine, key: str) -> list[Any]:
    """(run_id, household_id, family_ref) of every complete build's household with ``key`` as
    its reference or internal id."""
    h = s.households.c
    query = (
        select(h.run_id, h.household_id, h.family_ref)
        .join(s.runs, s.runs.c.id == h.run_id)
        .where(
            s.runs.c.status == "complete",
            (h.family_ref == key) | (h.household_id == key),
        )
    )
    with engine.connect() as conn:
        return list(conn.execute(query).fetchall())


def resolve_family(store: Store | Engine, run_id: int, given: str) -> FamilyId:
    """The household of run ``run_id`` that ``given`` names: a family reference (``F000011``,
    also ``f11``) or the run's internal household id. If the run has none, the error names the
    run searched and the nearest run (by number) where the same reference or id exists."""
    engine = as_engine(store)
    key = normalise_ref(given)
    found = _households_named(engine, key)
    here = [r for r in found if r.run_id == run_id]
    if here:
        return FamilyId(run_id, here[0].household_id, here[0].family_ref)
    what = "family" if REF_INPUT.match(key) else "household"
    message = f"{what} {key} is not in run {run_id} (the run searched)"
    if not found:
        raise FamilyMatchError(f"{message}, nor in any other complete build in {label_of(store)}.")
    near = min(found, key=lambda r: (abs(r.run_id - run_id), -r.run_id))
    other = FamilyId(near.run_id, near.household_id, near.family_ref)
    if other.family_ref is not None and other.family_ref != key:
        same = [r for r in _households_named(engine, other.family_ref) if r.run_id == run_id]
        if same:
            raise FamilyMatchError(
                f"{message}: it is a household id of run {near.run_id}, where it is family "
                f"{other.family_ref}; in run {run_id} that family is household "
                f"{same[0].household_id}: use {other.family_ref}."
            )
    raise FamilyMatchError(
        f"{message}; the nearest match is {other.name} in run {near.run_id}: "
        f"add --run {near.run_id} to see it."
    )


def reference_for(store: Store | Engine, given: str) -> str:
    """The family reference ``given`` names: itself (normalised), or the reference of the
    latest build's household with that internal id."""
    key = normalise_ref(given)
    if REF_INPUT.match(key):
        return key
    run_id = latest_run(as_engine(store))
    if run_id is None:
        raise FamilyMatchError(f"{key} is not a family reference (e.g. F000011).")
    family = resolve_family(store, int(run_id), key)
    if family.family_ref is None:
        raise FamilyMatchError(f"household {key} of run {run_id} has no family reference.")
    return family.family_ref
