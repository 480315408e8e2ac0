"""A flat of a building whose name ends in a street word, written without the flat word.

"4, HOE VIEW, DERRIFORD CRESCENT" is flat 4 of the building Hoe View on Derriford Crescent, or
house 4 on a street Hoe View in a locality Derriford Crescent: the text alone cannot say (COURT,
VIEW, HEIGHTS end buildings' names and streets' alike), and the parser reads the house. The
extract itself can: where another record writes that name as a building on that street
("FLAT 4, HOE VIEW, DERRIFORD CRESCENT", "HOE VIEW, FLAT 2 / DERRIFORD CRES"), the bare number
is the flat's. ``reread_buildings(parsed)`` applies that to the parser's output; nothing is
changed where no record names the building on that street.
"""

from __future__ import annotations

import polars as pl


def known_buildings(parsed: pl.DataFrame) -> pl.DataFrame:
    """building, street: the named buildings the parsed addresses place flats in, with their
    street."""
    return (
        parsed.filter(
            pl.col("flat").is_not_null()
            & pl.col("building").is_not_null()
            & pl.col("street").is_not_null()
        )
        .select("building", "street")
        .unique()
    )


def reread_buildings(parsed: pl.DataFrame) -> pl.DataFrame:
    """parsed (parse_addresses' output) with "N, NAME, STREET" read as flat N of building NAME
    on STREET where the number has no flat or building and some record names NAME a building
    on STREET (the line after the street is its locality, else its town)."""
    buildings = known_buildings(parsed)
    after = pl.coalesce("locality", "town")
    candidate = (
        pl.col("flat").is_null()
        & pl.col("building").is_null()
        & pl.col("number").str.contains(r"^[0-9]+[A-Z]?$").fill_null(False)
    )
    keyed = parsed.with_columns(
        pl.when(candidate).then(pl.col("street")).alias("__b"),
        pl.when(candidate).then(after).alias("__s"),
    )
    known = buildings.select(
        pl.col("building").alias("__b"), pl.col("street").alias("__s"), pl.lit(True).alias("__k")
    )
    keyed = keyed.join(known, on=["__b", "__s"], how="left")
    hit = pl.col("__k").fill_null(False)
    town_only = pl.col("locality").is_null()
    return keyed.with_columns(
        pl.when(hit).then(pl.col("number")).otherwise("flat").alias("flat"),
        pl.when(hit).then(pl.col("street")).otherwise("building").alias("building"),
        pl.when(hit).then(None).otherwise("number").alias("number"),
        pl.when(hit).then(pl.col("__s")).otherwise("street").alias("street"),
        pl.when(hit).then(None).otherwise("locality").alias("locality"),
        pl.when(hit & town_only).then(None).otherwise("town").alias("town"),
    ).drop("__b", "__s", "__k")
