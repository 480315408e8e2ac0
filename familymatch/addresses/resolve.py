"""Resolve parsed addresses into address entities by matching.

The unit of work is a *variant*: one distinct parsed address (with its UPRN when a record carries
one, or a gazetteer row). Variants are joined by edges; the connected components are the address
entities. Each edge has a kind, strongest first:

- ``uprn``: the same UPRN (a UPRN is evidence that two address strings are one address);
- ``exact``: the same postcode, flat, house number and street name;
- ``fuzzy``: the same postcode, flat and number with a street name that is a misspelling of the
  other (Jaro-Winkler or Indel similarity >= 0.88, street types not contradicting), or the same
  street, flat and number with a postcode one character off (a slip), or the same postcode,
  flat and street with two digits of the number swapped (a keying slip written once), or the
  same postcode, flat and building name where one side leaves out the building's only number,
  or the same postcode, flat and number where one side leaves out the street (nothing, or a
  place's name, in its place) and the postcode is written with one street at several numbers;
- ``street-only``: no usable postcode, and the street, flat and number name exactly one entity of
  a street whose name is found in one postcode district only.

Every block keeps the flat as part of its key, so two flats of one building never join; a bare
building number (``17 X ROAD`` where flats of 17 are known) places nobody: its records get no
address entity, and the person's other evidence decides where they live.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import Indel, JaroWinkler

STRONG = {"uprn": 0, "gazetteer": 1, "exact": 2, "fuzzy": 3, "street-only": 4}
STREET_SIMILAR = 0.88
PC_PATTERN = r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$"


def _pairs(variants: pl.DataFrame, on: list[str], carry: tuple[str, ...] = ()) -> pl.DataFrame:
    """v_l < v_r pairs of variants agreeing on every column of ``on`` (none of them null), with
    the columns ``carry`` of each side (the right's suffixed _r)."""
    side = variants.drop_nulls(on)
    left = side.select("v", *on, *carry)
    return left.join(left, on=on, suffix="_r").filter(pl.col("v") < pl.col("v_r"))


def _edges_uprn(variants: pl.DataFrame) -> pl.DataFrame:
    first = variants.drop_nulls("uprn").group_by("uprn").agg(pl.col("v").min().alias("v0"))
    return (
        variants.join(first, on="uprn")
        .filter(pl.col("v") != pl.col("v0"))
        .select(pl.col("v0").alias("a"), pl.col("v").alias("b"), pl.lit("uprn").alias("kind"))
    )


def _edges_same_number(variants: pl.DataFrame) -> pl.DataFrame:
    """Same postcode, flat and number: the street names decide (equal, or a misspelling)."""
    keyed = variants.filter(pl.col("pc_ok")).with_columns(pl.col("flat").fill_null(""))
    names = keyed.select("v", "sname", "stype", "street")
    pairs = (
        _pairs(keyed, ["pc", "flat", "number"])
        .join(names, on="v")
        .join(names.rename(lambda c: c + "_r"), on="v_r")
    )
    # a street type written by one side only is no disagreement; two different ones are
    same_type = (pl.col("stype") == pl.col("stype_r")).fill_null(True)
    # a space lost or added inside the name ("HAMLANE", "VICT ORIA TERRACE") is the same street
    squashed = pl.col("street").str.replace_all(" ", "") == pl.col("street_r").str.replace_all(
        " ", ""
    )
    spaced = pairs.filter(squashed.fill_null(False) & (pl.col("street") != pl.col("street_r")))
    both = pairs.drop_nulls(["sname", "sname_r"]).filter(same_type)
    a, b = both["sname"].to_list(), both["sname_r"].to_list()
    both = both.with_columns(
        pl.Series("jw", process.cpdist(a, b, scorer=JaroWinkler.normalized_similarity)),
        pl.Series("indel", process.cpdist(a, b, scorer=Indel.normalized_similarity)),
    )
    # Jaro-Winkler forgives a slip late in the name, Indel a letter lost at its start
    # (a street name starting with a digit is a number parsed out of place: no fuzzy match)
    parsed_well = ~pl.col("sname").str.contains(r"^[0-9]") & ~pl.col("sname_r").str.contains(
        r"^[0-9]"
    )
    similar = parsed_well & ((pl.col("jw") >= STREET_SIMILAR) | (pl.col("indel") >= STREET_SIMILAR))
    return (
        pl.concat([both.filter(similar).drop("jw", "indel"), spaced])
        .unique(["v", "v_r"])
        .select(
            pl.col("v").alias("a"),
            pl.col("v_r").alias("b"),
            pl.when(pl.col("street") == pl.col("street_r"))
            .then(pl.lit("exact"))
            .otherwise(pl.lit("fuzzy"))
            .alias("kind"),
        )
    )


def _postcode_distance(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """Characters that differ position by position (a missing character differs)."""
    return pl.sum_horizontal(
        (a.str.slice(i, 1) != b.str.slice(i, 1)).fill_null(True).cast(pl.Int32) for i in range(8)
    )


SlipPairs = Callable[[pl.DataFrame], tuple[pl.DataFrame, pl.DataFrame]]


def _edges_postcode_slip(variants: pl.DataFrame, pairs: SlipPairs | None = None) -> pl.DataFrame:
    """Same street, flat and number; the postcodes one character apart, and one of them a slip:
    that postcode is written with this street at this one number only, and the other at several
    numbers or by more records (two streets of one name in one sector are two postcode units,
    each with its own houses; a gazetteer lists all of them). A neighbouring unit's postcode
    (the unit's two letters wrong, the sector right) is a slip too when the slipped side is no
    listed address (no UPRN, not the gazetteer's), has no one-character candidate and is the
    only postcode slipping onto that address (two would mean a second address there). So is a
    postcode of another street in the same district (the postcode written with this street at
    this one number only, and with another street at several; the other side's postcode is
    this street's own, and no locality written differently), under the same three conditions.

    Only pairs that may be either are made (``pairs``, by default ``_slip_pairs``): a street name
    found in every town ("1 CHURCH ROAD") pairs within its postcodes' neighbourhood, not across
    the county."""
    keyed = variants.filter(pl.col("pc_ok")).with_columns(pl.col("flat").fill_null(""))
    houses = _houses(keyed)
    one_apart, district = (pairs or _slip_pairs)(keyed)
    listed = pl.col("uprn").is_not_null() | pl.col("gaz")
    pcs = keyed.select(
        "v", "pc", "sector", "street", "locality", "town", "n", listed.alias("listed")
    )
    pcs = pcs.join(houses, on=["pc", "street"]).drop("street")
    r_pcs = pcs.rename(lambda c: c + "_r")

    def is_slip(a: str, b: str) -> pl.Expr:  # a is the slip of b
        return (pl.col("houses" + a) == 1) & (
            (pl.col("houses" + b) > 1) | (pl.col("n" + a) < pl.col("n" + b))
        )

    first = (
        one_apart.join(pcs, on="v")
        .join(r_pcs, on="v_r")
        .filter(is_slip("", "_r") | is_slip("_r", ""))
    )
    taken = pl.concat([first["v"], first["v_r"]]).implode()

    def borrowed(a: str, b: str) -> pl.Expr:  # a carries another street's postcode; b its own
        return (
            (pl.col("houses" + a) == 1)
            & (pl.col("other" + a) >= 2)
            & (pl.col("houses" + b) >= pl.col("other" + b))
            & ~_places_differ()
        )

    same_sector = pl.col("sector") == pl.col("sector_r")
    unit = district.join(pcs, on="v").join(r_pcs, on="v_r")
    unit = pl.concat(
        unit.filter(
            ((same_sector & is_slip(a, b)) | borrowed(a, b))
            & ~pl.col("listed" + a)
            & ~pl.col("v" + a).is_in(taken)
        ).select(
            pl.col("v" + a).alias("s"),
            pl.col("v" + b).alias("t"),
            pl.col("pc" + a).alias("pc_s"),
            pl.col("pc" + b).alias("pc_t"),
        )
        for a, b in (("", "_r"), ("_r", ""))
    )
    # two unlisted postcodes slipping onto one address: one of them is a second address there
    # (onto one address: the targets' postcode, as its forms, a gazetteer's among them, are
    # several variants of it)
    unique = (pl.col("pc_s").n_unique().over("t") == 1) & (pl.col("pc_t").n_unique().over("s") == 1)
    unit = unit.filter(unique).select(pl.col("s").alias("v"), pl.col("t").alias("v_r"))
    return pl.concat([first.select("v", "v_r"), unit]).select(
        pl.col("v").alias("a"), pl.col("v_r").alias("b"), pl.lit("fuzzy").alias("kind")
    )


def _slip_pairs(keyed: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """v < v_r pairs of the same street, flat and number: (1) whose postcodes are one character
    apart, (2) whose postcodes are of one district and more than one character apart.

    (1) is joined once per position of the postcode on the postcode with that position's
    character masked: two valid postcodes one character apart have one length (the inward code
    is the last four characters), so they agree everywhere else. Neither join grows with the
    square of the county: each pairs a street's houses of one postcode neighbourhood only."""
    key = ["street", "flat", "number"]
    side = keyed.drop_nulls(key).select("v", *key, "pc")
    pc = pl.col("pc")
    one_apart = pl.concat(
        _pairs(
            side.filter(pc.str.len_chars() > i).with_columns(
                pl.concat_str([pc.str.slice(0, i), pc.str.slice(i + 1)], separator="?").alias(
                    "masked"
                )
            ),
            [*key, "masked"],
            carry=("pc",),
        ).filter(pl.col("pc") != pl.col("pc_r"))
        for i in range(8)
    ).select("v", "v_r")
    district = _pairs(keyed, [*key, "district"], carry=("pc",)).filter(
        _postcode_distance(pl.col("pc"), pl.col("pc_r")) != 1
    )
    return one_apart, district.select("v", "v_r")


def _places_differ() -> pl.Expr:
    """The two sides name different places: the locality and town written by each ("TAMERTON
    FOLIOT, PLYMOUTH") are both there and neither holds the other ("PLYMOUTH" does not differ
    from "STOKE PLYMOUTH"; "LAIRA PLYMOUTH" differs from "EFFORD PLYMOUTH")."""
    a, b = (
        pl.concat_str(["locality" + s, "town" + s], separator=" ", ignore_nulls=True)
        for s in ("", "_r")
    )
    holds = a.str.contains(b, literal=True) | b.str.contains(a, literal=True)
    return (~holds & (a != "") & (b != "")).fill_null(False)


def _houses(keyed: pl.DataFrame) -> pl.DataFrame:
    """pc, street, houses (numbers written with this postcode and street), other (the most
    numbers written with this postcode and any other street; 0 when none)."""
    houses = keyed.group_by("pc", "street").agg(pl.col("number").n_unique().alias("houses"))
    other = (
        houses.join(houses, on="pc", suffix="_o", nulls_equal=True)
        .filter(pl.col("street").ne_missing(pl.col("street_o")))
        .group_by("pc", "street")
        .agg(pl.col("houses_o").max().alias("other"))
    )
    return houses.join(other, on=["pc", "street"], how="left", nulls_equal=True).with_columns(
        pl.col("other").fill_null(0)
    )


def _transposed(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """Two house numbers of the same digits with two neighbouring digits swapped (27 / 72)."""
    differ = pl.sum_horizontal(
        (a.str.slice(i, 1) != b.str.slice(i, 1)).cast(pl.Int32) for i in range(4)
    )
    swap = pl.any_horizontal(
        (a.str.slice(i, 1) == b.str.slice(i + 1, 1))
        & (a.str.slice(i + 1, 1) == b.str.slice(i, 1))
        & (a.str.slice(i, 1) != a.str.slice(i + 1, 1))
        for i in range(3)
    )
    digits = a.str.contains(r"^[0-9]{2,4}$") & b.str.contains(r"^[0-9]{2,4}$")
    return digits & (a.str.len_chars() == b.str.len_chars()) & (differ == 2) & swap


def _edges_number_slip(variants: pl.DataFrame) -> pl.DataFrame:
    """Same postcode, flat and street; the numbers' digits swapped, one form written by a single
    record, the other by several, and the single one outside the range of numbers written with
    that postcode and street (a postcode unit covers a run of neighbouring houses) and not a
    gazetteer address."""
    keyed = variants.filter(pl.col("pc_ok")).with_columns(pl.col("flat").fill_null(""))
    as_int = pl.col("number").str.extract(r"^([0-9]+)", 1).cast(pl.Int64)
    runs = (
        keyed.filter(pl.col("n") >= 2)
        .group_by("pc", "street")
        .agg(as_int.min().alias("lo"), as_int.max().alias("hi"))
    )
    keyed = keyed.join(runs, on=["pc", "street"], how="left").with_columns(
        as_int.is_between(pl.col("lo"), pl.col("hi")).fill_null(False).alias("inside")
    )
    listed = keyed.filter(pl.col("gaz")).select("pc", "flat", "street", "number").unique()
    keyed = keyed.join(
        listed.with_columns(pl.lit(True).alias("listed")),
        on=["pc", "flat", "street", "number"],
        how="left",
    ).with_columns(pl.col("listed").fill_null(False))
    side = keyed.drop_nulls("street").select(
        "v", "pc", "flat", "street", "number", "n", "listed", "inside"
    )
    # each side narrowed before the join: the single unlisted form outside the run, the forms
    # written several times
    single = side.filter((pl.col("n") == 1) & ~pl.col("listed") & ~pl.col("inside"))
    several = side.filter(pl.col("n") >= 2).select("v", "pc", "flat", "street", "number")
    pairs = single.join(several, on=["pc", "flat", "street"], suffix="_r").filter(
        _transposed(pl.col("number"), pl.col("number_r"))
    )
    return pairs.select(
        pl.col("v").alias("a"), pl.col("v_r").alias("b"), pl.lit("fuzzy").alias("kind")
    )


def _edges_building(variants: pl.DataFrame) -> pl.DataFrame:
    """Same postcode, flat and building name, streets not contradicting (equal, or one left
    out): equal numbers, or one side leaves out the building's only number."""
    keyed = variants.filter(pl.col("pc_ok")).with_columns(pl.col("flat").fill_null(""))
    numbers = (
        keyed.drop_nulls(["building", "number"])
        .group_by("pc", "flat", "building")
        .agg(pl.col("number").n_unique().alias("numbers"))
    )
    pairs = _pairs(keyed, ["pc", "flat", "building"]).join(
        numbers, on=["pc", "flat", "building"], how="left"
    )
    num = keyed.select("v", "number", "street")
    pairs = pairs.join(num, on="v").join(num.rename(lambda c: c + "_r"), on="v_r")
    one_missing = pl.col("number").is_null() != pl.col("number_r").is_null()
    same_number = (pl.col("number") == pl.col("number_r")).fill_null(False)
    both_missing = pl.col("number").is_null() & pl.col("number_r").is_null()
    streets_agree = (pl.col("street") == pl.col("street_r")).fill_null(True)
    return pairs.filter(
        streets_agree & (same_number | both_missing | (one_missing & (pl.col("numbers") == 1)))
    ).select(pl.col("v").alias("a"), pl.col("v_r").alias("b"), pl.lit("fuzzy").alias("kind"))


def _edges_building_number_left_out(variants: pl.DataFrame) -> pl.DataFrame:
    """A flat written with its building's name and street but not the building's number
    ("ARMADA TOWER, FLAT 2 / COBOURG ROAD") joins the numbered forms of that flat at the same
    postcode and street ("2/31 COBOURG ROAD", "FLAT 2, ARMADA TOWER, 31 COBOURG ROAD") when they
    name one number: those naming the same building when there are any, else those naming none
    at a number where no other building's name is written. Two numbers: not guessed; a form
    with a UPRN of its own (a listed address) stays itself."""
    keyed = variants.filter(pl.col("pc_ok") & pl.col("flat").is_not_null()).drop_nulls("street")
    key = ["pc", "flat", "street"]
    loose = keyed.filter(pl.col("number").is_null() & pl.col("uprn").is_null() & ~pl.col("gaz"))
    numbered = keyed.drop_nulls("number").select("v", *key, "number", "building")
    names = (
        variants.drop_nulls(["pc", "street", "number", "building"])
        .group_by("pc", "street", "number")
        .agg(pl.col("building").unique().alias("names"))
    )
    pairs = (
        loose.drop_nulls("building")
        .select("v", *key, "building")
        .join(numbered, on=key, suffix="_r")
        .join(names, on=["pc", "street", "number"], how="left")
    )
    same = (pl.col("building") == pl.col("building_r")).fill_null(False)
    names_it = pl.col("names").list.contains(pl.col("building")).fill_null(False)
    other_named = pl.col("names").list.len().fill_null(0) - names_it.cast(pl.UInt32)
    unnamed = pl.col("building_r").is_null() & (other_named == 0)
    pairs = pairs.filter(same | unnamed).with_columns(same.any().over("v").alias("named"))
    pairs = pairs.filter(same | ~pl.col("named"))
    return pairs.filter(pl.col("number").n_unique().over("v") == 1).select(
        pl.col("v_r").alias("a"), pl.col("v").alias("b"), pl.lit("fuzzy").alias("kind")
    )


def _edges_street_left_out(variants: pl.DataFrame) -> pl.DataFrame:
    """Same postcode, flat and number where one side names no street (none, or a line without a
    street word that is written with this postcode at this one number only: a locality or town
    in the street's place) and the other names the one street that the postcode is written with
    at several numbers, for this flat and number."""
    keyed = variants.filter(pl.col("pc_ok")).with_columns(pl.col("flat").fill_null(""))
    houses = keyed.group_by("pc", "street").agg(pl.col("number").n_unique().alias("houses"))
    keyed = keyed.join(houses, on=["pc", "street"], how="left", nulls_equal=True)
    key = ["pc", "flat", "number"]
    anchor = keyed.filter(pl.col("houses") >= 2).drop_nulls(["street", "number"])
    one_street = anchor.group_by(key).agg(
        pl.col("street").n_unique().alias("streets"), pl.col("v").min().alias("a")
    )
    no_street = pl.col("street").is_null() | (pl.col("stype").is_null() & (pl.col("houses") == 1))
    stray = keyed.filter(no_street).drop_nulls("number").select("v", *key)
    return (
        stray.join(one_street.filter(pl.col("streets") == 1), on=key)
        .filter(pl.col("v") != pl.col("a"))
        .select("a", pl.col("v").alias("b"), pl.lit("fuzzy").alias("kind"))
    )


def components(nodes: pl.Series, edges: pl.DataFrame) -> pl.DataFrame:
    """v, root (the smallest v of its component) by label propagation over undirected edges."""
    labels = pl.DataFrame({"v": nodes}).with_columns(pl.col("v").alias("root"))
    both = pl.concat(
        [edges.select("a", "b"), edges.select(pl.col("b").alias("a"), pl.col("a").alias("b"))]
    )
    while True:
        best = (
            both.join(labels, left_on="b", right_on="v")
            .group_by("a")
            .agg(pl.col("root").min().alias("r"))
        )
        new = labels.join(best, left_on="v", right_on="a", how="left").with_columns(
            pl.min_horizontal("root", "r").alias("root")
        )
        if (new["root"] == labels["root"]).all():
            return labels
        labels = new.select("v", "root")


def match_variants(variants: pl.DataFrame) -> pl.DataFrame:
    """variants (v, pc, pc_ok, sector, district, flat, number, building, street, sname, stype,
    uprn, gaz) ->
    v, root, kind (the strongest edge that joined the variant; null if joined to nothing)."""
    edges = pl.concat(
        [
            _edges_uprn(variants),
            _edges_same_number(variants),
            _edges_postcode_slip(variants),
            _edges_number_slip(variants),
            _edges_building(variants),
            _edges_building_number_left_out(variants),
            _edges_street_left_out(variants),
        ]
    )
    comp = components(variants["v"], edges)
    # a component joined by street follows as a whole (its own variants may share a UPRN)
    street = _edges_street_only(variants, comp)
    moved = street.join(comp, on="v").group_by("root").agg(pl.col("by_street").min())
    street_v = street.select("v", pl.lit(True).alias("by_st"))
    comp = (
        comp.join(moved, on="root", how="left")
        .join(street_v, on="v", how="left")
        .with_columns(pl.coalesce("by_street", "root").alias("root"))
    )
    kinds = (
        pl.concat(
            [
                edges.select(pl.col("a").alias("v"), "kind"),
                edges.select(pl.col("b").alias("v"), "kind"),
            ]
        )
        .with_columns(pl.col("kind").replace_strict(STRONG, return_dtype=pl.Int32).alias("rank"))
        .sort("rank")
        .group_by("v", maintain_order=True)
        .first()
        .select("v", "kind")
    )
    return (
        comp.join(kinds, on="v", how="left")
        .with_columns(
            pl.when(pl.col("by_st").fill_null(False))
            .then(pl.lit("street-only"))
            .otherwise(pl.col("kind"))
            .alias("kind")
        )
        .select("v", "root", "kind")
    )


def _edges_street_only(variants: pl.DataFrame, comp: pl.DataFrame) -> pl.DataFrame:
    """v, by_street: a variant without a usable postcode joins the one entity with its street,
    flat and number, when that uniqueness means something: the street's name is found in one
    postcode district only, or a gazetteer lists every address of the city."""
    key = ["street", "flat", "number"]
    placed = (
        variants.filter(pl.col("pc_ok"))
        .drop_nulls(["street", "number"])
        .join(comp, on="v")
        .with_columns(pl.col("flat").fill_null(""))
    )
    complete = variants["gaz"].any()
    streets = placed if complete else placed.join(one_district_streets(variants), on="street")
    unique = (
        streets.group_by(key)
        .agg(pl.col("root").n_unique().alias("n"), pl.col("root").first().alias("by_street"))
        .filter(pl.col("n") == 1)
        .drop("n")
    )
    loose = (
        variants.filter(~pl.col("pc_ok"))
        .drop_nulls(["street", "number"])
        .with_columns(pl.col("flat").fill_null(""))
    )
    return loose.join(unique, on=key).select("v", "by_street")


def one_district_streets(variants: pl.DataFrame) -> pl.DataFrame:
    """street: the streets whose name is written with postcodes of one district only."""
    return (
        variants.filter(pl.col("pc_ok"))
        .drop_nulls("street")
        .group_by("street")
        .agg(pl.col("district").n_unique().alias("d"))
        .filter(pl.col("d") == 1)
        .select("street")
    )


def unplaced(variants: pl.DataFrame, matched: pl.DataFrame) -> pl.Series:
    """Variants that name no one address, so place nobody:

    - a building's number without the flat where the building's flats are established (two or
      more flats, a gazetteer's flat, or flat records outnumbering the bare number's) at the same
      postcode with a street not contradicting (or the same street when the variant has no
      postcode), unless it has a UPRN of its own (a gazetteer house); one stray "FLAT 4" among
      many records of a house does not make the house a building of flats;
    - without a usable postcode and joined to no entity that has one, on a street whose name is
      found in several postcode districts (any of them may be meant)."""
    with_uprn = (
        variants.join(matched, on="v")
        .group_by("root")
        .agg(pl.col("uprn").is_not_null().any().alias("u"), pl.col("pc_ok").any().alias("root_pc"))
    )
    v = variants.join(matched, on="v").join(with_uprn, on="root")
    bare = v.filter(pl.col("flat").is_null() & ~pl.col("u")).drop_nulls("number")
    flats = variants.filter(pl.col("flat").is_not_null()).drop_nulls("number")
    established = (
        (pl.col("flats") >= 2) | pl.col("listed") | (pl.col("flat_records") >= pl.col("n"))
    )
    on_street = (pl.col("street") == pl.col("street_f")).fill_null(True)
    hit_pc = (
        bare.filter(pl.col("pc_ok"))
        .join(_buildings(flats, ["pc", "number"]), on=["pc", "number"])
        .filter(on_street & established)
    )
    hit_street = (
        bare.filter(~pl.col("pc_ok"))
        .join(_buildings(flats, ["street", "number"]), on=["street", "number"])
        .filter(established)
    )
    adrift = v.filter(~pl.col("root_pc") & ~pl.col("u")).join(
        one_district_streets(variants), on="street", how="anti"
    )
    return pl.concat([hit_pc["v"], hit_street["v"], adrift["v"]]).unique()


def _buildings(flats: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """Per building (key, and its street as street_f): distinct flats, their records, and
    whether the gazetteer lists one."""
    streets = [] if "street" in key else ["street"]
    return (
        flats.group_by(*key, *streets)
        .agg(
            pl.col("flat").n_unique().alias("flats"),
            pl.col("n").sum().alias("flat_records"),
            pl.col("gaz").any().alias("listed"),
        )
        .rename({"street": "street_f"} if streets else {})
    )


def entity_ids(roots: pl.DataFrame) -> pl.DataFrame:
    """root, address_id: the entity's UPRN when it has one, else 'A' + a hash of the entity's
    smallest variant key (stable for the same input)."""
    return roots.select(
        "root",
        pl.coalesce(
            pl.col("uprn"),
            pl.col("key").map_batches(
                lambda s: pl.Series(
                    [
                        "A" + hashlib.sha256(k.encode()).hexdigest()[:12].upper()
                        for k in s.to_list()
                    ],
                    dtype=pl.String,
                ),
                return_dtype=pl.String,
            ),
        ).alias("address_id"),
    )
