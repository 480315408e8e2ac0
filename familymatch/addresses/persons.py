"""After person linkage: a person's other records as evidence for where a record's address is.

The address stage resolves text alone and refuses to guess: a building's number without its
flat, a street name of several districts without a postcode, place nobody; a postcode or a
street written wrong in one part makes a second entity. Once records are linked into persons
there is more evidence, and ``place_by_person(std, persons, result)`` uses it in three steps:

1. **one address written wrong in one part**: a person with records at two entities whose texts
   agree on flat (both, or neither), house number and building, and differ in exactly one of
   postcode (in the same postcode district) and street, has one address written two ways: the
   entities are joined (a move between two such addresses, same number and flat, one street or
   district apart, is far rarer than a slip in one part). Two entities each with a UPRN of their
   own are never joined.
2. **an unplaced record** whose person has records at exactly one entity consistent with its
   text (same number, or building when it names no number; the same street when it names one;
   the same postcode when it has a usable one; the same flat, or no flat when it names the
   building's number alone) is placed there (``resolved_by = person``). Several consistent
   entities: placed nowhere (nothing says which).
3. **a person alone by the text** (placed nowhere, or at an entity no one else's records name)
   whose text is one part away from exactly one entity where someone of the same surname lives
   (a flat added to a house; a flat of a building without the building's number, the name
   written on its own or run into the street's) is placed there: a child whose every census
   row carries one slip in its address joins the parent at the house.

Both steps only add evidence the text allowed; nothing is placed against what the text says.
"""

from __future__ import annotations

import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

from familymatch.addresses import PART_COLUMNS, AddressResult, canonical_text
from familymatch.addresses.resolve import PC_PATTERN, STREET_SIMILAR, components

_PARTS = ["addr_flat", "addr_number", "addr_building", "addr_street", "addr_pc"]


def place_by_person(
    std: pl.DataFrame, persons: pl.DataFrame, result: AddressResult
) -> tuple[pl.DataFrame, AddressResult]:
    """std (with_addresses' columns) and persons (record_id, person_id) -> std and the address
    result with entities joined and unplaced records placed by their person's other records."""
    recs = _records(std, persons)
    joined = _join_entities(recs, result)
    recs = _repoint(recs, joined)
    placed = _place_unplaced(recs)
    lone = _place_lone(_apply(recs, placed.with_columns(pl.lit("person").alias("resolved_by"))))
    placed = pl.concat([placed.join(lone, on="record_id", how="anti"), lone])
    changed = (
        recs.filter(pl.col("to").is_not_null())
        .select("record_id", "address_id")
        .vstack(placed)
        .with_columns(pl.lit("person").alias("resolved_by"))
    )
    del recs  # not held beside the new std and the address tables
    return _apply(std, changed), _update_result(result, joined, placed, std)


def _repoint(frame: pl.DataFrame, joined: pl.DataFrame) -> pl.DataFrame:
    """frame's rows at a joined entity moved to the entity it joined (``resolved_by = person``);
    ``to`` kept (null where nothing moved)."""
    # looked up, not joined: a join would copy every column of every record
    to = pl.col("address_id").replace_strict(
        joined["address_id"], joined["to"], default=None, return_dtype=pl.String
    )
    return frame.with_columns(to.alias("to")).with_columns(
        pl.coalesce("to", "address_id").alias("address_id"),
        pl.when(pl.col("to").is_not_null())
        .then(pl.lit("person"))
        .otherwise("resolved_by")
        .alias("resolved_by"),
    )


def _records(std: pl.DataFrame, persons: pl.DataFrame) -> pl.DataFrame:
    usable = pl.col("addr_postcode").str.contains(PC_PATTERN).fill_null(False)
    return std.select(
        "record_id",
        "address_id",
        "resolved_by",
        "addr_flat",
        "addr_number",
        "addr_building",
        "addr_street",
        pl.when(usable).then(pl.col("addr_postcode")).alias("addr_pc"),
        "sn",
    ).join(persons.select("record_id", "person_id"), on="record_id")


