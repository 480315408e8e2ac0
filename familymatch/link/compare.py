"""Comparison vectors: for every candidate pair, a level per field (-1 = a side is missing).

String similarity runs over whole columns of pairs in compiled code (rapidfuzz.process.cpdist);
everything else is polars expressions. Levels (higher = closer):

| field | levels |
|---|---|
| fn | 4 same forename, 3 same after nicknames, 2 Jaro-Winkler >= 0.92, 1 >= 0.80, 0 else (JW the better of the raw and the nickname-resolved forenames, so a typo in a nickname still scores) |
| sn | 4 same surname, 3 one contains the other (double-barrelled), 2 JW >= 0.92, 1 >= 0.80, 0 |
| dob | 4 same, 3 day and month transposed, 2 same year and month or day (or one side the 1 January placeholder of the same year), 1 year off by one with same day and month, 0 |
| loc | 5 same postcode and house/flat number, 4 same postcode, 3 same number and similar address, 2 same sector, 1 same district, 0 |
| sex | 1 same, 0 different |
| mn | 2 same first middle name, 1 same initial, 0 different |

A forename/surname swap (fn = other's sn and sn = other's fn) scores fn 3 and sn 3.

Term frequencies: when the standardised frame carries ``sn_tf`` / ``fn_tf`` (the share of distinct
people with the record's surname / forename, see ``model.attach_term_frequencies``), the levels
frame carries them for the pairs that agree exactly (``sn_tf``, ``fn_tf``; null otherwise), as
Float32: the pairs keep numbers, not strings, so millions of pairs stay small.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

FIELDS: dict[str, int] = {"fn": 5, "sn": 5, "dob": 5, "loc": 6, "sex": 2, "mn": 3}
COMPARE_COLUMNS = (
    "fn",
    "fn_canon",
    "sn",
    "mn",
    "dob",
    "sex",
    "pc",
    "pc_sector",
    "pc_district",
    "addr",
    "addr_num",
)
TF_COLUMNS = ("sn_tf", "fn_tf")


def _jw(left: pl.Series, right: pl.Series) -> np.ndarray:
    a = left.fill_null("").to_numpy()
    b = right.fill_null("").to_numpy()
    if len(a) == 0:
        return np.zeros(0, dtype=np.float64)
    return process.cpdist(a, b, scorer=JaroWinkler.normalized_similarity, workers=-1)


def pair_frame(std: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """The compared columns of both sides of every pair (suffixes _l and _r)."""
    tf = [c for c in TF_COLUMNS if c in std.columns]
    cols = std.select(["__i", *COMPARE_COLUMNS, *tf])
    left = cols.rename({c: f"{c}_l" for c in cols.columns})
    right = cols.rename({c: f"{c}_r" for c in cols.columns})
    return pairs.join(left, left_on="i", right_on="__i_l", how="left").join(
        right, left_on="j", right_on="__i_r", how="left"
    )


def comparison_levels(pf: pl.DataFrame) -> pl.DataFrame:
    """i, j and one Int8 level column per field of FIELDS."""
    fn_jw = pl.Series(
        "fn_jw",
        np.maximum(_jw(pf["fn_canon_l"], pf["fn_canon_r"]), _jw(pf["fn_l"], pf["fn_r"])),
    )
    sn_jw = pl.Series("sn_jw", _jw(pf["sn_l"], pf["sn_r"]))
    addr_jw = pl.Series("addr_jw", _jw(pf["addr_l"], pf["addr_r"]))
    pf = pf.with_columns(fn_jw, sn_jw, addr_jw)
    c = pl.col
    both = lambda n: c(f"{n}_l").is_not_null() & c(f"{n}_r").is_not_null()  # noqa: E731
    swapped = (c("fn_l") == c("sn_r")) & (c("sn_l") == c("fn_r")) & (c("fn_l") != c("sn_l"))
    fn = (
        pl.when(~both("fn"))
        .then(-1)
        .when(c("fn_l") == c("fn_r"))
        .then(4)
        .when(swapped | (c("fn_canon_l") == c("fn_canon_r")))
        .then(3)
        .when(c("fn_jw") >= 0.92)
        .then(2)
        .when(c("fn_jw") >= 0.80)
        .then(1)
        .otherwise(0)
    )
    contains = (
        (c("sn_l").str.len_chars() >= 4)
        & (c("sn_r").str.len_chars() >= 4)
        & (
            c("sn_l").str.contains(c("sn_r"), literal=True)
            | c("sn_r").str.contains(c("sn_l"), literal=True)
        )
    )
    sn = (
        pl.when(~both("sn"))
        .then(-1)
        .when(c("sn_l") == c("sn_r"))
        .then(4)
        .when(swapped | contains)
        .then(3)
        .when(c("sn_jw") >= 0.92)
        .then(2)
        .when(c("sn_jw") >= 0.80)
        .then(1)
        .otherwise(0)
    )
    dl, dr = c("dob_l"), c("dob_r")
    transposed = (
        (dl.dt.year() == dr.dt.year())
        & (dl.dt.day() == dr.dt.month())
        & (dl.dt.month() == dr.dt.day())
    )
    dob = (
        pl.when(~both("dob"))
        .then(-1)
        .when(dl == dr)
        .then(4)
        .when(transposed)
        .then(3)
        .when(
            (dl.dt.year() == dr.dt.year())
            & (
                (dl.dt.month() == dr.dt.month())
                | (dl.dt.day() == dr.dt.day())
                | ((dl.dt.month() == 1) & (dl.dt.day() == 1))
                | ((dr.dt.month() == 1) & (dr.dt.day() == 1))
            )
        )
        .then(2)
        .when(
            ((dl.dt.year() - dr.dt.year()).abs() == 1)
            & (dl.dt.month() == dr.dt.month())
            & (dl.dt.day() == dr.dt.day())
        )
        .then(1)
        .otherwise(0)
    )
    has_loc = lambda s: c(f"pc_{s}").is_not_null() | c(f"addr_{s}").is_not_null()  # noqa: E731
    same_num = c("addr_num_l") == c("addr_num_r")
    loc = (
        pl.when(~(has_loc("l") & has_loc("r")))
        .then(-1)
        .when((c("pc_l") == c("pc_r")) & (same_num | (c("addr_l") == c("addr_r"))))
        .then(5)
        .when(c("pc_l") == c("pc_r"))
        .then(4)
        .when(same_num & (c("addr_jw") >= 0.85))
        .then(3)
        .when(c("pc_sector_l") == c("pc_sector_r"))
        .then(2)
        .when(c("pc_district_l") == c("pc_district_r"))
        .then(1)
        .otherwise(0)
    )
    sex = pl.when(~both("sex")).then(-1).when(c("sex_l") == c("sex_r")).then(1).otherwise(0)
    m1l = c("mn_l").str.split(" ").list.first()
    m1r = c("mn_r").str.split(" ").list.first()
    mn = (
        pl.when(~both("mn"))
        .then(-1)
        .when(m1l == m1r)
        .then(2)
        .when(m1l.str.slice(0, 1) == m1r.str.slice(0, 1))
        .then(1)
        .otherwise(0)
    )

    def tf(name: str, col: str) -> pl.Expr:
        if f"{name}_l" not in pf.columns:
            return pl.lit(None, dtype=pl.Float32).alias(name)
        return (
            pl.when(c(f"{col}_l") == c(f"{col}_r"))
            .then(c(f"{name}_l"))
            .cast(pl.Float32)
            .alias(name)
        )

    return pf.select(
        "i",
        "j",
        c("rule").cast(pl.Int16),
        fn.cast(pl.Int8).alias("fn"),
        sn.cast(pl.Int8).alias("sn"),
        dob.cast(pl.Int8).alias("dob"),
        loc.cast(pl.Int8).alias("loc"),
        sex.cast(pl.Int8).alias("sex"),
        mn.cast(pl.Int8).alias("mn"),
        # the frequencies behind the exact name levels, for term-frequency adjustment
        tf("sn_tf", "sn"),
        tf("fn_tf", "fn"),
        (dl.dt.year().cast(pl.Int16) - dr.dt.year().cast(pl.Int16)).abs().alias("dob_year_gap"),
    )
