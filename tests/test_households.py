"""Households at the reference date: flats, movers, claims, children living apart."""

from __future__ import annotations

from datetime import date

import polars as pl

from familymatch.addresses import resolve_addresses, with_addresses
from familymatch.canonical import conform
from familymatch.households import build_households
from familymatch.standardise import standardise

R = date(2012, 6, 1)


def frame(rows: list[dict[str, object]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    recs = []
    for i, r in enumerate(rows, start=1):
        r = dict(r)
        pid = r.pop("person")
        recs.append(
            {
                "record_id": f"{r.get('source', 's')}:{i}",
                "source": r.pop("source", "s"),
                "kind": r.pop("kind", "population"),
                "row": i,
                "__person": pid,
                **r,
            }
        )
    df = pl.DataFrame(recs, infer_schema_length=None)
    persons = df.select("record_id", pl.col("__person").alias("person_id"))
    std = standardise(conform(df.drop("__person")))
    return with_addresses(std, resolve_addresses(std)), persons


def households_of(rows: list[dict[str, object]]) -> dict[str, str]:
    std, persons = frame(rows)
    result = build_households(std, persons, R)
    return dict(result.membership.select("person_id", "household_id").unique().iter_rows())


def test_flats_of_one_building_are_different_households() -> None:
    h = households_of(
        [
            {"person": "a", "address": "Flat 1, Drake House, 12 Hoe Road", "postcode": "PL1 2AB"},
            {"person": "b", "address": "Flat 1, Drake House, 12 Hoe Rd", "postcode": "pl12ab"},
            {"person": "c", "address": "Flat 2, Drake House, 12 Hoe Road", "postcode": "PL1 2AB"},
        ]
    )
    assert h["a"] == h["b"]
    assert h["c"] != h["a"]


def test_family_that_moved_is_one_household() -> None:
    # the parent's claim still shows the old address; the children's census the new one
    h = households_of(
        [
            {
                "person": "mum",
                "kind": "benefits",
                "group_ref": "HB1",
                "event_date": date(2009, 1, 1),
                "address": "4 Old Lane",
                "postcode": "PL9 9ZZ",
            },
            {"person": "kid1", "kind": "population", "group_ref": "HB1"},
            {
                "person": "kid1",
                "kind": "school_census",
                "term": "2011/12-spring",
                "address": "8 New Road",
                "postcode": "PL2 1AA",
            },
            {
                "person": "kid2",
                "kind": "school_census",
                "term": "2011/12-spring",
                "address": "8 New Road",
                "postcode": "PL2 1AA",
            },
        ]
    )
    assert h["mum"] == h["kid1"] == h["kid2"]


def test_child_living_with_grandparent_stays_there() -> None:
    h = households_of(
        [
            {
                "person": "dad",
                "kind": "benefits",
                "group_ref": "HB2",
                "event_date": date(2011, 1, 1),
                "address": "1 Bay Road",
                "postcode": "PL3 3CC",
            },
            {
                "person": "dadspartner",
                "kind": "benefits",
                "group_ref": "HB2",
                "event_date": date(2011, 1, 1),
                "address": "1 Bay Road",
                "postcode": "PL3 3CC",
            },
            {"person": "child", "kind": "population", "group_ref": "HB2"},
            {
                "person": "child",
                "kind": "school_census",
                "term": "2011/12-spring",
                "address": "5 Cliff Road",
                "postcode": "PL4 4DD",
            },
            {
                "person": "gran",
                "kind": "benefits",
                "group_ref": "HB3",
                "event_date": date(2010, 1, 1),
                "address": "5 Cliff Road",
                "postcode": "PL4 4DD",
            },
        ]
    )
    assert h["child"] == h["gran"]
    assert h["dad"] == h["dadspartner"] != h["child"]


def test_address_without_postcode_matches_the_one_address_with_that_street_and_number() -> None:
    h = households_of(
        [
            {"person": "a", "address": "17 Mutley Close", "postcode": "PL4 2DJ"},
            {"person": "b", "address": "17 Mutley Cl", "postcode": None},
        ]
    )
    assert h["a"] == h["b"]


def test_household_ids_are_deterministic() -> None:
    rows = [
        {"person": "a", "address": "3 Oak St", "postcode": "PL5 5EE"},
        {"person": "b", "address": "9 Elm St", "postcode": "PL5 5EE"},
    ]
    assert households_of(rows) == households_of(rows)
    assert all(v.startswith("H") and len(v) == 11 for v in households_of(rows).values())


def test_building_number_without_the_flat_places_nobody() -> None:
    h = households_of(
        [
            {
                "person": "mum",
                "kind": "benefits",
                "group_ref": "HB9",
                "event_date": date(2011, 1, 1),
                "address": "Flat 3, Sound View, 20 Hooe Gardens",
                "postcode": "PL1 1LS",
            },
            {"person": "kid", "kind": "population", "group_ref": "HB9"},
            {
                "person": "kid",
                "kind": "school_census",
                "term": "2011/12-spring",
                "address": "Sound View, 20 Hooe Gardens",
                "postcode": "PL1 1LS",
            },
            {
                "person": "other",
                "kind": "school_census",
                "term": "2011/12-spring",
                "address": "20 Hooe Gardens",
                "postcode": "PL1 1LS",
            },
            {
                "person": "neighbour",
                "kind": "benefits",
                "event_date": date(2011, 1, 1),
                "address": "Flat 4, Sound View, 20 Hooe Gardens",
                "postcode": "PL1 1LS",
            },
        ]
    )
    assert h["kid"] == h["mum"]
    assert h["other"] != h["mum"] and h["neighbour"] != h["mum"]


def test_same_street_and_number_in_two_districts_is_not_guessed() -> None:
    filler = [
        {"person": f"f{i}", "address": f"{i} Park Road, Plymouth", "postcode": f"PL3 {i % 9}AB"}
        for i in range(1, 30)
    ]
    h = households_of(
        [
            *filler,
            {"person": "a", "address": "1 Looe Terrace", "postcode": "PL4 1AJ"},
            {"person": "b", "address": "1 Looe Terrace, Plymouth", "postcode": "PL8 1NQ"},
            {"person": "c", "address": "1 Looe Terrace, Plymouth", "postcode": None},
        ]
    )
    assert h["c"] != h["a"] and h["c"] != h["b"]


def test_a_street_name_found_in_two_districts_places_no_postcode_less_address() -> None:
    # only number 24 of one Saltash Place is known, but a Saltash Place exists in two districts:
    # "24 Saltash Place" without a postcode may be the other one
    filler = [
        {"person": f"f{i}", "address": f"{i} Park Road, Plymouth", "postcode": f"PL3 {i % 9}AB"}
        for i in range(1, 30)
    ]
    h = households_of(
        [
            *filler,
            {"person": "a", "address": "24 Saltash Place", "postcode": "PL9 7ZJ"},
            {"person": "x", "address": "3 Saltash Place", "postcode": "PL2 4BE"},
            {"person": "b", "address": "24 Saltash Place, Plymouth", "postcode": None},
        ]
    )
    assert h["b"] != h["a"]


def test_a_postcode_slip_seen_once_joins_its_address() -> None:
    # the child's newest record has PL5 7ZK for PL5 7ZN (one character, same sector, once)
    home = {"address": "21 Looe Road", "postcode": "PL5 7ZN"}
    h = households_of(
        [
            {"person": "mum", **home},
            {"person": "mum", **home},
            {"person": "kid", **home, "kind": "school_census", "term": "2011/12-autumn"},
            {
                "person": "kid",
                "address": "21 Looe Road",
                "postcode": "PL5 7ZK",
                "event_date": date(2012, 4, 28),
            },
        ]
    )
    assert h["kid"] == h["mum"]


def test_two_postcodes_each_seen_often_are_two_addresses() -> None:
    # 9 Woolwell Close PL4 9SE and 9 Woolwell Close PL4 9SF: one sector, one character apart,
    # but both seen on several records: two streets of one name, two households
    h = households_of(
        [
            {"person": "a", "address": "9 Woolwell Close", "postcode": "PL4 9SE"},
            {"person": "a", "address": "9 Woolwell Cl", "postcode": "PL4 9SE"},
            {"person": "b", "address": "9 Woolwell Close", "postcode": "PL4 9SF"},
            {"person": "b", "address": "9 Woolwell Close", "postcode": "PL4 9SF"},
        ]
    )
    assert h["a"] != h["b"]


def test_parent_on_the_childs_claim_living_elsewhere_is_a_parent_living_apart() -> None:
    # dad and his partner claim for the child at 1 Bay Road; the child lives with gran
    bay = {"address": "1 Bay Road", "postcode": "PL3 3CC", "event_date": date(2011, 1, 1)}
    rows = [
        {"person": "dad", "kind": "benefits", "group_ref": "HB2", "dob": date(1980, 1, 1), **bay},
        {"person": "pa", "kind": "benefits", "group_ref": "HB2", "dob": date(1982, 1, 1), **bay},
        {"person": "child", "kind": "population", "group_ref": "HB2", "dob": date(2004, 2, 2)},
        {
            "person": "child",
            "kind": "school_census",
            "term": "2011/12-spring",
            "address": "5 Cliff Road",
            "postcode": "PL4 4DD",
            "dob": date(2004, 2, 2),
        },
        {
            "person": "gran",
            "kind": "benefits",
            "group_ref": "HB3",
            "event_date": date(2010, 1, 1),
            "address": "5 Cliff Road",
            "postcode": "PL4 4DD",
            "dob": date(1950, 3, 3),
        },
    ]
    std, persons = frame(rows)
    result = build_households(std, persons, R)
    home = dict(result.membership.select("person_id", "household_id").unique().iter_rows())
    assert home["child"] == home["gran"] != home["dad"] == home["pa"]
    assert result.apart_parents.select("household_id", "person_id").rows() == [
        (home["child"], "dad"),
        (home["child"], "pa"),
    ]
    assert set(result.apart_parents["reason"]) == {"parent living apart (claim HB2)"}
    links = result.household_links.filter(pl.col("reason").str.starts_with("apart:"))
    assert links.select("household_id", "person_id").rows() == [
        (home["child"], "dad"),
        (home["child"], "pa"),
    ]
    from familymatch.link.explain import explain_household

    pairs = pl.DataFrame(
        schema={
            "record_id_l": pl.String,
            "record_id_r": pl.String,
            "stage": pl.String,
            "match_weight": pl.Float64,
            "linked": pl.Boolean,
        }
    )
    told = explain_household(home["child"], result.membership, result.household_links, pairs)
    assert [m["person_id"] for m in told["members"]] == ["child", "gran"]
    assert told["parents_living_apart"] == [
        {"person_id": "dad", "reason": "parent living apart (claim HB2)"},
        {"person_id": "pa", "reason": "parent living apart (claim HB2)"},
    ]
