"""``claims prepare``: gather the recorded evidence, decide every attached family, record the
claim as a run of kind ``claim`` and write the workbook.

The evidence for a family is every record of its members: from the build the family was
attached from, and from the latest ``outcomes`` import linked onto that build. ``gather`` reads
it; ``decide`` (claims/results.py) decides; ``record_claim`` stores decisions and their lines so
``claims verify`` can re-derive and compare.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from claims.framework import Framework
from claims.outcomes import latest_outcomes_run
from claims.records import (
    from_pence,
    read_submitted_claims,
    require_attachments,
    submitted_claim_runs,
    to_pence,
)
from claims.results import Decision, Fact, Family, decide
from familymatch.errors import FamilyMatchError
from familymatch.people import modal_dob
from familymatch.store import Store, read_rows_in, recording_run, run_info
from familymatch.store import schema as s
from rules.engine import BASE_COLUMNS
from rules.terms import project_calendar

FACT_COLUMNS = tuple(c for c in BASE_COLUMNS if c != "dob")  # the rules' columns


@dataclass
class Evidence:
    """Everything a decision reads, and where it came from."""

    builds: list[int]  # the builds the families were attached from
    outcomes_runs: dict[int, int | None]  # build -> the outcomes import linked onto it
    families: list[Family]
    facts: dict[str, list[Fact]]
    dobs: dict[str, date | None]
    already: dict[str, set[str]]
    turned_around_before: int


def _family_facts(store: Store, run_id: int, households: pl.DataFrame, period: str) -> pl.DataFrame:
    """The records of the given households' members in one run (joined in the database: a
    claim reads a few thousand of a build's records, not all of them)."""
    from sqlalchemy import select

    from familymatch.store.bulk import frame_of
    from familymatch.store.engine import as_engine

    m, r = s.membership, s.records
    cols = [m.c.household_id, m.c.person_id, r.c.dob, *[r.c[c] for c in FACT_COLUMNS]]
    ids = households["household_id"].to_list()
    rows: list[tuple[object, ...]] = []
    with as_engine(store).connect() as conn:
        for start in range(0, len(ids), 500):
            query = (
                select(*cols)
                .join(r, (r.c.run_id == m.c.run_id) & (r.c.record_id == m.c.record_id))
                .where(m.c.run_id == run_id, m.c.household_id.in_(ids[start : start + 500]))
            )
            rows.extend(tuple(x) for x in conn.execute(query))
    frame = frame_of(rows, cols)
    return frame.join(households, on="household_id").select(
        "family_ref",
        "person_id",
        "dob",
        *FACT_COLUMNS,
        pl.lit(period).alias("period"),
    )


def _build_families(store: Store, build_run: int, attachments: pl.DataFrame) -> list[Family]:
    """The families attached from one build, with their criteria at entry (that build's; the
    cohort rows of their households only, not the city's)."""
    households = attachments["household_id"].to_list()
    cohort = read_rows_in(store, s.cohort, build_run, "household_id", households)
    cohort = cohort.select("household_id", "combination")
    fams = attachments.join(cohort, on="household_id", how="left").sort("family_ref")
    return [
        Family(
            family_ref=r["family_ref"],
            household_id=r["household_id"],
            key_worker=r["key_worker"],
            attached_on=r["attached_on"],
            criteria=tuple((r["combination"] or "").split("+")) if r["combination"] else (),
        )
        for r in fams.iter_rows(named=True)
    ]


def _build_facts(
    store: Store, build_run: int, attachments: pl.DataFrame, qualify: bool
) -> tuple[pl.DataFrame, int | None]:
    """The records of one build's attached families, from the build and the latest outcomes
    import linked onto it; person ids qualified ``<build>/<person>`` when ``qualify`` (two
    builds number their persons independently)."""
    households = attachments.select("household_id", "family_ref")
    frames = [_family_facts(store, build_run, households, "build")]
    outcomes_run = latest_outcomes_run(store, build_run)
    if outcomes_run is not None:
        frames.append(_family_facts(store, outcomes_run, households, "later"))
    facts = pl.concat(frames, how="vertical_relaxed")
    if qualify:
        facts = facts.with_columns(
            pl.format("{}/{}", pl.lit(build_run), "person_id").alias("person_id")
        )
    return facts, outcomes_run


def earlier_submissions(store: Store, before_claim_run: int | None) -> pl.DataFrame:
    """Results claimed in submitted claims; with ``before_claim_run``, only the submissions of
    claim runs prepared before it (verify re-derives a claim as it stood: neither its own
    submission nor a later claim's counts against it)."""
    submitted = read_submitted_claims(store)
    if before_claim_run is not None:
        submitted = submitted.filter(pl.col("claim_run_id") < before_claim_run)
    return submitted


