"""The postcode-slip step's pairs: made within a postcode's neighbourhood, never across the
county, and exactly the pairs the county-wide join on street, flat and number found."""

from __future__ import annotations

import random

import polars as pl

from familymatch.addresses import _variants
from familymatch.addresses.resolve import (
    _edges_postcode_slip,
    _pairs,
    _postcode_distance,
    _slip_pairs,
)

STREETS = ("CHURCH ROAD", "HIGH STREET", "STATION ROAD", "MILL LANE")


def county(towns: int, seed: int) -> pl.DataFrame:
    """Distinct addresses of a county whose towns share their street names, with postcodes one
    character off, a neighbouring unit's, another district's: address, postcode, uprn, gaz, n."""
    rng = random.Random(seed)
    rows = []
    for t in range(towns):
        area = ("PL", "EX", "TQ")[t % 3]
        district = f"{area}{t // 3 + 1}"
        for street in STREETS:
            pc = f"{district} {rng.randint(1, 3)}{rng.choice('AB')}{rng.choice('DE')}"
            for number in range(1, 5):
                rows.append((f"{number} {street}", pc, rng.randint(1, 4)))
            slip = list(pc)
            at = rng.choice([i for i, c in enumerate(slip) if c != " "])
            slip[at] = rng.choice("AB" if slip[at].isalpha() else "12")
            rows.append((f"{rng.randint(1, 4)} {street}", "".join(slip), 1))
            # a neighbouring unit's postcode (both letters of the unit wrong, the sector right)
            rows.append((f"{rng.randint(1, 4)} {street}", pc[:-2] + rng.choice(("XY", "QZ")), 1))
    frame = pl.DataFrame(rows, schema=["address", "postcode", "n"], orient="row")
    return frame.select(
        "address",
        "postcode",
        pl.lit(None, pl.String).alias("uprn"),
        pl.lit(False).alias("gaz"),
        pl.col("n").cast(pl.UInt32),
    ).unique(["address", "postcode"], keep="first", maintain_order=True)


def keyed(variants: pl.DataFrame) -> pl.DataFrame:
    return variants.filter(pl.col("pc_ok")).with_columns(pl.col("flat").fill_null(""))


def as_set(pairs: pl.DataFrame) -> set[tuple[int, int]]:
    return set(pairs.select("v", "v_r").iter_rows())


def county_wide(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The slip step's pairs as it made them before: one join of every two variants of a street,
    flat and number across the county, split by their postcodes afterwards."""
    wide = _pairs(frame, ["street", "flat", "number"], carry=("pc", "district"))
    one_off = _postcode_distance(pl.col("pc"), pl.col("pc_r")) == 1
    same_district = pl.col("district") == pl.col("district_r")
    return (
        wide.filter(one_off).select("v", "v_r"),
        wide.filter(~one_off & same_district).select("v", "v_r"),
    )


def test_the_slip_pairs_are_the_county_wide_joins_pairs() -> None:
    frame = keyed(_variants(county(towns=30, seed=3))[0])
    one_apart, district = _slip_pairs(frame)
    wide_one_apart, wide_district = county_wide(frame)
    assert as_set(one_apart) == as_set(wide_one_apart) and one_apart.height > 0
    assert as_set(district) == as_set(wide_district) and district.height > 0
    # the county really shares its street names: the wide join is the larger by far
    wide = _pairs(frame, ["street", "flat", "number"])
    assert wide.height > 10 * (one_apart.height + district.height)
    # some pairs one character apart are of two districts (PL1 / PL2): not keyed on the district
    districts = frame.select("v", "district")
    across = one_apart.join(districts, on="v").join(
        districts.rename({"v": "v_r"}), on="v_r", suffix="_r"
    )
    assert across.filter(pl.col("district") != pl.col("district_r")).height > 0


def test_the_slip_edges_are_the_county_wide_joins_edges() -> None:
    for seed in (5, 11):
        variants, _ = _variants(county(towns=30, seed=seed))
        got = _edges_postcode_slip(variants).sort("a", "b")
        assert got.height > 0
        assert got.equals(_edges_postcode_slip(variants, county_wide).sort("a", "b"))
