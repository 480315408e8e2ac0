"""Standardise canonical records for linkage: names, dates, sex, postcodes, addresses, identifiers.

``standardise(records)`` adds the columns of docs/contracts.md section 3 and leaves the raw
columns as they were. Every function is a polars expression over whole columns (phonetic keys
are computed once per distinct value), idempotent, and never raises on any string.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import jellyfish
import polars as pl

from familymatch.identifiers import nino_expr, upn_expr

POSTCODE_PATTERN = r"^(GIR 0AA|[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2})$"
ADDRESS_WORDS = {
    "RD": "ROAD",
    "ST": "STREET",
    "STR": "STREET",
    "AVE": "AVENUE",
    "AV": "AVENUE",
    "CL": "CLOSE",
    "CRES": "CRESCENT",
    "CR": "CRESCENT",
    "DR": "DRIVE",
    "GDNS": "GARDENS",
    "GDN": "GARDEN",
    "LN": "LANE",
    "PL": "PLACE",
    "SQ": "SQUARE",
    "TERR": "TERRACE",
    "TER": "TERRACE",
    "CT": "COURT",
    "HSE": "HOUSE",
    "FLT": "FLAT",
    "APT": "FLAT",
    "APARTMENT": "FLAT",
    "PK": "PARK",
    "WY": "WAY",
    "GRN": "GREEN",
    "HTS": "HEIGHTS",
    "BLDGS": "BUILDINGS",
}
SEX_CODES = {
    "M": "M",
    "MALE": "M",
    "1": "M",
    "BOY": "M",
    "F": "F",
    "FEMALE": "F",
    "2": "F",
    "GIRL": "F",
}


@lru_cache(maxsize=1)
def nickname_table() -> dict[str, str]:
    """nickname -> formal name (familymatch/data/nicknames.csv)."""
    text = (Path(__file__).parent / "data" / "nicknames.csv").read_text("utf-8")
    return {row["nickname"]: row["name"] for row in csv.DictReader(text.splitlines())}


def _null_if_empty(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.str.len_chars() == 0).then(None).otherwise(expr)


def clean_name(col: pl.Expr) -> pl.Expr:
    """Upper-case ASCII words: accents folded, apostrophes dropped, other punctuation a space."""
    e = col.str.normalize("NFKD").str.replace_all(r"[^\x00-\x7F]", "").str.to_uppercase()
    e = e.str.replace_all(r"['`]", "").str.replace_all(r"[^A-Z\- ]", " ")
    e = e.str.replace_all(r"\s*-\s*", "-").str.replace_all(r"\s+", " ").str.strip_chars(" -")
    return _null_if_empty(e)


def surname_parts(clean: pl.Expr) -> pl.Expr:
    """The parts of a double-barrelled or multi-word surname."""
    return (
        clean.str.replace_all("-", " ")
        .str.split(" ")
        .list.eval(pl.element().filter(pl.element() != ""))
    )


def phonetic(col: pl.Expr) -> pl.Expr:
    """jellyfish metaphone, computed once per distinct value."""

    def batch(s: pl.Series) -> pl.Series:
        uniq = s.drop_nulls().unique()
        table = {v: jellyfish.metaphone(v) for v in uniq.to_list()}
        return s.replace_strict(table, default=None, return_dtype=pl.String)

    return col.map_batches(batch, return_dtype=pl.String)


def normalise_postcode(col: pl.Expr) -> pl.Expr:
    """'pl12ab' -> 'PL1 2AB': upper, one space before the inward code; null if empty."""
    s = col.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")
    spaced = pl.when(s.str.len_chars() > 3).then(
        pl.concat_str([s.str.slice(0, s.str.len_chars() - 3), pl.lit(" "), s.str.slice(-3)])
    )
    return _null_if_empty(pl.coalesce(spaced, s))


def clean_address(col: pl.Expr) -> pl.Expr:
    """Upper, punctuation removed, abbreviations expanded, postcodes inside removed."""
    e = col.str.normalize("NFKD").str.replace_all(r"[^\x00-\x7F]", "").str.to_uppercase()
    e = e.str.replace_all(r"\b[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}\b", " ")
    e = e.str.replace_all(r"[^A-Z0-9 ]", " ").str.replace_all(r"\s+", " ").str.strip_chars()
    words = e.str.split(" ").list.eval(
        pl.element().replace(ADDRESS_WORDS).filter(pl.element() != "")
    )
    return _null_if_empty(words.list.join(" "))


def address_number(addr: pl.Expr) -> pl.Expr:
    """'FLAT 3 12' from 'FLAT 3 DRAKE HOUSE 12 DRAKE ROAD'; '12A' from '12A X ROAD'."""
    flat = addr.str.extract(r"\bFLAT ([0-9]+[A-Z]?)\b", 1)
    rest = addr.str.replace(r"\bFLAT [0-9]+[A-Z]?\b", "")
    house = rest.str.extract(r"\b([0-9]+[A-Z]?)\b", 1)
    return (
        pl.when(flat.is_not_null() & house.is_not_null())
        .then(pl.format("FLAT {} {}", flat, house))
        .when(flat.is_not_null())
        .then(pl.format("FLAT {}", flat))
        .otherwise(house)
    )


def standardise(records: pl.DataFrame) -> pl.DataFrame:
    """Add the standardised columns (docs/contracts.md section 3)."""
    nick = nickname_table()
    fore = clean_name(pl.col("forename"))
    fore_tokens = fore.str.replace_all("-", "").str.split(" ")
    out = records.with_columns(
        _null_if_empty(fore_tokens.list.first().fill_null("")).alias("fn"),
        _null_if_empty(
            pl.concat_str(
                [fore_tokens.list.slice(1).list.join(" "), clean_name(pl.col("middle_names"))],
                separator=" ",
                ignore_nulls=True,
            )
            .str.replace_all("-", "")
            .str.strip_chars()
        ).alias("mn"),
        clean_name(pl.col("surname")).alias("__sn"),
        _null_if_empty(
            pl.col("sex").str.strip_chars().str.to_uppercase().replace_strict(SEX_CODES, default="")
        ).alias("__sex"),
        normalise_postcode(pl.col("postcode")).alias("pc"),
        clean_address(pl.col("address")).alias("addr"),
        nino_expr(pl.col("nino")).alias("nino_std"),
        upn_expr(pl.col("upn")).alias("upn_std"),
        (
            (pl.col("dob").dt.day() <= 12) & (pl.col("dob").dt.day() != pl.col("dob").dt.month())
        ).alias("dob_swappable"),
    )
    out = out.with_columns(
        surname_parts(pl.col("__sn")).alias("sn_parts"),
        pl.col("__sn").str.replace_all(r"[\- ]", "").alias("sn"),
        pl.col("fn").replace(nick).alias("fn_canon"),
        pl.col("pc").str.contains(POSTCODE_PATTERN).fill_null(False).alias("pc_valid"),
        address_number(pl.col("addr")).alias("addr_num"),
    )
    outward = pl.col("pc").str.extract(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) [0-9][A-Z]{2}$", 1)
    out = out.with_columns(
        pl.when(pl.col("pc_valid"))
        .then(pl.format("{} {}", outward, pl.col("pc").str.slice(-3, 1)))
        .alias("pc_sector"),
        pl.when(pl.col("pc_valid")).then(outward).alias("pc_district"),
        pl.when(pl.col("pc_valid")).then(outward.str.extract(r"^([A-Z]{1,2})", 1)).alias("pc_area"),
        phonetic(pl.col("fn_canon")).alias("fn_phon"),
        phonetic(pl.col("sn")).alias("sn_phon"),
        pl.concat_str(
            [
                pl.when(pl.col("nino").is_not_null() & pl.col("nino_std").is_null()).then(
                    pl.lit("nino_invalid")
                ),
                pl.when(pl.col("upn").is_not_null() & pl.col("upn_std").is_null()).then(
                    pl.lit("upn_invalid")
                ),
                pl.when(pl.col("pc").is_not_null() & ~pl.col("pc_valid")).then(
                    pl.lit("postcode_invalid")
                ),
            ],
            separator=",",
            ignore_nulls=True,
        ).alias("id_problems"),
    )
    return out.with_columns(
        _null_if_empty(pl.col("id_problems")).alias("id_problems"),
        pl.col("__sex").alias("sex"),
    ).drop("__sn", "__sex")