def gather(
    store: Store,
    fw: Framework,
    build_run: int | None = None,
    before_claim_run: int | None = None,
) -> Evidence:
    """The evidence for deciding every attached family (only those attached from
    ``build_run`` when given): each family's records in the build it was attached from and in
    the latest outcomes import linked onto that build; and what earlier submissions claimed
    (see :func:`earlier_submissions`)."""
    attachments = require_attachments(store)
    if before_claim_run is not None:
        attachments = attachments.filter(pl.col("run_id") < before_claim_run)
    if build_run is not None:
        attachments = attachments.filter(pl.col("build_run_id") == build_run)
        if attachments.height == 0:
            raise FamilyMatchError(f"no family was attached from build run {build_run}.")
    builds = sorted(int(b) for b in attachments["build_run_id"].unique())
    families: list[Family] = []
    frames: list[pl.DataFrame] = []
    outcomes: dict[int, int | None] = {}
    for b in builds:
        of_build = attachments.filter(pl.col("build_run_id") == b)
        families += _build_families(store, b, of_build)
        facts_b, outcomes[b] = _build_facts(store, b, of_build, qualify=b != builds[0])
        frames.append(facts_b)
    facts_frame = pl.concat(frames, how="vertical_relaxed")
    dobs_frame = modal_dob(facts_frame.filter(pl.col("period") == "build"))
    dobs: dict[str, date | None] = dict(
        zip(dobs_frame["person_id"], dobs_frame["dob"], strict=True)
    )
    facts: dict[str, list[Fact]] = {}
    for row in facts_frame.drop("dob").iter_rows(named=True):
        facts.setdefault(row["family_ref"], []).append(row)
    already: dict[str, set[str]] = {}
    submitted = earlier_submissions(store, before_claim_run)
    for ref, result in submitted.select("family_ref", "result").iter_rows():
        already.setdefault(ref, set()).update(result.split("+"))
    turnarounds = {n for n, r in fw.results.items() if r.turnaround}
    before = sum(1 for results in already.values() if results & turnarounds)
    return Evidence(builds, outcomes, families, facts, dobs, already, before)


def build_terms(store: Store, build_run: int) -> Path | None:
    """The term calendar the build used (``[project] terms``), recorded with the build run;
    None = the packaged one. A claim decides with the calendar its cohort was built with."""
    params = json.loads(run_info(store, build_run)["parameters"] or "{}")
    return Path(params["terms"]) if params.get("terms") else None


def decide_all(
    fw: Framework, ev: Evidence, as_of: date, terms: Path | None = None
) -> list[Decision]:
    """A decision for every family attached on or before the claim date (a family attached
    later is not part of this claim); ``terms`` is the council's term calendar (None: the
    packaged one)."""
    cap = fw.funded_families() - ev.turned_around_before if fw.indicative_families else None
    families = [f for f in ev.families if f.attached_on <= as_of]
    calendar = project_calendar(terms)
    return decide(fw, families, ev.facts, as_of, calendar, ev.dobs, ev.already, cap)


def audit_sample(refs: list[str], fw: Framework, share: Decimal | None = None) -> set[str]:
    """A reproducible sample of claimed families: seeded by the framework's audit seed and the
    families claimed, so the same claim always gives the same sample."""
    share = fw.audit_sample_share if share is None else share
    ordered = sorted(refs)
    if not ordered:
        return set()
    k = min(len(ordered), max(1, math.ceil(share * len(ordered))))
    seed = f"{fw.audit_seed}:" + ",".join(ordered)
    return set(random.Random(seed).sample(ordered, k))


