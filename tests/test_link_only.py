"""Link only: later records linked onto records already linked, their persons held fixed
(``link_records(fixed=...)``, what outcome imports and attachment by person details use)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from familymatch.addresses import resolve_addresses, with_addresses
from familymatch.ingest import ingest_project
from familymatch.link import link_records
from familymatch.link.blocking import BlockingRule, near, rule_groups
from familymatch.link.evaluate import pairwise_scores
from familymatch.project import load_project
from familymatch.standardise import standardise
from fixtures.generate import GenerateSummary
from tests.test_link import background, people

PAIR = ["record_id_l", "record_id_r", "stage", "match_weight"]


def f1_against(truth: pl.DataFrame, persons: pl.DataFrame) -> float:
    pred = persons.select("record_id", pl.col("person_id").alias("predicted"))
    actual = truth.select("record_id", pl.col("person_id").alias("actual"))
    return float(pairwise_scores(pred, actual.join(pred, on="record_id").drop("predicted"))["f1"])


def test_link_only_scores_what_a_full_relink_scores_and_keeps_the_build(
    small_council: tuple[Path, GenerateSummary],
) -> None:
    folder, _ = small_council
    std = standardise(ingest_project(load_project(folder / "familymatch.toml")).records)
    std = with_addresses(std, resolve_addresses(std, None))
    later = pl.col("record_id").hash(seed=1) % 5 == 0  # a fifth of the records come later
    build = link_records(std.filter(~later))
    full = link_records(std, model=build.model)
    only = link_records(std, model=build.model, fixed=build.persons)

    # every build person is still one person, and no two build persons became one
    kept = build.persons.select("record_id", pl.col("person_id").alias("built")).join(
        only.persons, on="record_id"
    )
    assert kept.height == build.persons.height == 3_091
    assert kept.group_by("built").agg(pl.col("person_id").n_unique())["person_id"].max() == 1
    assert kept.group_by("person_id").agg(pl.col("built").n_unique())["built"].max() == 1
    # only the pairs with a later record, scored exactly as the full re-link scores them
    built_ids = build.persons["record_id"].implode()
    both_built = pl.col("record_id_l").is_in(built_ids) & pl.col("record_id_r").is_in(built_ids)
    assert only.pairs.filter(both_built).height == 0
    assert (only.stats["candidate_pairs"], full.stats["candidate_pairs"]) == (4_060, 11_043)
    # each rule's estimate counts exactly the pairs with a later record it then makes
    blocking = only.stats["blocking"]
    assert isinstance(blocking, dict)
    assert [r["estimated"] for r in blocking.values()] == [r["pairs"] for r in blocking.values()]
    assert sum(r["new"] for r in blocking.values()) == 4_060
    expected = full.pairs.filter(~both_built).select(PAIR).sort(PAIR[:2])
    assert expected.height == 2_332
    assert only.pairs.select(PAIR).sort(PAIR[:2]).equals(expected)
    # the persons over both as good as the full re-link's
    truth = pl.read_parquet(folder / "truth" / "records.parquet")
    assert f1_against(truth, only.persons) == f1_against(truth, full.persons) == 0.998956


def test_a_later_record_joins_one_person_held_fixed_and_newcomers_link_together() -> None:
    twin = {"forename": "ROSA", "surname": "QUILL", "dob": date(1990, 5, 6), "postcode": "PL4 8AA"}
    new = {"forename": "OTTO", "surname": "VANE", "dob": date(1985, 2, 3), "postcode": "PL9 9ZZ"}
    rows = [{**twin, "source": s} for s in "abc"] + [{**new, "source": s} for s in "cd"]
    std = people(background() + rows)  # a:601, b:602, c:603, c:604, d:605
    build = link_records(std.filter(pl.col("source").is_in(["a", "b"])))
    assert (
        build.persons.filter(pl.col("record_id").is_in(["a:601", "b:602"]))["person_id"].n_unique()
        == 1
    )
    # held as two persons (as a guard of the build might have kept them)
    fixed = build.persons.with_columns(
        pl.when(pl.col("record_id") == "b:602")
        .then(pl.lit("held apart"))
        .otherwise(pl.col("person_id"))
        .alias("person_id")
    )
    result = link_records(std, model=build.model, fixed=fixed)
    person = dict(result.persons.select("record_id", "person_id").iter_rows())
    assert person["a:601"] != person["b:602"]
    assert person["c:603"] in (person["a:601"], person["b:602"])
    assert result.stats["refused_merges"] == 1  # c:603's link to the other one
    assert person["c:604"] == person["d:605"]
    assert person["c:604"] not in {person[r] for r in fixed["record_id"]}
    assert result.persons["person_id"].n_unique() == build.persons["person_id"].n_unique() + 2


def test_held_persons_need_the_model_that_linked_them() -> None:
    std = people(background(40))
    with pytest.raises(ValueError, match="model that linked them"):
        link_records(std, fixed=std.select("record_id", pl.lit("P1").alias("person_id")))


def test_near_reaches_rows_through_shared_blocks_one_hop_at_a_time() -> None:
    # the held mother; her later record at a new postcode; her baby there; a stranger
    rows = [
        {"forename": "ROSA", "surname": "QUILL", "dob": date(1990, 5, 6), "postcode": "PL4 8AA"},
        {"forename": "ROSA", "surname": "QUILL", "dob": date(1990, 5, 6), "postcode": "PL7 1CC"},
        {"forename": "TOBY", "surname": "QUILL", "dob": date(2014, 1, 2), "postcode": "PL7 1CC"},
        {"forename": "UNA", "surname": "MOSS", "dob": date(1961, 3, 4), "postcode": "PL9 9ZZ"},
    ]
    std = people(rows).with_row_index("__i")
    seeds = np.array([True, False, False, False])
    rules = (BlockingRule("surname_sound+dob", ("sn_phon", "dob")), BlockingRule("pc", ("pc",)))
    groups = rule_groups(std, rules)
    assert near(groups, seeds, 0).tolist() == [True, False, False, False]
    assert near(groups, seeds, 1).tolist() == [True, True, False, False]
    # the baby at the mother's new postcode is two hops away; the stranger never
    assert near(groups, seeds, 2).tolist() == [True, True, True, False]
    assert near(groups, seeds, 5).tolist() == [True, True, True, False]
    # a row left out neither is reached nor passes the reach on
    among = np.array([True, False, True, True])
    assert near(groups, seeds, 2, among).tolist() == [True, False, False, False]
