"""The person step of the address stage (familymatch/addresses/persons.py): a person's other
records place an unplaced record and join one address written wrong in one part."""

from __future__ import annotations

import polars as pl

from familymatch.addresses import resolve_addresses, with_addresses
from familymatch.addresses.persons import place_by_person


def run(
    rows: list[tuple[str, str | None, str]], surnames: dict[str, str] | None = None
) -> tuple[pl.DataFrame, list[tuple[object, ...]]]:
    """rows: (address, postcode, person) -> the result's entities and (address_id,
    resolved_by) per row, in order; every person is a SMITH unless ``surnames`` says."""
    std = pl.DataFrame(
        {
            "record_id": [f"r{i:02d}" for i in range(len(rows))],
            "address": [a for a, _, _ in rows],
            "postcode": [pc for _, pc, _ in rows],
            "uprn": [None] * len(rows),
            "pc": [pc for _, pc, _ in rows],
            "pc_valid": [pc is not None for _, pc, _ in rows],
            "pc_sector": [None] * len(rows),
            "pc_district": [None] * len(rows),
            "pc_area": [None] * len(rows),
            "sn": [(surnames or {}).get(p, "SMITH") for _, _, p in rows],
        },
        schema_overrides={"uprn": pl.String, "pc_sector": pl.String},
    ).with_columns(pl.col("pc_district", "pc_area").cast(pl.String))
    persons = pl.DataFrame({"record_id": std["record_id"], "person_id": [p for _, _, p in rows]})
    result = resolve_addresses(std)
    std, result = place_by_person(with_addresses(std, result), persons, result)
    got = std.sort("record_id").select("address_id", "resolved_by").rows()
    assert result.records.sort("record_id").select("address_id", "resolved_by").rows() == got
    return result.addresses, got


def test_a_building_number_without_its_flat_goes_where_its_person_lives() -> None:
    rows = [
        ("Flat 1, 12 Hoe Road", "PL1 2AB", "p1"),
        ("Flat 2, 12 Hoe Road", "PL1 2AB", "p2"),
        ("12 Hoe Road", "PL1 2AB", "p2"),  # the flat left out
        ("12 Hoe Road", "PL1 2AB", "p3"),  # nobody else of p3's: stays unplaced
    ]
    entities, got = run(rows)
    assert got[2] == (got[1][0], "person") and got[1][0] != got[0][0]
    assert got[3] == (None, "none")
    assert entities.filter(pl.col("address_id") == got[1][0])["records"].to_list() == [2]


def test_a_postcode_less_record_on_a_street_of_two_districts_goes_to_its_persons_one() -> None:
    rows = [
        ("8 Budshead Avenue", "PL5 3AA", "p1"),
        ("8 Budshead Avenue", "PL2 1ZZ", "p2"),
        ("8 Budshead Ave", None, "p1"),
        ("9 Budshead Ave", None, "p1"),  # another number: the text says otherwise
    ]
    _, got = run(rows)
    assert got[2] == (got[0][0], "person")
    assert got[3] == (None, "none")


def test_a_person_at_two_consistent_entities_is_not_guessed() -> None:
    rows = [
        ("8 Budshead Avenue", "PL5 3AA", "p1"),
        ("8 Budshead Avenue", "PL2 1ZZ", "p1"),
        ("8 Budshead Ave", None, "p1"),
    ]
    _, got = run(rows)
    assert got[2] == (None, "none")


def test_one_persons_address_written_with_a_wrong_street_is_one_entity() -> None:
    rows = [
        ("Flat 5, Drake House, 9 Rock Lane", "PL9 1UX", "p1"),
        ("Flat 5, Drake House, 9 Albert Avenue", "PL9 1UX", "p1"),
        ("Flat 5, Drake House, 9 Albert Avenue", "PL9 1UX", "p2"),
        ("Flat 4, Drake House, 9 Albert Avenue", "PL9 1UX", "p3"),  # another flat: apart
        ("Flat 5, Drake House, 9 Rock Lane", "PL9 1UX", "p4"),
        ("Flat 5, Drake House, 9 Rock Lane", "PL9 1UX", "p5"),
    ]
    entities, got = run(rows)
    assert got[0][0] == got[1][0] == got[2][0] == got[4][0]
    # the entity written by most records keeps its id; the other's records move to it
    assert [how for _, how in got[:3]] == ["exact", "person", "person"]
    assert got[3][0] != got[0][0]
    assert entities.height == 2


