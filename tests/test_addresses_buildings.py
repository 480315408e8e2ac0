"""A bare number before a building whose name ends in a street word is its flat when the
extract names that building on that street (familymatch/addresses/buildings.py)."""

from __future__ import annotations

import polars as pl

from familymatch.addresses import resolve_addresses
from familymatch.addresses.buildings import reread_buildings
from familymatch.addresses.parse import parse_addresses


def parts(texts: list[str]) -> list[tuple[str | None, ...]]:
    frame = pl.DataFrame({"address": texts, "postcode": [None] * len(texts)})
    out = reread_buildings(parse_addresses(frame.cast({"postcode": pl.String})))
    return [tuple(r) for r in out.select("flat", "building", "number", "street").iter_rows()]


def test_a_bare_number_before_a_named_building_is_its_flat() -> None:
    texts = ["4, HOE VIEW, DERRIFORD CRESCENT, PLYMOUTH", "Flat 4, Hoe View, Derriford Crescent"]
    assert parts(texts) == [("4", "HOE VIEW", None, "DERRIFORD CRESCENT")] * 2


def test_without_a_record_naming_the_building_the_house_stands() -> None:
    # no record writes Hoe View as a building; and Mayflower Court is a building on another
    # street only
    texts = ["4, HOE VIEW, DERRIFORD CRESCENT", "FLAT 2, MAYFLOWER COURT, FORD DRIVE"]
    texts.append("6, MAYFLOWER COURT, WHITLEIGH CRESCENT, PLYMOUTH")
    got = parts(texts)
    assert got[0] == (None, None, "4", "HOE VIEW")
    assert got[2] == (None, None, "6", "MAYFLOWER COURT")


def test_the_flats_forms_resolve_to_one_address() -> None:
    texts = [
        "4, HOE VIEW, DERRIFORD CRESCENT, PLYMOUTH",
        "Flat 4, Hoe View, Derriford Crescent, Plymouth",
        "5, HOE VIEW, DERRIFORD CRESCENT, PLYMOUTH",
    ]
    std = pl.DataFrame(
        {
            "record_id": ["r0", "r1", "r2"],
            "address": texts,
            "postcode": ["PL2 3QU"] * 3,
            "uprn": [None, None, None],
        },
        schema_overrides={"uprn": pl.String},
    )
    ids = resolve_addresses(std).records.sort("record_id")["address_id"].to_list()
    assert ids[0] == ids[1] is not None
    assert ids[2] not in (None, ids[0])  # another flat of the building stays apart
