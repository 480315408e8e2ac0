"""Parse free-text UK addresses into their parts, following Royal Mail PAF's structure: a
sub-building (SAO: the flat), a building name and a house number (the PAO), a street, a locality,
a town and a postcode.

Every step is a polars expression over whole columns, run once per distinct (address, postcode)
pair. What the parser accepts is what councils' systems write, not one generator's style:

- the postcode from its column, else from the end of the text (``..., PLYMOUTH PL1 2AB``);
  a postcode repeated inside the text is dropped;
- flats written ``FLAT 3, 17 X ROAD``, ``Flt 3``, ``Apartment 3``, ``3, 17 X ROAD``,
  ``3/17 X ROAD``, ``Flat 3 / 17 X Road``, ``FLAT A``, ``GROUND FLOOR FLAT``; ``17C`` is number
  17 suffix C (and ``FLAT C, 17`` is the same address: a lettered flat of a building is written
  either way); ``3, ROSE COURT, X ROAD`` is flat 3 of a building written without its number;
- house numbers with a suffix (``17A``) or a range (``17-19``, ``17 - 19``);
- building names before the number, with or without it (``ROSE COURT 17 X ROAD``,
  ``ROSE COURT, X ROAD``);
- street types in either form, one normalisation (``RD``/``ROAD``, ``AV``/``AVE``/``AVENUE``,
  ``RSE``/``RISE``, ``WLK``/``WALK``, ``TCE``/``TERRACE``...); ``ST`` is SAINT before a name
  (``ST ANDREWS ROAD``) and STREET after one (``HIGH ST``);
- one to several address lines: the first line after the number is the street; what follows
  is locality and town (towns and localities are recognised from how the whole extract writes
  them, never from a list of one council's places).
"""

from __future__ import annotations

import polars as pl

from familymatch.standardise import normalise_postcode

STREET_TYPES = {
    "ROAD": ["RD"],
    "STREET": ["STR"],  # ST is decided by position (saint or street)
    "AVENUE": ["AV", "AVE", "AVN"],
    "CLOSE": ["CL", "CLS"],
    "CRESCENT": ["CRES", "CRESC", "CR", "CRS"],
    "DRIVE": ["DR", "DRV"],
    "GARDENS": ["GDNS", "GDN", "GNS"],
    "LANE": ["LN", "LA"],
    "PLACE": ["PL"],
    "SQUARE": ["SQ"],
    "TERRACE": ["TCE", "TER", "TERR", "TRCE"],
    "COURT": ["CT", "CRT"],
    "WAY": ["WY"],
    "GREEN": ["GRN"],
    "HEIGHTS": ["HTS"],
    "WALK": ["WLK", "WK"],
    "RISE": ["RSE"],
    "ROW": [],
    "HILL": ["HL"],
    "VIEW": ["VW"],
    "MEWS": ["MWS"],
    "GROVE": ["GR", "GRO", "GRV"],
    "PARK": ["PK"],
    "PARADE": ["PDE", "PRDE"],
    "BOULEVARD": ["BLVD"],
    "CHASE": [],
    "CIRCUS": [],
    "CLOSE WALK": [],
    "END": [],
    "FIELDS": [],
    "GATE": [],
    "MEAD": [],
    "QUAY": [],
    "VALE": [],
    "WHARF": [],
    "YARD": [],
}
OTHER_WORDS = {
    "HOUSE": ["HSE"],
    "GROUND": ["GRD", "GND"],
    "FIRST": ["1ST"],
    "SECOND": ["2ND"],
    "THIRD": ["3RD"],
    "FLOOR": ["FLR"],
    "BUILDINGS": ["BLDGS", "BLDG"],
    "COTTAGES": ["COTTS"],
    "COTTAGE": ["COTT"],
    "FLAT": ["FLT", "APT", "APARTMENT", "APPT"],
    "NORTH": ["N"],
    "SOUTH": ["S"],
    "EAST": ["E"],
    "WEST": ["W"],
    "UPPER": ["UPR"],
    "LOWER": ["LWR"],
    "GREAT": ["GT"],
    "LITTLE": ["LT", "LTL"],
    "MOUNT": ["MT"],
}
# abbreviation -> full word, for every word a street or building name uses
EXPAND = {
    a: full for table in (STREET_TYPES, OTHER_WORDS) for full, abbs in table.items() for a in abbs
}
STREET_WORDS = sorted(w for w in STREET_TYPES if " " not in w)
_TYPES_RE = "|".join(STREET_WORDS)
POSTCODE_RE = r"[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}"
FLAT_WORDS = r"(?:FLAT|FLT|APARTMENT|APT|APPT|UNIT|ROOM|MAISONETTE)"
FLOORS = {
    "BASEMENT": "BF",
    "LOWER GROUND": "LGF",
    "GROUND": "GF",
    "FIRST": "1F",
    "SECOND": "2F",
    "THIRD": "3F",
    "TOP": "TOP",
    "UPPER": "UF",
}
# words that end a street's or a building's name
_NAME_ENDS = r"\b(?:" + _TYPES_RE + r"|HOUSE|BUILDINGS|COTTAGES?|TOWER|MANSIONS|LODGE|HALL)\b"
NUMBER_RE = r"[0-9]+[A-Z]?(?:-[0-9]+[A-Z]?)?"
PARTS = ["flat", "building", "number", "street", "locality", "town", "pc"]


