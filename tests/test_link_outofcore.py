"""The out-of-core backend (DuckDB) finds the persons the in-memory engine finds."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from familymatch.errors import ConfigError
from familymatch.link import LinkConfig, link_records
from familymatch.link.backends.outofcore import (
    OutOfCoreConfig,
    edge_components,
    link_out_of_core,
    sharded_rules,
)
from familymatch.link.blocking import DEFAULT_RULES, WIDE_RULES
from familymatch.link.evaluate import pairwise_scores
from familymatch.standardise import standardise
from tests.test_link_rules import febrl4_records, population, records

pytest.importorskip("duckdb")


def in_batches(frame: pl.DataFrame, size: int) -> list[pl.DataFrame]:
    return [frame.slice(o, size) for o in range(0, frame.height, size)]


def both_engines(
    recs: pl.DataFrame, tmp_path: Path, household: bool, rules: tuple = DEFAULT_RULES
) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """persons of the in-memory engine and of the out-of-core backend (records in 3 batches)."""
    memory = link_records(
        standardise(recs), LinkConfig(household_guards=household, rules=rules)
    ).persons
    config = OutOfCoreConfig(rules=rules, household_guards=household, memory_limit_mb=500)
    result = link_out_of_core(in_batches(recs, recs.height // 3 + 1), tmp_path / "w", config)
    return memory, pl.read_parquet(result.persons), result.stats


def test_components_are_the_connected_records() -> None:
    i = np.array([5, 7, 20, 21, 9], dtype=np.uint32)
    j = np.array([7, 9, 21, 30, 5], dtype=np.uint32)
    nodes, comp = edge_components(i, j)
    assert nodes.tolist() == [5, 7, 9, 20, 21, 30]
    assert comp.tolist() == [5, 5, 5, 20, 20, 20]


def test_components_of_a_long_chain_converge() -> None:
    i = np.arange(0, 999, dtype=np.uint32)[::-1]
    nodes, comp = edge_components(i, i + 1)
    assert len(nodes) == 1000 and set(comp.tolist()) == {0}


def test_households_same_persons_as_in_memory(tmp_path: Path) -> None:
    recs = records(population(300))
    memory, ooc, stats = both_engines(recs, tmp_path, household=True)
    assert ooc.height == recs.height == memory.height
    # the same records under the same person ids (both number persons by first record id)
    joined = memory.join(ooc, on="record_id", suffix="_ooc")
    assert joined.filter(pl.col("person_id") != pl.col("person_id_ooc")).height == 0
    assert stats["persons"] == memory["person_id"].n_unique() < recs.height


@pytest.mark.slow
def test_febrl4_same_persons_and_f1(tmp_path: Path) -> None:
    recs, links = febrl4_records()
    memory, ooc, stats = both_engines(recs, tmp_path, False, DEFAULT_RULES + WIDE_RULES)
    joined = memory.join(ooc, on="record_id", suffix="_ooc")
    assert joined.filter(pl.col("person_id") != pl.col("person_id_ooc")).height == 0
    truth = pl.DataFrame(
        {
            "record_id": [x for pair in links for x in pair],
            "actual": [k for k in range(len(links)) for _ in range(2)],
        }
    )
    actual = ooc.join(truth, on="record_id", how="left").select(
        "record_id", pl.col("actual").cast(pl.String).fill_null(pl.col("record_id"))
    )
    scores = pairwise_scores(
        ooc.select("record_id", pl.col("person_id").alias("predicted")), actual
    )
    assert scores["f1"] >= 0.98
    assert stats["candidate_pairs"] > 10_000


def test_identifiers_link_across_batches(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [
        {"forename": "ANNA", "surname": "LEE", "dob": date(1980, 1, 2), "nino": "AB123456C"},
        {"forename": "ANNE", "surname": "LEIGH", "dob": date(1981, 5, 6), "nino": "AB123456C"},
        {"forename": "BEN", "surname": "ROSS", "dob": date(1979, 3, 4), "nino": "CE654321A"},
    ]
    recs = records(rows)
    result = link_out_of_core(in_batches(recs, 1), tmp_path / "w")
    persons = pl.read_parquet(result.persons).sort("record_id")
    assert persons["person_id"].to_list() == ["P0000001", "P0000001", "P0000002"]
    assert result.stats["identifier_links"] == 1


def test_work_folder_in_use_is_refused(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "old.parquet").write_text("x")
    with pytest.raises(ConfigError, match="not empty"):
        link_out_of_core([records(population(5))], tmp_path / "w")


def test_sharded_rules_keep_location_rules_inside_a_shard() -> None:
    rules = sharded_rules(DEFAULT_RULES, "pc_area")
    by_name = {r.name: r.keys for r in rules}
    assert by_name["dob+postcode@pc_area"] == ("dob", "pc", "pc_area")
    assert by_name["forename+surname+street@pc_area"] == (
        "fn_canon",
        "sn",
        "addr_street",
        "pc_area",
    )
    # names and dates of birth alone cross the shards: the people who moved
    assert by_name["surname_sound+dob"] == ("sn_phon", "dob")
    assert by_name["dob+surname_initial@pc_area"] == ("dob", "sn_initial", "pc_area")
    assert sum(r.name.endswith("@pc_area") for r in rules) == 13
    assert len(rules) == len(DEFAULT_RULES)
