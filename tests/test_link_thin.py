"""Linkage of thin records (issue 13): no date of birth, a keying slip in the year, a changed
surname, and the address stage's resolved address entity (``address_id``)."""

from __future__ import annotations

import math
from datetime import date

import polars as pl
import pytest

from familymatch.canonical import conform
from familymatch.link import link_records, same_row_expr
from familymatch.link.blocking import DEFAULT_RULES, candidate_pairs
from familymatch.link.compare import comparison_levels, pair_frame
from familymatch.link.explain import explain_pair
from familymatch.link.pair_rules import DEFAULT_PAIR_RULES, rule_stage
from familymatch.standardise import standardise
from tests.test_link import background, ids, people, persons_of

ANNA = {
    "forename": "Anna",
    "surname": "Quarry",
    "dob": date(1974, 3, 12),
    "sex": "F",
    "postcode": "PL3 9XY",
    "address": "12 Ash Grove",
}


def test_a_record_without_dob_or_postcode_links_on_names_and_address() -> None:
    # a police record: no date of birth, the postcode missing, the town written after the street
    police = {**ANNA, "dob": None, "postcode": None, "address": "12 Ash Grove, Plymouth"}
    p = persons_of([{**ANNA, "source": "c"}, {**police, "source": "d"}])
    assert p[f"c:{ids() + 1}"] == p[f"d:{ids() + 2}"]


def test_without_a_dob_names_in_one_sector_or_street_only_are_kept_apart() -> None:
    # a relative or a namesake two streets away is as likely as the same person: only a shared
    # home (loc >= 4) or overwhelming evidence links a record without a date of birth
    def stage(loc: int, dob: int, weight: float = 10.0) -> str:
        levels = pl.DataFrame(
            {"fn": [4], "sn": [4], "dob": [dob], "loc": [loc], "sex": [-1], "mn": [-1]},
            schema={f: pl.Int8 for f in ("fn", "sn", "dob", "loc", "sex", "mn")},
        ).with_columns(
            pl.lit(weight).alias("match_weight"),
            pl.lit(17.0).alias("log2_records"),
            pl.lit(0, dtype=pl.Int16).alias("dob_year_gap"),
        )
        return levels.select(rule_stage(DEFAULT_PAIR_RULES, True)).item()

    assert stage(loc=2, dob=-1) == "rule:no_dob_area_only"
    assert stage(loc=4, dob=-1) == "fs"
    assert stage(loc=2, dob=4) == "fs"
    assert stage(loc=2, dob=-1, weight=18.0) == "fs"


def test_a_transposed_year_of_birth_links_and_a_generation_apart_does_not() -> None:
    slip = {**ANNA, "dob": date(1947, 3, 12)}
    daughter = {**ANNA, "dob": date(1999, 7, 2)}
    p = persons_of([{**ANNA, "source": "c"}, {**slip, "source": "d"}, {**daughter, "source": "e"}])
    mother, typed, other = (f"{s}:{ids() + i}" for s, i in (("c", 1), ("d", 2), ("e", 3)))
    assert p[mother] == p[typed]
    assert p[other] != p[mother]


def test_a_slip_in_the_year_is_a_candidate_away_from_a_shared_postcode() -> None:
    moved = {**ANNA, "dob": date(1947, 3, 12), "postcode": "EX1 1AB", "address": "5 Far Road"}
    std = people([dict(ANNA), moved]).with_row_index("__i")
    found, _ = candidate_pairs(std, DEFAULT_RULES)
    rule = [r.name for r in DEFAULT_RULES].index("names_sound+birth_day")
    assert found.select("i", "j", "rule").rows() == [(0, 1, rule)]


