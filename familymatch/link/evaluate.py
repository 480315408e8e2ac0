"""Pairwise precision, recall and F1 of a clustering against a truth, computed from cluster
sizes (no pair lists): true positives = sum over (predicted, actual) cells of n(n-1)/2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from familymatch.errors import FamilyMatchError


def _pairs(col: pl.Expr) -> pl.Expr:
    return (col.cast(pl.Int64) * (col.cast(pl.Int64) - 1) // 2).sum()


def pairwise_scores(predicted: pl.DataFrame, actual: pl.DataFrame) -> dict[str, float]:
    """predicted: record_id, predicted; actual: record_id, actual (records in both only)."""
    j = predicted.join(actual, on="record_id", how="inner")
    tp = j.group_by("predicted", "actual").len().select(_pairs(pl.col("len"))).item() or 0
    pp = j.group_by("predicted").len().select(_pairs(pl.col("len"))).item() or 0
    ap = j.group_by("actual").len().select(_pairs(pl.col("len"))).item() or 0
    precision = tp / pp if pp else 1.0
    recall = tp / ap if ap else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 6),
        "recall": round(recall, 6),
        "f1": round(f1, 6),
        "true_positive_pairs": int(tp),
        "predicted_pairs": int(pp),
        "true_pairs": int(ap),
        "records": j.height,
    }


def evaluate_links(membership: pl.DataFrame, truth: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Person and household scores. membership: record_id, person_id, household_id; truth the
    same columns from the synthetic council (or any council's own truth)."""
    return {
        "persons": pairwise_scores(
            membership.select("record_id", pl.col("person_id").alias("predicted")),
            truth.select("record_id", pl.col("person_id").alias("actual")),
        ),
        "households": pairwise_scores(
            membership.select("record_id", pl.col("household_id").alias("predicted")),
            truth.select("record_id", pl.col("household_id").alias("actual")),
        ),
    }


def link_rates(std: pl.DataFrame, persons: pl.DataFrame, reference_year: int) -> pl.DataFrame:
    """Share of records linked to at least one other record, by source, sex and age band."""
    sizes = persons.group_by("person_id").len().rename({"len": "cluster_size"})
    frame = (
        std.select("record_id", "source", "sex", "dob")
        .join(persons.select("record_id", "person_id"), on="record_id")
        .join(sizes, on="person_id")
        .with_columns(
            (pl.lit(reference_year) - pl.col("dob").dt.year()).alias("age"),
        )
        .with_columns(
            pl.when(pl.col("age").is_null())
            .then(pl.lit("unknown"))
            .when(pl.col("age") < 5)
            .then(pl.lit("0-4"))
            .when(pl.col("age") < 11)
            .then(pl.lit("5-10"))
            .when(pl.col("age") < 18)
            .then(pl.lit("11-17"))
            .when(pl.col("age") < 25)
            .then(pl.lit("18-24"))
            .when(pl.col("age") < 65)
            .then(pl.lit("25-64"))
            .otherwise(pl.lit("65+"))
            .alias("age_band"),
            pl.col("sex").fill_null("unknown"),
        )
    )
    parts = []
    for group in ("source", "sex", "age_band"):
        parts.append(
            frame.group_by(group)
            .agg(
                pl.len().alias("records"), (pl.col("cluster_size") > 1).mean().alias("linked_share")
            )
            .select(
                pl.lit(group).alias("group"),
                pl.col(group).alias("value"),
                "records",
                "linked_share",
            )
        )
    return pl.concat(parts).sort("group", "value")


def read_truth(truth: Path) -> pl.DataFrame:
    """record_id, person_id, household_id (and address_id where the truth has it) from a truth
    folder's records.parquet (or the file)."""
    path = truth / "records.parquet" if truth.is_dir() else truth
    if not path.is_file():
        raise FamilyMatchError(f"--truth {truth}: no records.parquet there.")
    try:
        frame = pl.read_parquet(path)
        extra = ["address_id"] if "address_id" in frame.columns else []
        return frame.select("record_id", "person_id", "household_id", *extra)
    except Exception:
        raise FamilyMatchError(
            f"--truth {path}: needs columns record_id, person_id, household_id."
        ) from None


def evaluate_run(store: Any, run_id: int, truth: Path, by_group: bool) -> dict[str, Any]:
    """A recorded build's scores against a truth; with ``by_group`` its link rates too."""
    from familymatch.standardise import standardise
    from familymatch.store import read_table, run_info
    from familymatch.store import schema as s

    truth_frame = read_truth(truth)
    scores: dict[str, Any] = dict(
        evaluate_links(read_table(store, s.membership, run_id), truth_frame)
    )
    if by_group:
        year = run_info(store, run_id)["reference_date"].year
        std = standardise(read_table(store, s.records, run_id))
        rates = link_rates(std, read_table(store, s.persons, run_id), year)
        scores["link_rates"] = rates.to_dicts()
    return scores


def export_links(store: Any, run_id: int, out: Path) -> int:
    """Per source row: record_id, source, row, role, person_id, household_id, written to a
    .csv or .parquet file readable by its owner only. Returns the rows written."""
    from familymatch.outputs import write_owner_only
    from familymatch.store import read_table
    from familymatch.store import schema as s

    if out.suffix.lower() not in (".csv", ".parquet"):
        raise FamilyMatchError(f"--out {out}: use a .csv or .parquet file name.")
    recs = read_table(store, s.records, run_id).select("record_id", "source", "row", "role")
    frame = recs.join(read_table(store, s.membership, run_id), on="record_id").sort(
        "source", "row", "role"
    )
    if out.suffix.lower() == ".parquet":
        write_owner_only(out, lambda tmp: frame.write_parquet(tmp))
    else:
        write_owner_only(out, lambda tmp: frame.write_csv(tmp))
    return frame.height
