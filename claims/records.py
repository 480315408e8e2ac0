"""What the programme has recorded after the cohort: attachments, outcome imports, claims and
submissions, read from (and written to) the store. Each write is a run of its own kind
(``attach``, ``outcomes``, ``claim``, ``submit``), atomic like a build; readers only see
complete runs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import select

from familymatch.store import Store, read_kind, read_table, recording_run
from familymatch.store import schema as s
from familymatch.store.bulk import frame_of
from familymatch.store.engine import as_engine

PENCE = Decimal(100)


def to_pence(amount: Decimal) -> int:
    pence = amount * PENCE
    if pence != pence.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of pence")
    return int(pence)


def from_pence(pence: int) -> Decimal:
    return (Decimal(pence) / PENCE).quantize(Decimal("0.01"))


def cohort_families(store: Store, build_run: int) -> pl.DataFrame:
    """The build's cohort: family_ref, household_id, criteria (the combination), postcode."""
    cohort = read_table(store, s.cohort, build_run).filter(pl.col("in_cohort"))
    households = read_table(store, s.households, build_run).select(
        "household_id", "family_ref", "postcode"
    )
    return (
        cohort.join(households, on="household_id", how="left")
        .select(
            "family_ref",
            "household_id",
            pl.col("combination").alias("criteria"),
            "postcode",
            "n_criteria",
        )
        .sort("family_ref")
    )


def family_refs(store: Store, build_run: int) -> set[str]:
    refs = read_table(store, s.households, build_run)["family_ref"].drop_nulls()
    return set(refs.to_list())


def read_attachments(store: Store) -> pl.DataFrame:
    """Every family attached in a complete ``attach`` run: family_ref, household_id,
    key_worker, team, attached_on, build_run_id, run_id (the attach run)."""
    rows = read_kind(store, s.attachments, "attach")
    return rows.select(
        "family_ref",
        "household_id",
        "key_worker",
        "team",
        "attached_on",
        "build_run_id",
        "run_id",
    )


def require_attachments(store: Store) -> pl.DataFrame:
    """Every attachment recorded (see :func:`read_attachments`); an error when there is none."""
    from familymatch.errors import FamilyMatchError

    attachments = read_attachments(store)
    if attachments.height == 0:
        raise FamilyMatchError(
            "no family is attached yet; record the allocation with `familymatch attach` first."
        )
    return attachments


def record_attachments(store: Store, build_run: int, rows: pl.DataFrame, path: str) -> int:
    """Record checked allocation rows as one ``attach`` run; returns its id."""
    from familymatch.store.audit import now

    with recording_run(store, "attach", parameters={"build_run": build_run, "file": path}) as run:
        run.add(
            s.attachments,
            rows.with_columns(
                pl.lit(build_run).alias("build_run_id"),
                pl.lit(now()).alias("recorded_at"),
            ),
        )
        run.summary = {"families": rows.height, "build_run": build_run}
    return run.run_id


def submitted_claim_runs(store: Store) -> pl.DataFrame:
    """claim_run_id, submitted_on, workbook_sha256, run_id (the submit run) of every
    submission."""
    return read_kind(store, s.submissions, "submit").select(
        "claim_run_id", "submitted_on", "workbook_sha256", "families", "amount_pence", "run_id"
    )


def read_submitted_claims(store: Store) -> pl.DataFrame:
    """Results claimed in submitted claims: family_ref, result, amount (a Decimal as text,
    "800.00"), programme_year, submitted_on, claim_run_id."""
    subs = submitted_claim_runs(store)
    frames = []
    for claim_run, submitted_on in subs.select("claim_run_id", "submitted_on").iter_rows():
        claimed = read_table(store, s.claims, claim_run).filter(pl.col("decision") == "claimed")
        frames.append(
            claimed.select(
                "family_ref",
                "result",
                pl.col("amount_pence")
                .map_elements(lambda p: str(from_pence(p)), return_dtype=pl.String)
                .alias("amount"),
                "programme_year",
                pl.lit(submitted_on, dtype=pl.Date).alias("submitted_on"),
                pl.lit(claim_run, dtype=pl.Int64).alias("claim_run_id"),
            )
        )
    if not frames:
        return pl.DataFrame(
            schema={
                "family_ref": pl.String,
                "result": pl.String,
                "amount": pl.String,
                "programme_year": pl.String,
                "submitted_on": pl.Date,
                "claim_run_id": pl.Int64,
            }
        )
    return pl.concat(frames)


def record_submission(
    store: Store, claim_run: int, sha256: str, submitted_on: Any, families: int, pence: int
) -> int:
    """Record a verified claim as submitted (a run of kind ``submit``); returns its id."""
    with recording_run(store, "submit", parameters={"claim_run": claim_run}) as run:
        run.add(
            s.submissions,
            pl.DataFrame(
                {
                    "claim_run_id": [claim_run],
                    "workbook_sha256": [sha256],
                    "submitted_on": [submitted_on],
                    "families": [families],
                    "amount_pence": [pence],
                }
            ),
        )
        run.summary = {"claim_run": claim_run, "families": families, "amount_pence": pence}
    return run.run_id


def family_history(store: Store, family_ref: str) -> pl.DataFrame:
    """Every claim decision about one family: claim_run, as_of, decision, result, amount,
    reason, submitted_on (null if that claim was not submitted)."""
    cols = [
        s.claims.c.run_id.label("claim_run"),
        s.runs.c.reference_date.label("as_of"),
        s.claims.c.decision,
        s.claims.c.result,
        s.claims.c.programme_year,
        s.claims.c.amount_pence,
        s.claims.c.reason,
    ]
    query = (
        select(*cols)
        .join(s.runs, s.runs.c.id == s.claims.c.run_id)
        .where(
            s.claims.c.family_ref == family_ref,
            s.runs.c.kind == "claim",
            s.runs.c.status == "complete",
        )
        .order_by(s.claims.c.run_id)
    )
    with as_engine(store).connect() as conn:
        frame = frame_of(conn.execute(query).fetchall(), cols)
    subs = submitted_claim_runs(store).select(
        pl.col("claim_run_id").alias("claim_run"), "submitted_on"
    )
    return frame.join(subs, on="claim_run", how="left")