def _blank(e: pl.Expr) -> pl.Expr:
    """Spaces collapsed, separators trimmed, null if nothing is left."""
    return e.str.replace_all(r"\s+", " ").str.strip_chars(" ,/-").replace("", None)


def _clean_text(col: pl.Expr) -> pl.Expr:
    """Upper ASCII; commas and slashes kept (they separate parts); other punctuation a space."""
    e = col.str.normalize("NFKD").str.replace_all(r"[^\x00-\x7F]", "").str.to_uppercase()
    e = e.str.replace_all(r"[\n\r;|]", ",").str.replace_all(r"[^A-Z0-9,/\- ]", " ")
    e = e.str.replace_all(r"\s*-\s*", "-").str.replace_all(r"\s*,\s*", ", ")
    e = e.str.replace_all(r"\s*/\s*", "/").str.replace_all(r"\s+", " ")
    # a number run into the street's name ("22DRAKE LANE"); "17C" keeps its suffix
    e = e.str.replace_all(r"\b([0-9]+)([A-Z]{3,})", "${1} ${2}")
    return e.str.replace_all(r"(, )+", ", ").str.strip_chars(" ,")


def _expand_words(text: pl.Expr) -> pl.Expr:
    """Abbreviations to full words; ST to SAINT before a name (at the start of a line, after the
    number or a street's type word, or before a name and a street word) and STREET after one."""
    # a postcode whose inward code reads as an ordinal (PL1 1ST, PL4 2ND) is no floor word:
    # its space goes (split_postcode reads it either way)
    text = text.str.replace_all(r"\b([A-Z]{1,2}[0-9][A-Z0-9]?) ([0-9](?:ST|ND|RD))\b", "${1}${2}")
    # word by word: commas kept as their own tokens so lines stay apart
    tokens = text.str.replace_all(",", " , ").str.split(" ")
    words = tokens.list.eval(pl.element().replace(EXPAND).filter(pl.element() != ""))
    e = words.list.join(" ").str.replace_all(" , ", ", ").str.replace_all(r" ,$", "")
    e = e.str.replace_all(r"(^|, |[0-9] |[0-9][A-Z] )ST[ -]([A-Z]{2,})", "${1}SAINT ${2}")
    # after a street's type word ST starts a place's name ("DRIVE ST JUDES")
    e = e.str.replace_all(r"\b(" + _TYPES_RE + r") ST[ -]([A-Z]{2,})", "${1} SAINT ${2}")
    e = e.str.replace_all(r"\bST[ -]([A-Z]+ (?:" + _TYPES_RE + r")\b)", "SAINT ${1}")
    return e.str.replace_all(r"\bST\b", "STREET")


