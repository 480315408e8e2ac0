"""The address stage: parse every record's address and resolve records into address entities.

``resolve_addresses(std, gazetteer)`` runs between standardise and link/households
(docs/contracts.md section 3a). Parsing is in ``parse.py``, matching in ``resolve.py``, the
optional gazetteer (the council's LLPG / AddressBase extract) in ``gazetteer.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from familymatch.addresses.buildings import reread_buildings
from familymatch.addresses.parse import parse_addresses, street_name, street_type
from familymatch.addresses.resolve import (
    PC_PATTERN,
    entity_ids,
    match_variants,
    unplaced,
)

RESOLVED_BY = ("uprn", "gazetteer", "exact", "fuzzy", "street-only", "person", "none")
PART_COLUMNS = {
    "flat": "addr_flat",
    "building": "addr_building",
    "number": "addr_number",
    "street": "addr_street",
    "locality": "addr_locality",
    "town": "addr_town",
}
_VARIANT_KEY = ["pc", "flat", "building", "number", "street", "uprn", "gaz"]


@dataclass
class AddressResult:
    """The stage's output (docs/contracts.md section 3a)."""

    records: pl.DataFrame  # record_id, address_id, resolved_by, uprn, addr_* parts, addr_postcode
    addresses: pl.DataFrame  # address_id, canonical, postcode, uprn, variants, records
    variants: pl.DataFrame  # address_id, variant, resolved_by, records
    gazetteer_share: float | None  # records with an address that resolved to the gazetteer


def canonical_text(prefix: str = "") -> pl.Expr:
    """'FLAT 3, ROSE COURT, 17 DRAKE ROAD, PLYMPTON, PLYMOUTH' from the parts."""
    c = lambda n: pl.col(prefix + n)  # noqa: E731
    return pl.concat_str(
        [
            # a flat named by its position alone ("FLAT 24 X STREET": the flat at 24) is FLAT
            pl.when(c("flat") == "FLAT").then(c("flat")).otherwise(pl.format("FLAT {}", c("flat"))),
            c("building"),
            pl.concat_str([c("number"), c("street")], separator=" ", ignore_nulls=True),
            c("locality"),
            c("town"),
        ],
        separator=", ",
        ignore_nulls=True,
    )