def test_a_changed_surname_links_and_a_sister_or_a_married_twin_does_not() -> None:
    married = {**ANNA, "surname": "Blackwood"}
    sister = {**ANNA, "forename": "Kerry", "surname": "Blackwood", "dob": date(1977, 8, 1)}
    twin = {**ANNA, "forename": "Hazel", "surname": "Blackwood"}
    p = persons_of(
        [
            {**ANNA, "source": "c"},
            {**married, "source": "d"},
            {**sister, "source": "e"},
            {**twin, "source": "f"},
        ]
    )
    anna, wed, kerry, hazel = (
        f"{s}:{ids() + i}" for s, i in (("c", 1), ("d", 2), ("e", 3), ("f", 4))
    )
    assert p[anna] == p[wed]
    assert len({p[anna], p[kerry], p[hazel]}) == 3


def with_address_ids(rows: list[dict[str, object]], address_ids: list[int | None]) -> pl.DataFrame:
    std = people(rows)
    return std.with_columns(pl.Series("address_id", address_ids, dtype=pl.Int64))


def test_the_address_entity_is_the_top_location_level_when_present() -> None:
    rows = [
        {**ANNA, "address": "Flat 3, 17 Rose Court", "postcode": "PL1 1AA"},
        {**ANNA, "address": "3/17 Rose Ct", "postcode": "PL1 1AA"},
        {**ANNA, "address": "Flat 4, 17 Rose Court", "postcode": "PL1 1AA"},
        {**ANNA, "address": "17 Rose Court", "postcode": "PL1 1AB"},
    ]
    std = with_address_ids(rows, [7, 7, 8, 7]).with_row_index("__i")
    pairs = pl.DataFrame({"i": [0, 0, 0], "j": [1, 2, 3], "rule": [0, 0, 0]}).with_columns(
        pl.col("i").cast(pl.UInt32), pl.col("j").cast(pl.UInt32)
    )
    loc = comparison_levels(pair_frame(std, pairs))["loc"].to_list()
    # one entity written two ways: 5; two flats of one building: 4 (one postcode), never 5;
    # the same entity under a mistyped postcode: 5
    assert loc == [5, 4, 5]
    # without the column the same pairs fall back to postcode and number: "3/17" is read as
    # another number, and the mistyped postcode leaves only the street
    plain = comparison_levels(pair_frame(std.drop("address_id"), pairs))["loc"].to_list()
    assert plain == [4, 4, 2]


def test_the_address_entity_blocks_only_when_the_column_is_there() -> None:
    rows = [
        {**ANNA, "dob": None, "postcode": None, "address": "Flat 3, 17 Rose Court"},
        # a married name: no name rule meets the two, only the shared address entity
        {**ANNA, "surname": "Morgan", "dob": None, "postcode": None, "address": "3/17 Rose Ct"},
    ]
    std = with_address_ids(rows, [7, 7]).with_row_index("__i")
    rule = [r.name for r in DEFAULT_RULES].index("address_entity+forename_initial")
    found, stats = candidate_pairs(std, DEFAULT_RULES)
    assert found.select("i", "j", "rule").rows() == [(0, 1, rule)]
    _, without = candidate_pairs(std.drop("address_id"), DEFAULT_RULES)
    assert "address_entity+forename_initial" in stats
    assert "address_entity+forename_initial" not in without


def test_linking_with_address_ids_keeps_every_record() -> None:
    rows = background(100)
    std = people(rows).with_columns(
        pl.int_range(0, pl.len()).floordiv(2).cast(pl.Int64).alias("address_id")
    )
    result = link_records(std)
    assert result.persons.height == std.height
    assert "address_entity+forename_initial" in result.stats["blocking"]  # type: ignore[operator]


def test_record_ids_without_a_row_number_share_no_same_row_key() -> None:
    ids_ = ["rec-1-org", "rec-2-dup-0", "census:7:aut", "census:7:spr", "census:8:aut"]
    frame = pl.DataFrame(
        {"record_id": ids_, "role": [None] * 5}, schema_overrides={"role": pl.String}
    )
    keys = frame.select(same_row_expr())["same_row"].to_list()
    assert keys == [None, None, "census:7", "census:7", "census:8"]