def claim_frames(
    run_id: int, decisions: list[Decision], sample: set[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The ``claims`` and ``claim_lines`` rows of a claim run."""
    claims: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    for d in decisions:
        claim_id = f"{run_id}-{d.family.family_ref}"
        claims.append(
            {
                "claim_id": claim_id,
                "family_ref": d.family.family_ref,
                "household_id": d.family.household_id,
                "result": "+".join(d.results) if d.results else None,
                "programme_year": d.programme_year,
                "amount_pence": to_pence(d.amount),
                "decision": "claimed" if d.claimed else "not_claimed",
                "reason": d.reason,
                "attached_on": d.family.attached_on,
                "key_worker": d.family.key_worker,
                "criteria_at_entry": "+".join(d.family.criteria),
                "sampled": d.family.family_ref in sample,
            }
        )
        for i, line in enumerate(d.lines, start=1):
            lines.append({"claim_id": claim_id, "line": i, **line.__dict__})
    claim_schema = {
        "claim_id": pl.String,
        "family_ref": pl.String,
        "household_id": pl.String,
        "result": pl.String,
        "programme_year": pl.String,
        "amount_pence": pl.Int64,
        "decision": pl.String,
        "reason": pl.String,
        "attached_on": pl.Date,
        "key_worker": pl.String,
        "criteria_at_entry": pl.String,
        "sampled": pl.Boolean,
    }
    line_schema = {
        "claim_id": pl.String,
        "line": pl.Int64,
        "component": pl.String,
        "measure": pl.String,
        "person_id": pl.String,
        "record_id": pl.String,
        "source": pl.String,
        "row": pl.Int64,
        "date": pl.Date,
        "before": pl.String,
        "after": pl.String,
        "threshold": pl.String,
        "met": pl.Boolean,
    }
    return (
        pl.DataFrame(claims, schema=claim_schema, orient="row"),
        pl.DataFrame(lines, schema=line_schema, orient="row"),
    )


def content_hash(claims: pl.DataFrame, lines: pl.DataFrame) -> str:
    """SHA-256 over the claimed families and their evidence lines, in a fixed text form."""
    h = hashlib.sha256()
    for frame in (
        claims.sort("claim_id").drop("sampled"),
        lines.sort("claim_id", "line"),
    ):
        for row in frame.iter_rows():
            h.update(json.dumps(row, default=str).encode())
            h.update(b"\n")
    return h.hexdigest()


@dataclass
class PreparedClaim:
    run_id: int
    decisions: list[Decision]
    claims: pl.DataFrame
    lines: pl.DataFrame
    summary: dict[str, Any]


def totals(claims: pl.DataFrame) -> list[dict[str, Any]]:
    """Claimed families and amounts by programme year and result."""
    claimed = claims.filter(pl.col("decision") == "claimed")
    rows = (
        claimed.group_by("programme_year", "result")
        .agg(pl.len().alias("families"), pl.col("amount_pence").sum().alias("pence"))
        .sort("programme_year", "result")
    )
    return [
        {
            "programme_year": r["programme_year"],
            "result": r["result"],
            "families": r["families"],
            "amount": str(from_pence(r["pence"])),
        }
        for r in rows.iter_rows(named=True)
    ]


def check_claim_date(store: Store, as_of: date) -> None:
    """A claim claims what became claimable since the last submitted claim: its date must be
    after that claim's date (an earlier one would judge windows already paid on)."""
    from familymatch.store import run_info

    subs = submitted_claim_runs(store)
    if subs.height == 0:
        return
    dates = [(run_info(store, int(r))["reference_date"], int(r)) for r in subs["claim_run_id"]]
    last, run = max(dates)
    if as_of <= last:
        raise FamilyMatchError(
            f"--as-of {as_of}: claim run {run}, dated {last}, is already submitted; a new claim "
            "must be dated after it."
        )


def prepare_claim(
    store: Store,
    fw: Framework,
    as_of: date,
    build_run: int | None = None,
    sample_share: Decimal | None = None,
) -> PreparedClaim:
    check_claim_date(store, as_of)
    ev = gather(store, fw, build_run)
    terms = build_terms(store, ev.builds[-1])
    decisions = decide_all(fw, ev, as_of, terms)
    runs = {
        "build_run": ev.builds[-1],
        "outcomes_run": ev.outcomes_runs[ev.builds[-1]],
        "build_runs": ev.builds,
        "outcomes_runs": [ev.outcomes_runs[b] for b in ev.builds],
    }
    with recording_run(
        store,
        "claim",
        reference_date=as_of,
        framework=fw.name,
        framework_sha256=fw.sha256,
        parameters={
            **runs,
            "only_build": build_run,
            "framework_version": fw.version,
            "framework_path": str(fw.path),
            "as_of": as_of.isoformat(),
            "sample_share": str(fw.audit_sample_share if sample_share is None else sample_share),
            "terms": str(terms) if terms else None,
        },
    ) as run:
        claimed_refs = [d.family.family_ref for d in decisions if d.claimed]
        sample = audit_sample(claimed_refs, fw, sample_share)
        claims, lines = claim_frames(run.run_id, decisions, sample)
        run.add(s.claims, claims)
        run.add(s.claim_lines, lines)
        total = claims.filter(pl.col("decision") == "claimed")["amount_pence"].sum()
        run.summary = {
            "as_of": as_of.isoformat(),
            "framework": fw.name,
            "framework_version": fw.version,
            **runs,
            "attached": len(decisions),
            "claimed": len(claimed_refs),
            "not_claimed": len(decisions) - len(claimed_refs),
            "amount": str(from_pence(int(total or 0))),
            "by_year_and_result": totals(claims),
            "sampled": len(sample),
            "content_sha256": content_hash(claims, lines),
        }
    return PreparedClaim(run.run_id, decisions, claims, lines, run.summary)


def workbook_name(folder: Path, run_id: int) -> Path:
    return folder / f"claim-run-{run_id}.xlsx"
