"""A record with no address of its own takes its claim's address, for linkage.

Councils send the children on a benefit claim as rows of their own (a dependants list, or one
row per member) that carry the claim reference and no address: the address is on the claim's
row. Without it, a dependant's row can only link to the same child's school census rows on names
and date of birth alone, and a date one part off then keeps them apart (the thin-record rules
need a place). The source says where the row belongs: every profile and council seen expresses
it the same way, a ``group_ref`` shared with the claim's addressed rows (docs/contracts.md).

``with_claim_addresses(std)``: for every record whose source gave no address, postcode or UPRN
and whose ``group_ref`` names addressed records that are all at one address entity, the
address columns the link stage compares (``ADDRESS_COLUMNS``) are those of the claim's first
such record (by record id), ``resolved_by = "claim"``. What the source wrote (``address``,
``postcode``, ``uprn``) is untouched, and households keep using the record's own (none): the
claim group already joins a dependant to the claim's household.
"""

from __future__ import annotations

import polars as pl

from familymatch.addresses import aligned

# the standardised and address-stage columns that say where a record is
ADDRESS_COLUMNS = (
    "pc",
    "addr",
    "pc_valid",
    "addr_num",
    "pc_sector",
    "pc_district",
    "pc_area",
    "address_id",
    "addr_uprn",
    "addr_flat",
    "addr_building",
    "addr_number",
    "addr_street",
    "addr_locality",
    "addr_town",
    "addr_postcode",
)


def claim_addresses(std: pl.DataFrame, columns: tuple[str, ...] = ADDRESS_COLUMNS) -> pl.DataFrame:
    """record_id + the address columns (``columns``, of ``ADDRESS_COLUMNS``) of its claim, for
    every record without an address of its own whose claim reference is at exactly one address
    entity."""
    own = pl.any_horizontal(pl.col("address", "postcode", "uprn").is_not_null())
    claimed = pl.col("group_ref").is_not_null()
    # narrowed before filtering: a filter of every column of std is a copy of most of it
    columns = tuple(dict.fromkeys(("address_id", *columns)))
    std = std.select("record_id", "group_ref", "address", "postcode", "uprn", *columns)
    donors = std.filter(claimed & own & pl.col("address_id").is_not_null())
    one_place = (
        donors.group_by("group_ref")
        .agg(pl.col("address_id").n_unique().alias("n"))
        .filter(pl.col("n") == 1)
        .select("group_ref")
    )
    first = (
        donors.join(one_place, on="group_ref")
        .sort("record_id")
        .group_by("group_ref", maintain_order=True)
        .first()
        .select("group_ref", *columns)
    )
    bare = std.filter(claimed & ~own).select("record_id", "group_ref")
    return bare.join(first, on="group_ref").drop("group_ref").sort("record_id")


def with_claim_addresses(
    std: pl.DataFrame, columns: tuple[str, ...] = ADDRESS_COLUMNS
) -> pl.DataFrame:
    """std with ``claim_addresses`` filled in (``resolved_by = "claim"``); the same frame when
    no record needs it. Only ``columns`` (of ``ADDRESS_COLUMNS``) are replaced: a caller that
    reads a few of them (the link stage) makes no new copy of the others."""
    taken = claim_addresses(std, columns)
    if taken.height == 0:
        return std
    # only the address columns are new: the others stay std's own (no copy of the frame)
    claim = aligned(
        std,
        taken.select(
            "record_id",
            pl.lit(True).alias("taking"),
            *[pl.col(c).name.suffix("__claim") for c in columns],
        ),
    )
    taking = claim["taking"].fill_null(False)
    return std.with_columns(
        *[
            pl.when(taking).then(claim[c + "__claim"]).otherwise(pl.col(c)).alias(c)
            for c in columns
        ],
        pl.when(taking).then(pl.lit("claim")).otherwise(pl.col("resolved_by")).alias("resolved_by"),
    )