def _join_entities(recs: pl.DataFrame, result: AddressResult) -> pl.DataFrame:
    """address_id, to: entities joined because one person's records write them one part apart
    at the same flat and number (``to`` is the entity of the joined group with the most
    records): the postcode (same district) or the street wrong, or, at the same postcode, the
    street and building names each the same, left out or misspelt."""
    forms = (
        recs.lazy()
        .select("person_id", "address_id", *_PARTS)
        .drop_nulls(["address_id", "addr_number"])
        .unique()
        .with_columns(pl.col("addr_flat", "addr_building").fill_null(""))
    )
    pairs = (
        forms.join(forms, on=["person_id", "addr_flat", "addr_number"], suffix="_r")
        .filter(pl.col("address_id") < pl.col("address_id_r"))
        .collect()
    )
    a, b = pairs["addr_building"].to_list(), pairs["addr_building_r"].to_list()
    pairs = pairs.with_columns(
        pl.Series("jw", process.cpdist(a, b, scorer=JaroWinkler.normalized_similarity))
    )
    same_building = pl.col("addr_building") == pl.col("addr_building_r")
    same_street = pl.col("addr_street") == pl.col("addr_street_r")
    same_pc = pl.col("addr_pc") == pl.col("addr_pc_r")
    district = pl.col("addr_pc").str.extract(r"^(\S+) ", 1)
    same_district = district == pl.col("addr_pc_r").str.extract(r"^(\S+) ", 1)
    left_out = lambda c: pl.col(c).is_null() | pl.col(c + "_r").is_null()  # noqa: E731
    building_alike = (
        same_building
        | (pl.col("addr_building") == "")
        | (pl.col("addr_building_r") == "")
        | (pl.col("jw") >= STREET_SIMILAR)
    )
    one_part = (
        (same_building & same_street & ~same_pc & same_district)
        | (same_building & same_pc & ~same_street)
        | (same_pc & (same_street | left_out("addr_street")) & building_alike)
    )
    uprns = result.addresses.select("address_id", pl.col("uprn").is_not_null().alias("u"))
    pairs = pairs.filter(one_part.fill_null(False)).select("address_id", "address_id_r")
    edges = (
        pl.concat([pairs, _flat_added(recs)])
        .join(uprns, on="address_id")
        .join(uprns.rename({"address_id": "address_id_r", "u": "u_r"}), on="address_id_r")
        .filter(~(pl.col("u") & pl.col("u_r")))
        .select(pl.col("address_id").alias("a"), pl.col("address_id_r").alias("b"))
        .unique()
    )
    return _representatives(edges, result.addresses)


def _flat_added(recs: pl.DataFrame) -> pl.DataFrame:
    """address_id, address_id_r: a flat written by one person only, at the same postcode,
    number, street (or none written) and building (or none) as a house where the same person's
    other records are (no form of the house names a flat): the flat added to the house's
    address is a slip, the person's own records say where they live."""
    at = (
        recs.lazy()
        .select("person_id", "address_id", *_PARTS)
        .drop_nulls(["address_id", "addr_number", "addr_pc"])
    )
    per_entity = at.group_by("address_id").agg(
        pl.col("person_id").n_unique().alias("people"),
        pl.col("addr_flat").is_not_null().any().alias("flats"),
    )
    forms = (
        at.join(per_entity, on="address_id")
        .select("person_id", "address_id", *_PARTS, "people", "flats")
        .unique()
    )
    flat = forms.filter(pl.col("addr_flat").is_not_null() & (pl.col("people") == 1))
    house = forms.filter(~pl.col("flats"))
    pairs = flat.join(house, on=["person_id", "addr_number", "addr_pc"], suffix="_r")
    agree = lambda c: pl.col(c).eq_missing(pl.col(c + "_r")) | pl.col(c + "_r").is_null()  # noqa: E731
    return (
        pairs.filter(agree("addr_street") & agree("addr_building"))
        .select("address_id", "address_id_r")
        .unique()
        .collect()
    )


def _representatives(edges: pl.DataFrame, addresses: pl.DataFrame) -> pl.DataFrame:
    """address_id, to (the group's entity with a UPRN, else the most records) for every entity
    joined to another; empty when no edge."""
    nodes = pl.concat([edges["a"], edges["b"]]).unique().sort()
    ids = (
        pl.DataFrame({"address_id": nodes})
        .with_row_index("n")
        .with_columns(pl.col("n").cast(pl.Int64))
    )
    idx = edges.join(ids.rename({"address_id": "a", "n": "na"}), on="a").join(
        ids.rename({"address_id": "b", "n": "nb"}), on="b"
    )
    comp = components(ids["n"], idx.select(pl.col("na").alias("a"), pl.col("nb").alias("b")))
    grouped = (
        ids.join(comp.rename({"v": "n"}), on="n")
        .join(addresses.select("address_id", "uprn", "records"), on="address_id")
        .sort(
            ["root", "uprn", "records", "address_id"],
            descending=[False, False, True, False],
            nulls_last=True,
        )
    )
    best = grouped.group_by("root", maintain_order=True).agg(
        pl.col("address_id").first().alias("to")
    )
    return (
        grouped.join(best, on="root")
        .filter(pl.col("address_id") != pl.col("to"))
        .select("address_id", "to")
    )