def split_postcode(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(a postcode ending the text, the text without it and without any postcode inside)."""
    tail = normalise_postcode(text.str.extract(r"(?:^|[ ,])(" + POSTCODE_RE + r")$", 1))
    rest = text.str.replace(r"(?:^|[ ,]+)" + POSTCODE_RE + r"$", "")
    rest = rest.str.replace_all(r"\b" + POSTCODE_RE + r"\b", " ")
    return tail, rest


def _flat(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(flat, text without it) for every way a flat is written."""
    floor = r"\b(" + "|".join(FLOORS) + r") FLOOR(?: FLAT)?\b"
    worded = r"\b" + FLAT_WORDS + r" ?([0-9]+[A-Z]?|[A-Z])\b/?"  # FLAT 3, FLAT 3/17
    slash = r"(^|, )([0-9]+[A-Z]?|[A-Z])/([0-9])"  # 3/17 X ROAD, ROSE COURT, 3/17 X ROAD
    # a building's flat before its street, the building's number left out: ROSE COURT, 3/X ROAD
    bare_slash = r"(^|, )([0-9]+[A-Z]?)/([A-Z])"
    number = r"[0-9]+[A-Z]?(?:-[0-9]+[A-Z]?)? [A-Z]"
    comma = r"^([0-9]+[A-Z]?|[A-Z]), (" + number + ")"  # 3, 17 X ROAD
    # PAF's order written out: SAO, building name, PAO ("3, ROSE COURT, 17 X ROAD")
    named = r"^([0-9]+[A-Z]?|[A-Z]), ([A-Z][A-Z ]*[A-Z]), (" + number + ")"
    # the same without the building's number ("3, ROSE COURT, X ROAD"): the number before a
    # building's name is its flat, when the name is no street and a street follows
    unnumbered = r"^([0-9]+[A-Z]?), ([A-Z][A-Z ]*[A-Z]), [A-Z][A-Z ]* (?:" + _TYPES_RE + r")(?:,|$)"
    building = text.str.extract(unnumbered, 2)
    # a name ending in a street word ("PLYM COURT", "HOE VIEW") may be a street of its own (a
    # dependent thoroughfare): the text alone does not say; ``buildings.reread_buildings`` reads
    # it as the building's where another record of the extract names that building
    of_building = building.is_not_null() & ~building.str.contains(r"\b(?:" + _TYPES_RE + r")$")
    flat = pl.coalesce(
        text.str.extract(worded, 1),
        text.str.extract(floor, 1).replace(FLOORS),
        text.str.extract(slash, 2),
        text.str.extract(bare_slash, 2),
        text.str.extract(comma, 1),
        text.str.extract(named, 1),
        pl.when(of_building).then(text.str.extract(unnumbered, 1)),
    )
    text = pl.when(of_building).then(text.str.replace(r"^[0-9]+[A-Z]?, ", "")).otherwise(text)
    rest = (
        text.str.replace(worded, " ")
        .str.replace(floor, "")
        .str.replace(slash, "${1}${3}")
        .str.replace(bare_slash, "${1}${3}")
        .str.replace(comma, "${2}")
        .str.replace(named, "${2}, ${3}")
        .str.replace_all(r"\s+", " ")
        .str.replace_all(r"\s*,\s*", ", ")
        .str.replace(r"^[ ,/]+", "")
    )
    return flat, rest


def _position(text: pl.Expr) -> pl.Expr:
    """A flat named by its position and a number straight after it ("FIRST FLOOR FLAT 25 X
    ROAD", "THE FLAT 6 X LANE", "FLAT 24 X STREET"): the position (the floor's code, else
    FLAT); null for any other text."""
    floor = r"\b(" + "|".join(FLOORS) + r") FLOOR FLAT [0-9]+,? [A-Z]"
    plain = r"^(?:THE )?" + FLAT_WORDS + r" [0-9]+,? [A-Z]"
    return pl.coalesce(
        text.str.extract(floor, 1).replace(FLOORS),
        pl.when(text.str.contains(plain)).then(pl.lit("FLAT")),
    )


def _flat_at_number(step: pl.DataFrame) -> pl.DataFrame:
    """A flat word and a number followed by the street, with no other number and no building
    (``__pos`` set, the number taken as the flat's, nothing left for the house): the number is
    the house's and the flat is named by its position alone. Otherwise the flat would name no
    building and place nobody; with a building ("FLAT 3, ROSE COURT, X ROAD") or a second
    number ("FLAT 3 17 X ROAD") the number stays the flat's."""
    # "FLAT 3 DRAKE HOUSE BEAUMONT PLACE": a building's name run into the street (two names
    # ending in a street or building word) keeps the number as the flat's
    words = pl.col("__t").str.extract(r"^([^,]*)", 1).str.count_matches(_NAME_ENDS)
    at_number = (
        (words <= 1).fill_null(True)
        & pl.col("__pos").is_not_null()
        & pl.col("number").is_null()
        & pl.col("building").is_null()
        & pl.col("flat").str.contains(r"^[0-9]+$").fill_null(False)
    )
    rest = pl.col("__t").str.replace(r"^THE\b ?", "")
    return step.with_columns(
        pl.when(at_number).then(pl.col("flat")).otherwise("number").alias("number"),
        pl.when(at_number).then(pl.col("__pos")).otherwise("flat").alias("flat"),
        pl.when(at_number).then(rest).otherwise("__t").alias("__t"),
    ).drop("__pos")


def _pao(text: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(building name, house number, the lines after the number)."""
    num = r"(?:^|[ ,])(" + NUMBER_RE + r")(?:[ ,]|$)"
    number = text.str.extract(num, 1)
    before = text.str.extract(r"^(.*?)(?:^|[ ,])" + NUMBER_RE + r"(?:[ ,]|$)", 1)
    after = text.str.extract(r"(?:^|[ ,])" + NUMBER_RE + r"(?:[ ,]|$)(.*)$", 1)
    # without a number: a first line without a street word is a building name
    first = text.str.extract(r"^([^,]*),", 1)
    second = text.str.extract(r"^[^,]*, ([^,]*)", 1)
    street_word = r"\b(?:" + _TYPES_RE + r")$"
    named = first.is_not_null() & (
        ~first.str.contains(street_word) | second.str.contains(street_word).fill_null(False)
    )
    building = pl.when(number.is_not_null()).then(before).when(named).then(first)
    rest = (
        pl.when(number.is_not_null())
        .then(after)
        .when(named)
        .then(text.str.replace(r"^[^,]*, ", ""))
        .otherwise(text)
    )
    return _blank(building), number, _blank(rest)


def parse_addresses(frame: pl.DataFrame, places: list[str] | None = None) -> pl.DataFrame:
    """frame: address, postcode (strings) -> the same rows with PARTS added. Each distinct
    address text is parsed once; ``pc`` is the postcode column's, else the one ending the text.

    ``places``: locality and town names (upper case) to recognise at the end of a line written
    without commas; by default ``learn_places`` finds them in the addresses themselves."""
    step = (
        frame.select("address")
        .unique()
        .with_columns(_clean_text(pl.col("address")).alias("__c"))
        .with_columns(_expand_words(pl.col("__c")).alias("__t"))
    )
    if places is None:
        places = learn_places(step)
    # the postcode comes out before abbreviations are expanded: "PL1 1ST" is no FIRST
    pc_text, rest = split_postcode(pl.col("__c"))
    step = step.with_columns(pc_text.alias("__pc"), _expand_words(rest).alias("__t")).drop("__c")
    flat, rest = _flat(pl.col("__t"))
    step = step.with_columns(
        flat.alias("flat"), rest.alias("__t"), _position(pl.col("__t")).alias("__pos")
    )
    building, number, rest = _pao(pl.col("__t"))
    step = step.with_columns(building.alias("building"), number.alias("number"), rest.alias("__t"))
    step = _flat_at_number(step)
    # a lettered flat of a numbered building is the number's suffix: FLAT C, 17 = 17C
    lettered = pl.col("flat").str.contains(r"^[A-Z]$") & pl.col("number").str.contains(r"^[0-9]+$")
    step = step.with_columns(
        pl.when(lettered)
        .then(pl.col("number") + pl.col("flat"))
        .otherwise("number")
        .alias("number"),
        pl.when(lettered).then(None).otherwise("flat").alias("flat"),
    )
    parts = _lines(step, places).drop("__t")
    return (
        frame.join(parts, on="address", how="left", nulls_equal=True)
        .with_columns(pl.coalesce(normalise_postcode(pl.col("postcode")), "__pc").alias("pc"))
        .drop("__pc")
    )


def _lines(step: pl.DataFrame, places: list[str]) -> pl.DataFrame:
    """street, locality, town from the text after the number."""
    lines = pl.col("__t").str.split(", ")
    step = step.with_columns(
        lines.list.first().alias("__first"),
        _blank(lines.list.slice(1).list.join(", ")).alias("__more"),
    )
    # a first line written with its locality and town and no commas: the street ends at its
    # street word, or before the known places it ends with
    first = pl.col("__first")
    if places:
        # a line made only of places names no street ("23 TURNCHAPEL PLYMOUTH")
        place_re = r"(?:(?:^| )(?:" + "|".join(sorted(places, key=len, reverse=True)) + r"))+$"
        first = _blank(first.str.replace(place_re, ""))
    step = step.with_columns(
        pl.coalesce(first.str.extract(r"^(.*\b(?:" + _TYPES_RE + r"))\b", 1), first).alias("street")
    )
    tail_of_first = _blank(
        pl.col("__first").str.slice(pl.col("street").str.len_chars().fill_null(0))
    )
    step = step.with_columns(
        pl.concat_str([tail_of_first, pl.col("__more")], separator=", ", ignore_nulls=True)
        .replace("", None)
        .str.split(", ")
        .alias("__others")
    )
    others = pl.col("__others")
    return step.with_columns(
        _blank(pl.col("street")).alias("street"),
        pl.when(others.list.len() >= 2).then(others.list.first()).alias("locality"),
        _blank(others.list.last()).alias("town"),
    ).drop("__first", "__more", "__others")


def learn_places(texts: pl.DataFrame) -> list[str]:
    """Names written as their own line after the street (localities and towns) in at least
    three addresses: the extract's own place names. texts: __t (cleaned address texts)."""
    names = (
        texts.select(pl.col("__t").str.split(", ").list.slice(1).alias("l"))
        .explode("l")
        .drop_nulls()
        .filter(
            ~pl.col("l").str.contains(r"[0-9]")
            & ~pl.col("l").str.contains(r"\b(?:" + _TYPES_RE + r")$")
            & (pl.col("l").str.len_chars() >= 3)
        )
        .group_by("l")
        .len()
        .filter(pl.col("len") >= 3)
    )
    return sorted(names["l"].to_list())


def street_name(street: pl.Expr) -> pl.Expr:
    """The street without its type word ('DRAKE ROAD' -> 'DRAKE'): systems that drop or change
    the type still name the same street."""
    bare = street.str.replace(r" (?:" + _TYPES_RE + r")$", "")
    return _blank(bare)


def street_type(street: pl.Expr) -> pl.Expr:
    """The street's type word ('DRAKE ROAD' -> 'ROAD'), null if it has none."""
    return street.str.extract(r" (" + _TYPES_RE + r")$", 1)
