"""A record with no address of its own takes its claim's address for linkage
(familymatch/addresses/claims.py)."""

from __future__ import annotations

import polars as pl

from familymatch.addresses import resolve_addresses, with_addresses
from familymatch.addresses.claims import claim_addresses, with_claim_addresses
from familymatch.canonical import conform
from familymatch.standardise import standardise

ROWS = [
    # record_id, group_ref, address, postcode, uprn
    ("benefits:1:claimant", "C1", "17 Mill Road, Plymouth", "PL1 2AB", None),
    ("benefits:1:partner", "C1", "17 Mill Road, Plymouth", "PL1 2AB", None),
    ("dependants:1", "C1", None, None, None),
    ("dependants:2", "C2", None, None, None),  # a claim nobody's address names
    ("benefits:2:claimant", "C3", "4 Drake Lane, Plymouth", "PL4 9XY", None),
    ("benefits:3:claimant", "C3", "9 Hoe Road, Plymouth", "PL1 3CD", None),
    ("dependants:3", "C3", None, None, None),  # a claim at two addresses: not guessed
    ("census:1", None, None, None, None),  # no claim: stays without an address
    ("dependants:4", "C4", "2 Elm Close", "PL5 1EF", None),  # its own address stays
]


def std() -> pl.DataFrame:
    cols = ["record_id", "group_ref", "address", "postcode", "uprn"]
    frame = pl.DataFrame([dict(zip(cols, r, strict=True)) for r in ROWS], orient="row")
    canonical = frame.with_columns(
        pl.col("record_id").str.extract(r"^([a-z]+)", 1).alias("source"),
        pl.col("record_id").str.extract(r"^([a-z]+)", 1).alias("kind"),
        pl.lit(1, pl.Int64).alias("row"),
        pl.lit("JOHN").alias("forename"),
        pl.lit("SMITH").alias("surname"),
    )
    s = standardise(conform(canonical))
    return with_addresses(s, resolve_addresses(s))


def test_a_dependant_without_an_address_takes_its_claims_only_address() -> None:
    frame = std()
    taken = claim_addresses(frame)
    assert taken["record_id"].to_list() == ["dependants:1"]
    claimant = frame.filter(pl.col("record_id") == "benefits:1:claimant").row(0, named=True)
    out = with_claim_addresses(frame).filter(pl.col("record_id") == "dependants:1")
    row = out.row(0, named=True)
    assert row["address_id"] == claimant["address_id"] is not None
    assert (row["pc"], row["addr_number"], row["addr_street"]) == ("PL1 2AB", "17", "MILL ROAD")
    assert row["resolved_by"] == "claim"
    # what the source wrote is untouched
    assert (row["address"], row["postcode"]) == (None, None)


def test_records_with_an_address_or_no_single_claim_address_are_left_as_they_are() -> None:
    frame = std()
    out = with_claim_addresses(frame)
    keep = ~pl.col("record_id").is_in(["dependants:1"])
    assert out.filter(keep).equals(frame.filter(keep))
    assert out.filter(pl.col("record_id") == "dependants:3")["address_id"][0] is None
    assert with_claim_addresses(frame.filter(keep)).equals(frame.filter(keep))