def _place_unplaced(recs: pl.DataFrame) -> pl.DataFrame:
    """record_id, address_id for unplaced records with exactly one consistent entity among
    their person's other records."""
    loose = (
        recs.lazy()
        .select("record_id", "person_id", "address_id", *_PARTS)
        .filter(
            pl.col("address_id").is_null()
            & (pl.col("addr_number").is_not_null() | pl.col("addr_building").is_not_null())
        )
        .drop("address_id")
    )
    known = recs.lazy().select("person_id", "address_id", *_PARTS).drop_nulls("address_id")
    cand = loose.join(known.unique(), on="person_id", suffix="_c")

    def agree(part: str) -> pl.Expr:  # the record names no such part, or the same one
        return pl.col(part).is_null() | (pl.col(part) == pl.col(part + "_c")).fill_null(False)

    numbered = pl.col("addr_number").is_not_null() & (
        pl.col("addr_number") == pl.col("addr_number_c")
    ).fill_null(False)
    by_building = pl.col("addr_number").is_null() & (
        pl.col("addr_building") == pl.col("addr_building_c")
    ).fill_null(False)
    fits = (numbered | by_building) & agree("addr_street") & agree("addr_pc") & agree("addr_flat")
    fits = fits & agree("addr_building")
    return (
        cand.filter(fits)
        .group_by("record_id")
        .agg(pl.col("address_id").unique())
        .filter(pl.col("address_id").list.len() == 1)
        .select("record_id", pl.col("address_id").list.first())
        .collect()
    )


def _place_lone(recs: pl.DataFrame) -> pl.DataFrame:
    """record_id, address_id for the records of a person who lives alone by the text (placed
    nowhere, or at an entity nobody else's records name) when that text is one part away from
    exactly one entity where someone of the same surname lives: the same postcode, street (or
    none written) and number with a flat added to a house (no form of the entity names a flat;
    a flat left out is the person's own evidence's to place, not a neighbour's surname's), or
    the same building and flat with
    the building's number left out (the name written as a line of its own, or run into the
    street's)."""
    # one lazy query up to the candidates: each frame takes only the columns it reads and no
    # intermediate is held whole (a copy of every column of every record is ~100 B a record)
    at = (
        recs.lazy()
        .select("address_id", "person_id", "resolved_by", "sn", *_PARTS)
        .drop_nulls("address_id")
    )
    people = at.group_by("address_id").agg(pl.col("person_id").n_unique().alias("people"))
    shared = (
        at.select("address_id", "person_id")
        .join(people.filter(pl.col("people") >= 2), on="address_id")
        .select("person_id")
        .unique()
    )
    forms = (
        recs.lazy()
        .select("record_id", "person_id", "sn", pl.col("address_id").alias("from"), *_PARTS)
        .drop_nulls("addr_pc")
        .join(shared, on="person_id", how="anti")
    )
    # the entities' own forms (not those the person step placed there), and whether a form
    # of the entity names a flat (a house has none); another lone person's entity too (a
    # parent alone on a benefit claim): each way of being one part away goes one way only
    # (a flat added, a number left out), so two lone people never swap
    homes = (
        at.filter(pl.col("resolved_by") != "person")
        .select("address_id", *_PARTS)
        .unique()
        .with_columns(pl.col("addr_flat").is_not_null().any().over("address_id").alias("flats_c"))
    )
    names = at.select("address_id", "sn").drop_nulls().unique()
    # each home's forms with its surnames first, then the lone forms at its postcode with one
    # of them: not every lone form with every form at its postcode (scale 3: +300 MB)
    cand = (
        forms.join(homes.join(names, on="address_id"), on=["addr_pc", "sn"], suffix="_c")
        .filter(pl.col("address_id").ne_missing(pl.col("from")))
        .collect()
    )
    cand = cand.with_columns(_street_similarity(cand))
    street = pl.col("addr_street").eq_missing(pl.col("addr_street_c")) | (
        pl.col("addr_street").is_null() | pl.col("addr_street_c").is_null()
    )
    # the same street misspelt or with a space lost or added ("HONIC KNOWLE CRESCENT")
    street = street | (pl.col("street_jw") >= STREET_SIMILAR)
    # a flat added as a flat, or as the number's letter ("FLAT A, 3" is 3A: parse.py)
    lettered = pl.col("addr_number").str.contains(r"^[0-9]+[A-Z]$") & (
        pl.col("addr_number").str.head(-1) == pl.col("addr_number_c")
    )
    same_number = (pl.col("addr_number") == pl.col("addr_number_c")).fill_null(False)
    added = pl.col("addr_flat").is_not_null() & same_number
    added = (added | (lettered.fill_null(False) & pl.col("addr_flat").is_null())) & ~pl.col(
        "flats_c"
    )
    flat_off = added
    # "FLAT 3 DRAKE HOUSE BEAUMONT PLACE": the building's name run into its street
    run_together = pl.concat_str("addr_building_c", "addr_street_c", separator=" ")
    building = (pl.col("addr_building") == pl.col("addr_building_c")).fill_null(False) & street
    no_number = (
        pl.col("addr_number").is_null()
        & pl.col("addr_number_c").is_not_null()
        & pl.col("addr_flat").eq_missing(pl.col("addr_flat_c"))
        & (building | (pl.col("addr_street") == run_together).fill_null(False))
    )
    near = cand.filter((street & flat_off) | no_number).select(
        "record_id", "person_id", "address_id"
    )
    one = (
        near.group_by("person_id")
        .agg(pl.col("address_id").unique())
        .filter(pl.col("address_id").list.len() == 1)
    )
    return (
        near.join(one.select("person_id"), on="person_id")
        .select("record_id", "address_id")
        .unique("record_id")
    )