def crowded_block_case() -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """A population with a common name (300 SMITHs elsewhere), a block of 100 flats resolved to
    one address entity, and the same evidence twice: two JOHN SMITH records without a date of
    birth at the block (c, d) and at a house (c, d). Returns the canonical records, record_id ->
    address_id, and the four record ids (block, block, house, house)."""
    smiths = [
        {
            "forename": "John" if k % 2 else "Paul",
            "surname": "Smith",
            "dob": date(1920 + k // 4, 1 + k % 12, 3),
            "postcode": f"PL9 {k % 10}ZZ",
            "address": f"{k} Far Road",
        }
        for k in range(300)
    ]
    first = ["KIM", "LEE", "MAX", "NED", "OLA", "PAM", "ROY", "SAL", "TED", "UMA"]
    block = [
        {
            "forename": first[i % 10],
            "surname": f"TOWER{i}",
            "dob": date(1960 + i % 40, 1 + i % 12, 1 + i % 28),
            "postcode": "PL4 8TT",
            "address": f"Flat {i + 1}, Tower House",
        }
        for i in range(100)
    ]
    john = {"forename": "John", "surname": "Smith", "dob": None}
    case = [
        {**john, "postcode": "PL4 8TT", "address": "Flat 90, Tower House", "source": "c"},
        {**john, "postcode": "PL4 8TT", "address": "Flat 91, Tower House", "source": "d"},
        {**john, "postcode": "PL2 5QQ", "address": "5 Quiet Close", "source": "c"},
        {**john, "postcode": "PL2 5QQ", "address": "5 Quiet Cl", "source": "d"},
    ]
    rows = background() + [{**r, "source": "a"} for r in smiths + block] + case
    # the address stage's entities: the block one, the house one (written two ways), the rest
    # one per address text and postcode
    place = [
        "TOWER"
        if "Tower" in str(r["address"])
        else "QUIET"
        if "Quiet" in str(r["address"])
        else f"{str(r['address']).split()[0]} {r['postcode']}"
        for r in rows
    ]
    base = [
        {"record_id": f"{r['source']}:{i}", "kind": "population", "row": i, **r}
        for i, r in enumerate(rows, start=1)
    ]
    raw = conform(pl.DataFrame(base, infer_schema_length=None))
    places = raw.select("record_id", pl.Series("address_id", place))
    return raw, places, raw["record_id"].to_list()[-4:]


def test_a_common_name_without_dob_at_a_crowded_block_is_weak_and_at_a_house_links() -> None:
    raw, places, (block_c, block_d, house_c, house_d) = crowded_block_case()
    std = standardise(raw).join(places, on="record_id")
    result = link_records(std)
    p = dict(result.persons.select("record_id", "person_id").iter_rows())
    # the same evidence (forename, surname, one address entity, no date of birth): at a block
    # of 100 the namesakes stay apart, at a house the two records are one person (before
    # location term frequencies both pairs weighed the same and both linked)
    assert p[block_c] != p[block_d]
    assert p[house_c] == p[house_d]
    pairs = result.pairs.filter(pl.col("record_id_l").is_in([block_c, house_c]))
    w = dict(pairs.select("record_id_l", "match_weight").iter_rows())
    model = result.model
    block_share = model.tf["loc"]["TOWER"]  # the share of distinct people at the block
    assert 0.1 < block_share < 0.2
    # the block's weight is the house's less log2(block share / the level's u)
    expected = math.log2(block_share / model.u["loc"][5])
    assert w[house_c] - w[block_c] == pytest.approx(expected, abs=0.01)
    assert "QUIET" not in model.tf["loc"]  # a house: no weaker than the average place, not kept
    why = explain_pair(model, raw, result.persons, result.pairs, block_c, block_d, places=places)
    assert why["fields"]["loc"]["level"] == 5
    assert why["fields"]["loc"]["term_frequency"] == pytest.approx(block_share, rel=0.01)
    assert why["same_person"] is False
    house = explain_pair(model, raw, result.persons, result.pairs, house_c, house_d, places=places)
    assert "term_frequency" not in house["fields"]["loc"]  # scored as the level: no frequency
    assert house["same_person"] is True