def test_one_person_at_two_numbers_of_a_street_moved() -> None:
    rows = [("9 Rock Lane", "PL9 1UX", "p1"), ("11 Rock Lane", "PL9 1UY", "p1")]
    _, got = run(rows)
    assert got[0][0] != got[1][0] and {how for _, how in got} == {"exact"}


def test_a_lone_child_with_a_flat_added_to_the_house_joins_the_family_of_its_surname() -> None:
    house = [("35 Leigham Road", "PL2 3SN", "mum"), ("35 Leigham Road", "PL2 3SN", "kid1")]
    got = run([*house, ("Flat 3, 35 Leigham Road", "PL2 3SN", "kid2")])[1]
    assert got[2] == (got[0][0], "person")
    # another surname: nothing says it is theirs
    got = run([*house, ("Flat 3, 35 Leigham Road", "PL2 3SN", "kid2")], {"kid2": "JONES"})[1]
    assert got[2][0] != got[0][0]


def test_a_lone_child_without_the_buildings_number_joins_the_flat_of_its_surname() -> None:
    flat = [("Flat 3, Drake House, 1 Beaumont Place", "PL4 7HG", p) for p in ("mum", "kid1")]
    other = [("Flat 2, Drake House, 1 Beaumont Place", "PL4 7HG", p) for p in ("a", "b")]
    rows = [*flat, *other, ("Flat 3 Drake House Beaumont Place", "PL4 7HG", "kid2")]
    got = run(rows, {"a": "JONES", "b": "JONES"})[1]
    assert got[4] == (got[0][0], "person") and got[2][0] != got[0][0]


def test_one_persons_flat_written_short_and_misspelt_is_one_entity() -> None:
    rows = [
        ("Flat 4, Armada Tower, 1 Tavistock Place, Devonport", "PL1 4HS", "p1"),
        ("Flat 4, Armada Tower, 1 Tavistock Place", "PL1 4HS", "p2"),
        ("Flat 4, Arma Tower, 1", "PL1 4HS", "p1"),  # building misspelt, the street left out
        ("Flat 4, Drake House, 1", "PL1 4HS", "p1"),  # another building
    ]
    _, got = run(rows)
    assert got[2] == (got[0][0], "person") and got[3][0] != got[0][0]


def test_a_flat_only_its_person_writes_at_their_house_is_the_house() -> None:
    house = [("35 Leigham Road", "PL2 3SN", p) for p in ("mum", "mum", "dad")]
    got = run(
        [
            *house,
            ("Flat 24 Leigham Road", "PL2 3SN", "x"),
            ("First Floor Flat, 35 Leigham Road", "PL2 3SN", "mum"),
        ]
    )[1]
    assert got[4] == (got[0][0], "person")
    # someone else writes that flat too: a real flat, not a slip
    rows = [*house, ("First Floor Flat, 35 Leigham Road", "PL2 3SN", "mum")]
    got = run(
        [*rows, ("First Floor Flat, 35 Leigham Road", "PL2 3SN", "lodger")], {"lodger": "JONES"}
    )[1]
    assert got[3][0] != got[0][0] and got[3][0] == got[4][0]


def test_a_lone_child_at_the_house_misspelt_or_lettered_joins_the_family_of_its_surname() -> None:
    house = [("22 Honicknowle Crescent", "PL2 1GG", p) for p in ("mum", "kid1")]
    got = run([*house, ("Ground Floor Flat, 22 Honic Knowle Crescent", "PL2 1GG", "kid2")])[1]
    assert got[2] == (got[0][0], "person")
    got = run([*house, ("Flat A, 22 Honicknowle Crescent", "PL2 1GG", "kid2")])[1]
    assert got[2] == (got[0][0], "person")
    # another number's letter is another house
    got = run([*house, ("Flat A, 23 Honicknowle Crescent", "PL2 1GG", "kid2")])[1]
    assert got[2][0] != got[0][0]


def test_a_lone_child_joins_a_parent_alone_at_the_house_but_not_the_other_way() -> None:
    rows = [
        ("9 Victoria Terrace", "PL5 6GJ", "mum"),
        ("The Flat 9 Vict Oria Terrace", "PL5 6GJ", "kid"),
    ]
    got = run(rows)[1]
    assert got[1] == (got[0][0], "person") and got[0][1] == "exact"
