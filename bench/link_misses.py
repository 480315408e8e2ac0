"""Where a harness data set's linkage misses: false negatives and false positives by cause.

    .venv/bin/python bench/link_misses.py ../shared/bench/data/febrl4 [--show 20] [--out DIR]

(the harness's data folder: compare.sh or prepare_data.py / gen_people.py create it)

Links the data set exactly as bench/link_dataset.py does, then (after linking, for diagnosis
only) reads the harness's truth and scores every true pair and every wrongly linked pair with
the fitted model: whether blocking found it, its comparison levels, its match weight and the
stage that decided it (``fs`` or the pair rule that kept it apart). Prints the counts by cause
and the most common level patterns; ``--out`` writes both pair lists as Parquet.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from itertools import combinations
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script from the repository
from link_dataset import load  # noqa: E402  (bench/link_dataset.py)

from familymatch.link import LinkConfig, link_records, linkable_expr
from familymatch.link.blocking import DEFAULT_RULES, WIDE_RULES, candidate_pairs
from familymatch.link.compare import FIELDS, comparison_levels, pair_frame
from familymatch.link.model import attach_term_frequencies
from familymatch.link.pair_rules import rule_stage
from familymatch.standardise import standardise


def truth_pairs(data_dir: Path, records: pl.DataFrame) -> pl.DataFrame:
    """record_id_l, record_id_r of every true pair (cross-source only for a ``link`` task)."""
    manifest = json.loads((data_dir / "manifest.json").read_text())
    truth = pl.read_parquet(data_dir / manifest["truth"]).select(
        pl.col("rec_id").cast(pl.String).alias("record_id"), "person_id"
    )
    src = dict(records.select("record_id", "source").iter_rows())
    rows = []
    for ids in truth.group_by("person_id").agg("record_id")["record_id"]:
        for a, b in combinations(sorted(ids), 2):
            if manifest["task"] == "link" and src[a] == src[b]:
                continue
            rows.append((a, b))
    return pl.DataFrame(rows, schema=["record_id_l", "record_id_r"], orient="row")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--show", type=int, default=15)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    manifest = json.loads((args.data_dir / "manifest.json").read_text())
    household = manifest.get("postcode_format", "uk") == "uk"
    rules = DEFAULT_RULES if household else DEFAULT_RULES + WIDE_RULES
    config = LinkConfig(household_guards=household, rules=rules)

    records = load(args.data_dir)
    std = standardise(records)
    result = link_records(std, config)
    model = result.model
    print(f"lambda {model.lam:.4f}, EM iterations {model.iterations}")
    for f in FIELDS:
        m = " ".join(f"{v:.4f}" for v in model.m[f])
        u = " ".join(f"{v:.4f}" for v in model.u[f])
        print(f"  {f:4} m [{m}]  u [{u}]")

    truth = truth_pairs(args.data_dir, records)
    person = result.persons.select("record_id", "person_id")
    pred = (
        person.join(person, on="person_id", suffix="_r")
        .filter(pl.col("record_id") < pl.col("record_id_r"))
        .select(pl.col("record_id").alias("record_id_l"), "record_id_r")
    )
    src = records.select("record_id", "source")
    if manifest["task"] == "link":
        pred = (
            pred.join(src, left_on="record_id_l", right_on="record_id")
            .join(src, left_on="record_id_r", right_on="record_id", suffix="_r")
            .filter(pl.col("source") != pl.col("source_r"))
            .select("record_id_l", "record_id_r")
        )
    truth = truth.select(
        pl.min_horizontal("record_id_l", "record_id_r").alias("record_id_l"),
        pl.max_horizontal("record_id_l", "record_id_r").alias("record_id_r"),
    )
    fn = truth.join(pred, on=["record_id_l", "record_id_r"], how="anti")
    fp = pred.join(truth, on=["record_id_l", "record_id_r"], how="anti")
    tp = truth.height - fn.height
    p = tp / max(pred.height, 1)
    r = tp / max(truth.height, 1)
    print(
        f"true pairs {truth.height}, predicted {pred.height}, TP {tp}, FN {fn.height}, "
        f"FP {fp.height}; P {p:.4f} R {r:.4f} F1 {2 * p * r / max(p + r, 1e-9):.4f}"
    )

    # score the missed and the wrong pairs with the fitted model, as link_records does
    full = std.with_row_index("__i").with_columns(linkable_expr().alias("linkable"))
    usable = attach_term_frequencies(full.filter(pl.col("linkable")), model.tf, model.tf_floor)
    cand, _ = candidate_pairs(usable, config.rules, config.max_pairs_per_rule)
    idx = full.select("__i", "record_id")
    log2_records = math.log2(max(usable.height, 2))
    stage = rule_stage(config.pair_rules, config.household_guards)

    def scored(pairs: pl.DataFrame) -> pl.DataFrame:
        ij = (
            pairs.join(idx.rename({"record_id": "record_id_l", "__i": "a"}), on="record_id_l")
            .join(idx.rename({"record_id": "record_id_r", "__i": "b"}), on="record_id_r")
            .select(
                pl.min_horizontal("a", "b").alias("i"),
                pl.max_horizontal("a", "b").alias("j"),
                "record_id_l",
                "record_id_r",
            )
        )
        ij = ij.join(cand.select("i", "j", "rule"), on=["i", "j"], how="left").with_columns(
            pl.col("rule").is_not_null().alias("candidate"), pl.col("rule").fill_null(-1)
        )
        lv = comparison_levels(pair_frame(usable, ij.select("i", "j", "rule")))
        out = (
            model.score(lv)
            .with_columns(pl.lit(log2_records).alias("log2_records"))
            .with_columns(stage.alias("stage"))
        )
        return ij.select("i", "j", "record_id_l", "record_id_r", "candidate").join(
            out.drop("rule"), on=["i", "j"], how="left"
        )

    cols = ["fn", "fn_canon", "sn", "mn", "dob", "sex", "pc", "addr"]
    side = full.select("__i", *cols)

    def show(label: str, pairs: pl.DataFrame) -> None:
        s = scored(pairs)
        print(f"\n== {label}: {s.height}")
        cause = s.with_columns(
            pl.when(~pl.col("candidate"))
            .then(pl.lit("not a candidate"))
            .when(pl.col("stage") != "fs")
            .then(pl.col("stage"))
            .when(pl.col("match_probability") < config.threshold)
            .then(pl.lit("fs below threshold"))
            .otherwise(pl.lit("fs linked"))
            .alias("cause")
        )
        print(cause.group_by("cause").len().sort("len", descending=True))
        print(
            cause.group_by("cause", *FIELDS)
            .agg(pl.len(), pl.col("match_weight").mean().round(1).alias("mean_w"))
            .sort("len", descending=True)
            .head(args.show)
        )
        detail = (
            cause.join(
                side.rename({c: f"{c}_l" for c in side.columns}), left_on="i", right_on="__i_l"
            )
            .join(side.rename({c: f"{c}_r" for c in side.columns}), left_on="j", right_on="__i_r")
            .sort("match_weight", descending=True, nulls_last=True)
        )
        with pl.Config(tbl_cols=-1, tbl_width_chars=250, fmt_str_lengths=30, tbl_rows=args.show):
            print(
                detail.select(
                    "cause",
                    pl.col("match_weight").round(1),
                    *FIELDS,
                    *[
                        c
                        for col in ("fn", "sn", "dob", "addr", "pc")
                        for c in (f"{col}_l", f"{col}_r")
                    ],
                ).head(args.show)
            )
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            detail.write_parquet(args.out / f"{label.replace(' ', '_')}.parquet")

    show("false negatives", fn)
    show("false positives", fp)


if __name__ == "__main__":
    main()