def _variants(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """frame: address, postcode, uprn, gaz, n (records) -> the distinct parsed addresses with a
    variant id v, and the lookup from (address, postcode, uprn, gaz) to v."""
    parsed = reread_buildings(parse_addresses(frame)).with_columns(
        pl.col("pc").str.contains(PC_PATTERN).fill_null(False).alias("pc_ok"),
        street_name(pl.col("street")).alias("sname"),
        street_type(pl.col("street")).alias("stype"),
    )
    parsed = parsed.with_columns(
        pl.col("pc").str.slice(0, pl.col("pc").str.len_chars() - 2).alias("sector"),
        pl.col("pc").str.extract(r"^(\S+) ", 1).alias("district"),
    )
    variants = (
        parsed.group_by(_VARIANT_KEY)
        .agg(pl.all().exclude("address", "postcode", "n").first(), pl.col("n").sum())
        .sort(_VARIANT_KEY, nulls_last=True)
        .with_row_index("v")
        .with_columns(pl.col("v").cast(pl.Int64))
    )
    lookup = parsed.select("address", "postcode", *_VARIANT_KEY).join(
        variants.select("v", *_VARIANT_KEY), on=_VARIANT_KEY, nulls_equal=True
    )
    return variants, lookup.select("address", "postcode", "uprn", "gaz", "v")


def resolve_addresses(std: pl.DataFrame, gazetteer: pl.DataFrame | None = None) -> AddressResult:
    """std: record_id, address, postcode, uprn; gazetteer: uprn, address, postcode (or None)."""
    raw = std.select(
        "record_id",
        pl.col("address").str.strip_chars(),
        pl.col("postcode").str.strip_chars(),
        pl.col("uprn").str.strip_chars().str.replace(r"\.0$", ""),
        pl.lit(False).alias("gaz"),
    )
    # in a fixed order: a variant's parts are its first distinct text's (group_by's order is not)
    distinct = (
        raw.group_by("address", "postcode", "uprn", "gaz")
        .len("n")
        .sort("address", "postcode", "uprn", nulls_last=True)
    )
    if gazetteer is not None:
        listed = gazetteer.select("address", "postcode", "uprn", gaz=pl.lit(True), n=pl.lit(0))
        distinct = pl.concat([distinct, listed.cast(distinct.schema)])
    variants, lookup = _variants(distinct)
    matched = match_variants(variants)
    bare = unplaced(variants, matched)
    # in std's row order (every record has one variant), so that ``with_addresses`` adds the
    # records' columns to std as they are rather than by another join's copy
    recs = raw.join(
        lookup.filter(~pl.col("gaz")).drop("gaz"),
        on=["address", "postcode", "uprn"],
        nulls_equal=True,
        maintain_order="left",
    ).select("record_id", "v")
    return _assemble(recs, variants, matched, bare, gazetteer is not None)


def _assemble(
    recs: pl.DataFrame, variants: pl.DataFrame, matched: pl.DataFrame, bare: pl.Series, gaz: bool
) -> AddressResult:
    placeable = (
        pl.col("number").is_not_null()
        | pl.col("building").is_not_null()
        | pl.col("uprn").is_not_null()
    ) & ~pl.col("v").is_in(bare.implode())
    v = variants.join(matched, on="v").with_columns(placeable.alias("placeable"))
    counts = recs.group_by("v").len("n")
    roots = _entities(v, counts)
    per_v = _per_variant(v, roots)
    # per_v narrowed to what each record takes before the join: not every variant column per
    # record (scale 3: _assemble took 779 -> 1,154 MB before)
    took = per_v.select("v", "address_id", "resolved_by", "known_uprn", *PART_COLUMNS, "pc")
    records = (
        recs.select("record_id", "v")
        .join(took, on="v", maintain_order="left")
        .select(
            "record_id",
            "address_id",
            "resolved_by",
            pl.col("known_uprn").alias("uprn"),
            *[pl.col(k).alias(a) for k, a in PART_COLUMNS.items()],
            pl.col("pc").alias("addr_postcode"),
        )
    )
    return AddressResult(
        records=records,
        addresses=roots.filter(pl.col("records") > 0)
        .select("address_id", "canonical", "postcode", "uprn", "variants", "records")
        .sort("address_id"),
        variants=per_v.join(counts, on="v")
        .filter(pl.col("placeable"))
        .select(
            "address_id",
            canonical_text().alias("variant"),
            pl.col("pc").alias("postcode"),
            "resolved_by",
            pl.col("n").alias("records"),
        )
        .sort(["address_id", "records"], descending=[False, True]),
        gazetteer_share=_share(records) if gaz else None,
    )


def _entities(v: pl.DataFrame, counts: pl.DataFrame) -> pl.DataFrame:
    """One row per entity (root): address_id, its UPRN, whether the gazetteer lists it, its
    representative variant (the gazetteer's, else the commonest), canonical text, counts."""
    roots = (
        v.join(counts, on="v", how="left")
        .with_columns(pl.col("n").fill_null(0))
        .sort(["root", "gaz", "n", "v"], descending=[False, True, True, False])
        .group_by("root", maintain_order=True)
        .agg(
            pl.col("uprn").drop_nulls().mode().sort().first().alias("uprn"),
            pl.col("gaz").any().alias("has_gaz"),
            pl.col("v").first().alias("rep"),
            pl.concat_str(
                [pl.col(c).fill_null("") for c in ("pc", "flat", "number", "building", "street")],
                separator="|",
            )
            .min()
            .alias("key"),
            canonical_text().first().alias("canonical"),
            pl.col("pc").first().alias("postcode"),
            (pl.col("n") > 0).sum().alias("variants"),
            pl.col("n").sum().alias("records"),
        )
    )
    return roots.join(entity_ids(roots), on="root")


def _per_variant(v: pl.DataFrame, roots: pl.DataFrame) -> pl.DataFrame:
    """Each variant's address_id, resolved_by and known UPRN (null / none when unplaceable)."""
    per_v = v.join(
        roots.select("root", "address_id", "has_gaz", "rep", pl.col("uprn").alias("e_uprn")),
        on="root",
    )
    how = (
        pl.when(~pl.col("placeable"))
        .then(pl.lit("none"))
        .when(pl.col("uprn").is_not_null())
        .then(pl.lit("uprn"))
        .when(pl.col("has_gaz"))
        .then(pl.lit("gazetteer"))
        .when(pl.col("v") == pl.col("rep"))
        .then(pl.lit("exact"))
        .otherwise(pl.coalesce(pl.col("kind").replace("uprn", "exact"), pl.lit("exact")))
    )
    return per_v.with_columns(
        how.alias("resolved_by"),
        pl.when(pl.col("placeable")).then(pl.col("address_id")).alias("address_id"),
        pl.when(pl.col("placeable")).then(pl.coalesce("uprn", "e_uprn")).alias("known_uprn"),
    )


def _share(records: pl.DataFrame) -> float:
    with_address = records.filter(pl.col("resolved_by") != "none")
    if with_address.height == 0:
        return 0.0
    return round(
        with_address.filter(pl.col("resolved_by").is_in(["gazetteer", "uprn"])).height
        / with_address.height,
        4,
    )


def aligned(std: pl.DataFrame, by_record: pl.DataFrame) -> pl.DataFrame:
    """``by_record``'s columns other than record_id, one row per row of ``std`` in its order
    (null where it has no row for the record): to add to ``std`` without a join copying every
    one of its columns (at county scale ``std`` is the widest frame of the build). Rows that
    already line up (the address stage's records are in std's order) are taken as they are."""
    if by_record["record_id"].equals(std["record_id"]):
        return by_record.drop("record_id")
    return (
        std.select("record_id")
        .join(by_record, on="record_id", how="left", maintain_order="left")
        .drop("record_id")
    )


def with_addresses(std: pl.DataFrame, result: AddressResult) -> pl.DataFrame:
    """std plus address_id, resolved_by, addr_* parts; ``pc`` (and its sector, district, area,
    validity) filled from the address text where the source had no postcode."""
    added = result.records.select(
        "record_id",
        "address_id",
        "resolved_by",
        pl.col("uprn").alias("addr_uprn"),
        *PART_COLUMNS.values(),
        "addr_postcode",
    )
    out = std.hstack(aligned(std, added).get_columns())
    fill = pl.col("pc").is_null() & pl.col("addr_postcode").str.contains(PC_PATTERN).fill_null(
        False
    )
    outward = pl.col("addr_postcode").str.extract(r"^(\S+) ", 1)
    return out.with_columns(
        pl.when(fill).then(pl.col("addr_postcode")).otherwise("pc").alias("pc"),
        (pl.col("pc_valid") | fill).alias("pc_valid"),
        pl.when(fill)
        .then(pl.col("addr_postcode").str.slice(0, pl.col("addr_postcode").str.len_chars() - 2))
        .otherwise("pc_sector")
        .alias("pc_sector"),
        pl.when(fill).then(outward).otherwise("pc_district").alias("pc_district"),
        pl.when(fill)
        .then(outward.str.extract(r"^([A-Z]{1,2})", 1))
        .otherwise("pc_area")
        .alias("pc_area"),
    )


def address_summary(result: AddressResult) -> dict[str, object]:
    """For the run summary: entities, records by how they were resolved, the gazetteer share."""
    counts = result.records["resolved_by"].value_counts().sort("resolved_by")
    return {
        "entities": result.addresses.height,
        "resolved_by": dict(counts.iter_rows()),
        "gazetteer_share": result.gazetteer_share,
    }