def _street_similarity(cand: pl.DataFrame) -> pl.Series:
    """street_jw: Jaro-Winkler of the two streets with their spaces taken out (0 when either
    names none). Computed once per distinct pair of different streets (equal ones score 1.0):
    a Python string per candidate row would be most of the person step's memory."""
    a = pl.col("addr_street").str.replace_all(" ", "").alias("a")
    b = pl.col("addr_street_c").str.replace_all(" ", "").alias("b")
    keys = cand.select(a, b)
    differ = keys.filter(pl.col("a") != pl.col("b")).unique(maintain_order=True)
    jw = process.cpdist(
        differ["a"].to_list(), differ["b"].to_list(), scorer=JaroWinkler.normalized_similarity
    )
    scored = differ.with_columns(pl.Series("jw", jw))
    return (
        keys.join(scored, on=["a", "b"], how="left", maintain_order="left")
        .select(
            pl.when(pl.col("a").is_null() | pl.col("b").is_null())
            .then(0.0)
            .when(pl.col("a") == pl.col("b"))
            .then(1.0)
            .otherwise(pl.col("jw"))
            .cast(pl.Float64)
            .alias("street_jw")
        )
        .to_series()
    )


def _apply(frame: pl.DataFrame, changed: pl.DataFrame) -> pl.DataFrame:
    """frame with address_id and resolved_by replaced for the records in ``changed`` (record_id,
    address_id, resolved_by); only those two columns are rewritten, the rest stay shared."""
    ids, new_id, new_by = changed["record_id"], changed["address_id"], changed["resolved_by"]
    rid = pl.col("record_id")
    return frame.with_columns(
        rid.replace_strict(ids, new_id, default=pl.col("address_id")).alias("address_id"),
        rid.replace_strict(ids, new_by, default=pl.col("resolved_by")).alias("resolved_by"),
    )


def _update_result(
    result: AddressResult, joined: pl.DataFrame, placed: pl.DataFrame, std: pl.DataFrame
) -> AddressResult:
    """The stage's tables after the person step: records re-pointed, variants of a joined
    entity moved to the entity it joined, the placed records' forms as new variants, entities'
    record and variant counts recounted (an entity joined into another disappears)."""
    records = _repoint(result.records, joined).drop("to")
    records = _apply(records, placed.with_columns(pl.lit("person").alias("resolved_by")))
    counts = records.drop_nulls("address_id").group_by("address_id").len("n")
    moved = _repoint(result.variants, joined).drop("to")
    new_forms = (
        std.select("record_id", *PART_COLUMNS.values(), "addr_postcode")
        .join(placed.rename({"address_id": "to"}), on="record_id")
        .group_by(
            pl.col("to").alias("address_id"),
            canonical_text("addr_").alias("variant"),
            pl.col("addr_postcode").alias("postcode"),
        )
        .agg(pl.len().cast(moved.schema["records"]).alias("records"))
        .with_columns(pl.lit("person").alias("resolved_by"))
    )
    variants = pl.concat([moved, new_forms.select(moved.columns)])
    # a form whose records all moved elsewhere names no entity any more
    variants = variants.join(counts.select("address_id"), on="address_id").sort(
        ["address_id", "records"], descending=[False, True]
    )
    n_variants = variants.group_by("address_id").len("nv")
    addresses = (
        result.addresses.join(counts, on="address_id")
        .join(n_variants, on="address_id", how="left")
        .with_columns(
            pl.col("n").cast(result.addresses.schema["records"]).alias("records"),
            pl.col("nv").fill_null(0).cast(result.addresses.schema["variants"]).alias("variants"),
        )
        .select(result.addresses.columns)
    )
    return AddressResult(records, addresses, variants, result.gazetteer_share)
