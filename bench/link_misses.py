"""Where linkage misses: false negatives and false positives by cause, on a harness data set or
on a council.

    .venv/bin/python bench/link_misses.py ../shared/bench/data/febrl4 [--show 20] [--out DIR]
    .venv/bin/python bench/link_misses.py work/council [--blank-dob asb_incidents=0.6]
        [--year-swap 0.02]

DATA_DIR is the harness's data folder of one data set (compare.sh or prepare_data.py /
gen_people.py create it), or a council folder (its familymatch.toml and truth/records.parquet,
e.g. from ``familymatch fixtures generate``). Links the records as bench/link_dataset.py (harness)
or the build (council) does, then (after linking, for diagnosis only) reads the truth and scores
every true pair and every wrongly linked pair with the fitted model: whether blocking found it,
its comparison levels, its match weight and the stage that decided it (``fs`` or the pair rule
that kept it apart). Prints the counts by cause and the most common level patterns; ``--out``
writes both pair lists as Parquet.

A class of failure can be stressed on any council, before linking: ``--blank-dob KIND=SHARE``
(repeatable) removes the date of birth from that share of the records of sources of that kind
(police and ASB systems that do not record one); ``--year-swap SHARE`` swaps the last two digits
of the year of birth (1974 / 1947) on that share of all records; ``--surname-change SHARE`` gives
that share of women's records (born before 1990) a married surname.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script from the repository
from link_dataset import load  # noqa: E402  (bench/link_dataset.py)

from familymatch.addresses import resolve_addresses, with_addresses
from familymatch.addresses.gazetteer import read_gazetteer
from familymatch.ingest import ingest_project
from familymatch.link import LinkConfig, link_records, linkable_expr
from familymatch.link.blocking import DEFAULT_RULES, WIDE_RULES, candidate_pairs
from familymatch.link.compare import FIELDS, comparison_levels, pair_frame
from familymatch.link.model import attach_term_frequencies, with_location_key
from familymatch.link.pair_rules import rule_stage
from familymatch.project import load_project
from familymatch.standardise import SEX_CODES, standardise


def truth_pairs(truth: pl.DataFrame, records: pl.DataFrame, cross_source: bool) -> pl.DataFrame:
    """record_id_l < record_id_r of every true pair (truth: record_id, person_id), only across
    sources when ``cross_source`` (a harness ``link`` task)."""
    t = truth.join(records.select("record_id", "source"), on="record_id")
    pairs = t.join(t, on="person_id", suffix="_r").filter(
        pl.col("record_id") < pl.col("record_id_r")
    )
    if cross_source:
        pairs = pairs.filter(pl.col("source") != pl.col("source_r"))
    return pairs.select(pl.col("record_id").alias("record_id_l"), "record_id_r")


def is_council(data_dir: Path) -> bool:
    return (data_dir / "familymatch.toml").exists()


def prepare(records: pl.DataFrame, data_dir: Path, no_addresses: bool) -> pl.DataFrame:
    """Standardised records; on a council also through the address stage, as the build does
    (its gazetteer if the project names one), unless ``no_addresses``."""
    std = standardise(records)
    if not is_council(data_dir) or no_addresses:
        return std
    gazetteer = read_gazetteer(load_project(data_dir / "familymatch.toml").gazetteer)
    return with_addresses(std, resolve_addresses(std, gazetteer))


def load_data(data_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame, LinkConfig, bool]:
    """records, truth (record_id, person_id), the link configuration, cross-source pairs only."""
    if is_council(data_dir):
        records = ingest_project(load_project(data_dir / "familymatch.toml")).records
        truth = pl.read_parquet(data_dir / "truth" / "records.parquet")
        return records, truth.select("record_id", "person_id"), LinkConfig(), False
    manifest = json.loads((data_dir / "manifest.json").read_text())
    household = manifest.get("postcode_format", "uk") == "uk"
    rules = DEFAULT_RULES if household else DEFAULT_RULES + WIDE_RULES
    truth = pl.read_parquet(data_dir / manifest["truth"]).select(
        pl.col("rec_id").cast(pl.String).alias("record_id"), pl.col("person_id").cast(pl.String)
    )
    config = LinkConfig(household_guards=household, rules=rules)
    return load(data_dir), truth, config, manifest["task"] == "link"


def degrade(
    records: pl.DataFrame,
    blank_dob: dict[str, float],
    year_swap: float,
    surname_change: float = 0.0,
    seed: int = 7,
) -> pl.DataFrame:
    """Dates of birth removed from a share of each named kind's records, the last two digits
    of the year swapped on a share of all records (a year whose swap is itself is left), and
    a share of the women's records born before 1990 given another woman's surname (the name she
    married into, one per person: keyed by the record's forename, surname and date of birth)."""
    rng = np.random.default_rng(seed)
    if surname_change:
        sex = pl.col("sex").str.to_uppercase().replace_strict(SEX_CODES, default=None)
        women = (sex == "F") & (pl.col("dob").dt.year() < 1990)
        pool = records.filter(women)["surname"].drop_nulls().unique().sort()
        key = pl.concat_str(["forename", "surname", pl.col("dob").cast(pl.String)]).hash(seed)
        draw_sn = pl.Series(rng.random(records.height))
        records = records.with_columns(
            pl.when(women & (pl.lit(draw_sn) < surname_change) & (pool.len() > 0))
            .then(pl.lit(pool).gather(key % max(pool.len(), 1)))
            .otherwise(pl.col("surname"))
            .alias("surname")
        )
    draw = pl.Series(rng.random(records.height))
    share = pl.col("kind").replace_strict(blank_dob, default=0.0, return_dtype=pl.Float64)
    year = pl.col("dob").dt.year()
    swapped = year // 100 * 100 + year % 10 * 10 + year // 10 % 10
    swap_draw = pl.Series(rng.random(records.height))
    return records.with_columns(
        pl.when(pl.lit(draw) < share)
        .then(None)
        .when(pl.lit(swap_draw) < year_swap)
        .then(
            pl.date(
                swapped, pl.col("dob").dt.month(), pl.min_horizontal(pl.col("dob").dt.day(), 28)
            )
        )
        .otherwise(pl.col("dob"))
        .alias("dob")
    )


def thin_class(truth: pl.DataFrame, fn: pl.DataFrame, std: pl.DataFrame) -> str:
    """The thin-record class: true pairs where at least one record has no date of birth, how
    many, how many linked (recall on the class), and how many of the misses have a record the
    engine cannot link by design (a name without a date of birth, address, postcode or
    identifier: ``link.linkable_expr``)."""
    flags = std.select(
        "record_id", pl.col("dob").is_null().alias("nd"), (~linkable_expr()).alias("out")
    )

    def flagged(pairs: pl.DataFrame) -> pl.DataFrame:
        return (
            pairs.join(flags, left_on="record_id_l", right_on="record_id")
            .join(flags, left_on="record_id_r", right_on="record_id", suffix="_r")
            .filter(pl.col("nd") | pl.col("nd_r"))
        )

    t, missed = flagged(truth), flagged(fn)
    unlinkable = missed.filter(pl.col("out") | pl.col("out_r")).height
    linkable = t.filter(~pl.col("out") & ~pl.col("out_r")).height
    return (
        f"thin class (a record without a date of birth): {t.height} true pairs, "
        f"{t.height - missed.height} linked, recall {1 - missed.height / max(t.height, 1):.4f}; "
        f"{unlinkable} of the {missed.height} misses have an unlinkable record (name only); "
        f"recall among the {linkable} linkable pairs "
        f"{1 - (missed.height - unlinkable) / max(linkable, 1):.4f}"
    )


def thin_only(pairs: pl.DataFrame, std: pl.DataFrame) -> pl.DataFrame:
    """The pairs with a record that has no date of birth."""
    no_dob = std.filter(pl.col("dob").is_null())["record_id"]
    return pairs.filter(pl.col("record_id_l").is_in(no_dob) | pl.col("record_id_r").is_in(no_dob))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--show", type=int, default=15)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--blank-dob", action="append", default=[], metavar="KIND=SHARE")
    ap.add_argument("--year-swap", type=float, default=0.0, metavar="SHARE")
    ap.add_argument("--surname-change", type=float, default=0.0, metavar="SHARE")
    ap.add_argument(
        "--no-addresses", action="store_true", help="a council without the address stage"
    )
    args = ap.parse_args()
    records, truth_ids, config, cross_source = load_data(args.data_dir)
    blank = {k: float(v) for k, v in (a.split("=", 1) for a in args.blank_dob)}
    if blank or args.year_swap or args.surname_change:
        records = degrade(records, blank, args.year_swap, args.surname_change)
    std = prepare(records, args.data_dir, args.no_addresses)
    result = link_records(std, config)
    model = result.model
    print(f"lambda {model.lam:.4f}, EM iterations {model.iterations}")
    for f in FIELDS:
        m = " ".join(f"{v:.4f}" for v in model.m[f])
        u = " ".join(f"{v:.4f}" for v in model.u[f])
        print(f"  {f:4} m [{m}]  u [{u}]")

    truth = truth_pairs(truth_ids, records, cross_source)
    person = result.persons.select("record_id", "person_id")
    pred = (
        person.join(person, on="person_id", suffix="_r")
        .filter(pl.col("record_id") < pl.col("record_id_r"))
        .select(pl.col("record_id").alias("record_id_l"), "record_id_r")
    )
    src = records.select("record_id", "source")
    if cross_source:
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

    print(thin_class(truth, fn, std))

    # score the missed and the wrong pairs with the fitted model, as link_records does
    full = std.with_row_index("__i").with_columns(linkable_expr().alias("linkable"))
    usable = attach_term_frequencies(
        with_location_key(full.filter(pl.col("linkable"))), model.tf, model.tf_floor
    )
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
        with pl.Config(tbl_cols=-1, tbl_rows=args.show):
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
    show("false negatives of the thin class (a record without a date of birth)", thin_only(fn, std))
    show("false positives", fp)


if __name__ == "__main__":
    main()
