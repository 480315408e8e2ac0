"""Pairwise precision, recall and F1 of a clustering against a truth, computed from cluster
sizes (no pair lists): true positives = sum over (predicted, actual) cells of n(n-1)/2."""

from __future__ import annotations

import polars as pl


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


def evaluate_links(
    membership: pl.DataFrame, truth: pl.DataFrame, addresses: pl.DataFrame | None = None
) -> dict[str, dict[str, float]]:
    """Person and household scores, and address scores when ``addresses`` (record_id,
    address_id) is given and the truth has an ``address_id`` column. membership: record_id,
    person_id, household_id; truth the same columns from the synthetic council (or any
    council's own truth)."""
    scores = {
        "persons": pairwise_scores(
            membership.select("record_id", pl.col("person_id").alias("predicted")),
            truth.select("record_id", pl.col("person_id").alias("actual")),
        ),
        "households": pairwise_scores(
            membership.select("record_id", pl.col("household_id").alias("predicted")),
            truth.select("record_id", pl.col("household_id").alias("actual")),
        ),
    }
    if addresses is not None and "address_id" in truth.columns:
        scores["addresses"] = address_scores(addresses, truth)
    return scores


def address_scores(addresses: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float]:
    """Pairwise scores of records sharing an address entity, over the records whose truth names
    an address; a record the stage placed nowhere is alone (it misses every true pair)."""
    return pairwise_scores(
        addresses.select(
            "record_id",
            pl.coalesce(
                pl.col("address_id").cast(pl.String), pl.format("none:{}", "record_id")
            ).alias("predicted"),
        ),
        truth.drop_nulls("address_id").select("record_id", pl.col("address_id").alias("actual")),
    )


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
