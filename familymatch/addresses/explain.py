"""What an address entity is made of: its canonical form, and each way records wrote it with
the rule that joined it (for ``link explain --household`` and ``cohort show``)."""

from __future__ import annotations

from typing import Any

import polars as pl

WHY = {
    "uprn": "the record's UPRN",
    "gazetteer": "matched the gazetteer's address",
    "exact": "the same postcode, flat, number and street",
    "fuzzy": "a misspelt street, a postcode one character off, or the building without its number",
    "street-only": "no postcode: the one address with this street, flat and number",
    "person": "where the person's other records are, or their family of the same surname",
}


def describe_addresses(
    address_ids: list[str],
    record_addresses: pl.DataFrame,
    addresses: pl.DataFrame,
    records: pl.DataFrame,
) -> list[dict[str, Any]]:
    """For each address entity: id, canonical text, postcode, UPRN, record count and its
    variants (the address and postcode as written, how many records, resolved_by, why).

    record_addresses: record_id, address_id, resolved_by; addresses: the stage's address table;
    records: record_id, address, postcode."""
    wanted = sorted(set(address_ids))
    written = (
        record_addresses.filter(pl.col("address_id").is_in(wanted))
        .join(records.select("record_id", "address", "postcode"), on="record_id")
        .group_by("address_id", "address", "postcode", "resolved_by")
        .len("records")
        .sort(["address_id", "records", "address"], descending=[False, True, False])
    )
    out = []
    for entity in (
        addresses.filter(pl.col("address_id").is_in(wanted))
        .sort("address_id")
        .iter_rows(named=True)
    ):
        forms = written.filter(pl.col("address_id") == entity["address_id"])
        out.append(
            {
                "address_id": entity["address_id"],
                "canonical": entity["canonical"],
                "postcode": entity["postcode"],
                "uprn": entity["uprn"],
                "records": entity["records"],
                "variants": [
                    {
                        "written": ", ".join(x for x in (f["address"], f["postcode"]) if x),
                        "records": f["records"],
                        "resolved_by": f["resolved_by"],
                        "why": WHY.get(f["resolved_by"], ""),
                    }
                    for f in forms.iter_rows(named=True)
                ],
            }
        )
    return out


def household_addresses(store: Any, run_id: int, members: pl.DataFrame) -> list[dict[str, Any]]:
    """:func:`describe_addresses` for the address entities a recorded household's records
    (``members``: record_id, ...) resolved to."""
    from familymatch.store import read_rows_in
    from familymatch.store import schema as s

    record_ids = members["record_id"].to_list()
    own = read_rows_in(store, s.record_addresses, run_id, "record_id", record_ids)
    ids = own.drop_nulls("address_id")["address_id"].to_list()
    # every record at those addresses (other households' too): the ways each was written
    same = read_rows_in(store, s.record_addresses, run_id, "address_id", ids)
    records = read_rows_in(store, s.records, run_id, "record_id", same["record_id"].to_list())
    entities = read_rows_in(store, s.addresses, run_id, "address_id", ids)
    return describe_addresses(ids, same, entities, records)


def address_lines(entities: list[dict[str, Any]]) -> list[str]:
    """For a person: each address entity, then every way records wrote it and why it joined
    (plain text; the caller escapes it for rich)."""
    out = [f"address entities ({len(entities)}): the ways records wrote them, and why joined"]
    for a in entities:
        uprn = f", UPRN {a['uprn']}" if a.get("uprn") else ""
        postcode = f", {a['postcode']}" if a.get("postcode") else ""
        out.append(f"{a['address_id']}: {a['canonical']}{postcode}{uprn} ({a['records']} records)")
        out += [
            f"  {v['records']} x '{v['written']}': joined by {v['why'] or v['resolved_by']}"
            for v in a["variants"]
        ]
    return out
