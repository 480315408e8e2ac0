"""Comparison vectors: for every candidate pair, a level per field (-1 = a side is missing).

String similarity runs over whole columns of pairs in compiled code (rapidfuzz.process.cpdist);
everything else is polars expressions. Levels (higher = closer):

| field | levels |
|---|---|
| fn | 4 same forename, 3 same after nicknames, 2 Jaro-Winkler >= 0.92, 1 partly agrees: JW >= 0.80, or one forename is the other's initial ("S" / "SUMMER", "W" / "BILL" through nicknames), or one record's forename is the other's first middle name (known by the middle name), or one edit or two adjacent letters transposed apart ("TIA" / "ITA": Jaro-Winkler is harsh on short names); 0 else (JW the better of the raw and the nickname-resolved forenames, so a typo in a nickname still scores) |
| sn | 4 same surname, 3 one contains the other (double-barrelled), 2 JW >= 0.92, 1 >= 0.80, 0 |
| dob | 4 same, 3 day and month transposed, 2 same year and month or day (or one side the 1 January placeholder of the same year), 1 a keying slip: one digit of YYYYMMDD differs, two adjacent digits transposed, or the year alone off by one (as the clustering guard), 0 |
| loc | 5 same address entity (``address_id``, when the address stage has put it on both sides), else same postcode and house/flat number, 4 same postcode, 3 same (or no) number and similar address (JW >= 0.85) whose streets (the address without numbers) are alike too (JW >= 0.80), 2 same sector or same street (the address without numbers, JW >= 0.92), 1 same district, 0 |
| sex | 1 same, 0 different |
| mn | 2 same first middle name, 1 same initial, 0 different |

Forename and surname swapped: when the crossed names (forename of one against surname of the
other) keep their initials, are both at least alike (JW >= 0.80) and fit better than the direct
order, fn and sn are the crossed levels: 3 for an exact crossing, else 2 / 1 by JW (so an exact
swap scores fn 3 and sn 3, a swap with a typo 3 and 2).

String similarities are computed only for the pairs whose level can use them (the address with
the same or no house number, the street with another postcode and the same initial, the
crossed names with crossed initials), which keeps a chunk of 500,000 pairs near one second.

Term frequencies: when the standardised frame carries ``sn_tf`` / ``fn_tf`` (the share of distinct
people with the record's surname / forename, see ``model.attach_term_frequencies``), the levels
frame carries them for the pairs that agree exactly (``sn_tf``, ``fn_tf``; null otherwise), as
Float32: the pairs keep numbers, not strings, so millions of pairs stay small. ``loc_tf`` (the
share of distinct people at the first record's place, ``model.with_location_key``) is carried
for every pair; the model reads it at loc level 5 only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import OSA, JaroWinkler

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
TF_COLUMNS = ("sn_tf", "fn_tf", "loc_tf")
# the record columns each field's level reads (through ``comparison_levels``), by group: each
# group's levels are computed once per distinct pair of its values (``link.distinct``). A level
# that reads a new column must name it here; the link stage checks the grouped levels against
# ``comparison_levels`` on a sample of every run and compares pair by pair when they differ.
FIELD_GROUPS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    # the swap rule couples forename and surname; a forename partly agrees with a middle name
    (("fn", "sn", "mn"), ("fn", "fn_canon", "sn", "mn")),
    (("dob", "sex"), ("dob", "sex")),
    (("loc",), ("pc", "pc_sector", "pc_district", "addr", "addr_num", "addr_street", "address_id")),
)
JW_COLUMNS = ("fn", "fn_canon", "sn", "addr", "addr_street")
NO_CODE = np.uint32(2**32 - 1)  # a missing value's code
Scorer = Callable[..., float]  # a rapidfuzz scorer (Jaro-Winkler, or OSA's distance)


# the lowest Jaro-Winkler similarity any level reads (``_name_level``: 0.80 and 0.92;
# ``location_level``: 0.80, 0.85 and 0.92): every level reads a similarity only through such a
# threshold, so one certainly below this one may stand as 0 without changing any level
JW_FLOOR = 0.80
CHAR_BUCKETS = 32  # a value's characters counted by code point modulo this (``char_counts``)


@dataclass(frozen=True)
class Vocabulary:
    """The distinct values of each string column Jaro-Winkler reads (``JW_COLUMNS``), once, as
    Python strings: the records carry each value's position here (``{col}_code``, see
    ``string_codes``), so a chunk of pairs compares its distinct (code, code) pairs and never
    converts a pair's strings (the conversion cost as much as the similarity). ``counts`` and
    ``lengths``: each value's characters by bucket and its length (``char_counts``), for the
    bound that spares the similarity of two values with too few characters in common."""

    values: dict[str, np.ndarray]
    counts: dict[str, np.ndarray] = field(default_factory=dict)
    lengths: dict[str, np.ndarray] = field(default_factory=dict)
    masks: dict[str, np.ndarray] = field(init=False)  # ``char_masks`` of the counts

    def __post_init__(self) -> None:
        masks = {col: char_masks(counts) for col, counts in self.counts.items()}
        object.__setattr__(self, "masks", masks)  # derived once, on a frozen dataclass


def char_counts(
    values: np.ndarray, lengths: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per value: its characters counted by bucket (code point modulo ``CHAR_BUCKETS``; UInt8,
    one row a value) and its length in characters (``lengths`` when known: polars counts them
    without a Python loop); None when a value is longer than 255."""
    if lengths is None:
        lengths = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
    if len(values) == 0 or int(lengths.max()) > 255:
        return None
    points = np.frombuffer("".join(values).encode("utf-32-le"), dtype=np.uint32)
    slot = np.repeat(np.arange(len(values), dtype=np.int64), lengths) * CHAR_BUCKETS
    slot += points % CHAR_BUCKETS
    counts = np.bincount(slot, minlength=len(values) * CHAR_BUCKETS)
    return counts.reshape(len(values), CHAR_BUCKETS).astype(np.uint8), lengths


def char_masks(counts: np.ndarray) -> np.ndarray:
    """Per value (a row of ``char_counts``): the buckets it has a character in, as UInt32 bits."""
    bits = (counts > 0).astype(np.uint32) << np.arange(CHAR_BUCKETS, dtype=np.uint32)
    return np.bitwise_or.reduce(bits, axis=1)


def _may_reach(common: np.ndarray, len_a: np.ndarray, len_b: np.ndarray) -> np.ndarray:
    """Whether Jaro-Winkler can reach ``JW_FLOOR`` with at most ``common`` matching characters
    (an empty value is left to the scorer)."""
    jaro = (common / np.maximum(len_a, 1) + common / np.maximum(len_b, 1) + 1) / 3
    bound = jaro + 0.4 * (1 - jaro)
    return (bound >= JW_FLOOR - 1e-9) | (len_a == 0) | (len_b == 0)


def jw_may_reach(
    vocab: Vocabulary, left_col: str, right_col: str, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """Per pair of value codes: whether their Jaro-Winkler similarity can reach ``JW_FLOOR``.
    Jaro's matching characters m are at most c, the characters the two values share by bucket
    (a bucket holding several characters only raises c), so Jaro <= (c/|a| + c/|b| + 1) / 3,
    and Winkler's prefix (0.1 a character, four at most) adds at most 0.4 (1 - Jaro).

    c is first bounded from the buckets each value has (``char_masks``: a bucket only one side
    has holds at least one of its characters that matches nothing on the other), a 4-byte
    gather a side instead of 32; only the pairs that bound leaves are counted exactly. The
    first bound is never below c, so the pairs it spares are spared by c too: the same answer
    (decision 0016, session 6)."""
    out = np.ones(len(left), dtype=bool)
    if left_col not in vocab.counts or right_col not in vocab.counts:
        return out
    ca, cb = vocab.counts[left_col], vocab.counts[right_col]
    ma, mb = vocab.masks[left_col], vocab.masks[right_col]
    la, lb = vocab.lengths[left_col], vocab.lengths[right_col]
    step = 65_536  # the gathered counts: 4 MB a side at a time
    for o in range(0, len(left), step):
        a, b = left[o : o + step], right[o : o + step]
        len_a, len_b = la[a], lb[b]
        ga, gb = ma[a], mb[b]
        only_a, only_b = np.bitwise_count(ga & ~gb), np.bitwise_count(gb & ~ga)
        may = _may_reach(np.minimum(len_a - only_a, len_b - only_b), len_a, len_b)
        at = np.flatnonzero(may)
        common = np.minimum(ca[a[at]], cb[b[at]]).sum(axis=1, dtype=np.int64)
        may[at] = _may_reach(common, len_a[at], len_b[at])
        out[o : o + step] = may
    return out


def string_codes(records: pl.DataFrame) -> tuple[pl.DataFrame, Vocabulary]:
    """The records with a ``{col}_code`` column (UInt32, ``NO_CODE`` when missing) per column of
    ``JW_COLUMNS`` they have, and the vocabulary the codes point into."""
    values, counts, lengths, codes = {}, {}, {}, []
    for col in JW_COLUMNS:
        if col not in records.columns:
            continue
        distinct = records[col].drop_nulls().unique().sort()
        values[col] = distinct.to_numpy().astype(object)
        by_char = char_counts(values[col], distinct.str.len_chars().to_numpy().astype(np.int64))
        if by_char is not None:
            counts[col], lengths[col] = by_char
        codes.append(
            pl.col(col)
            .cast(pl.Enum(distinct))
            .to_physical()
            .cast(pl.UInt32)
            .fill_null(int(NO_CODE))
            .alias(f"{col}_code")
        )
    return records.with_columns(codes), Vocabulary(values, counts, lengths)


def _jw(
    pf: pl.DataFrame,
    left: str,
    right: str,
    where: pl.Series | None = None,
    vocab: Vocabulary | None = None,
    scorer: Scorer = JaroWinkler.normalized_similarity,
) -> np.ndarray:
    """Jaro-Winkler similarity (or ``scorer``'s) of each pair's ``left`` and ``right`` columns;
    0 where a side is missing, and where ``where`` (a boolean mask) is false: only the pairs
    that need it are compared, and each distinct (left, right) pair of values once (the pairs of
    a block share their names). With ``vocab`` and the columns' codes in the frame, the values
    are taken by code from the vocabulary (never converted from the pairs' strings)."""
    lc, rc = _code_column(left), _code_column(right)
    if vocab is not None and lc in pf.columns and rc in pf.columns:
        codes = pf[lc].to_numpy(), pf[rc].to_numpy()
        return _jw_coded(*codes, where, vocab, left, right, scorer)
    a_all, b_all = pf[left], pf[right]
    keep = a_all.is_not_null() & b_all.is_not_null()
    if where is not None:
        keep = keep & where.fill_null(False)
    out = np.zeros(pf.height, dtype=np.float64)
    if not keep.any():
        return out
    a, b = a_all.filter(keep), b_all.filter(keep)
    if _mostly_distinct(a, b):  # random pairs: numbering the values would cost more than it saves
        out[keep.to_numpy()] = _cpdist(a.to_numpy(), b.to_numpy(), scorer)
        return out
    first, inverse = _distinct_pairs(a, b)
    scores = _cpdist(a.gather(first).to_numpy(), b.gather(first).to_numpy(), scorer)
    out[keep.to_numpy()] = scores[inverse]
    return out


def _code_column(col: str) -> str:
    """``fn_canon_l`` -> ``fn_canon_code_l``: a pair frame's code column of a compared column."""
    return f"{col[:-2]}_code{col[-2:]}"


def _jw_coded(
    left: np.ndarray,
    right: np.ndarray,
    where: pl.Series | None,
    vocab: Vocabulary,
    left_col: str,
    right_col: str,
    scorer: Scorer,
) -> np.ndarray:
    """``_jw`` on value codes: each distinct (left, right) code pair compared once, and for
    Jaro-Winkler only where it can reach ``JW_FLOOR`` (below it a similarity stands as 0). The
    pairs are numbered before the bound, so it runs once per distinct pair too."""
    keep = (left != NO_CODE) & (right != NO_CODE)
    if where is not None:
        keep &= where.fill_null(False).to_numpy()
    out = np.zeros(len(left), dtype=np.float64)
    if not keep.any():
        return out
    key = (left[keep].astype(np.uint64) << np.uint64(32)) | right[keep]
    if _mostly_distinct_keys(key):  # numbering the pairs (a sort) would cost more than it saves
        a, b, inverse = left[keep].astype(np.int64), right[keep].astype(np.int64), None
    else:
        first, inverse = number(key)
        distinct = key[first]
        a = (distinct >> np.uint64(32)).astype(np.int64)
        b = (distinct & np.uint64(NO_CODE)).astype(np.int64)
    scores = np.zeros(len(a), dtype=np.float64)
    reach = np.ones(len(a), dtype=bool)
    if scorer is JaroWinkler.normalized_similarity:
        reach = jw_may_reach(vocab, left_col[:-2], right_col[:-2], a, b)
    lv, rv = vocab.values[left_col[:-2]], vocab.values[right_col[:-2]]
    if reach.any():
        scores[reach] = _cpdist(lv[a[reach]], rv[b[reach]], scorer)
    out[keep] = scores if inverse is None else scores[inverse]
    return out


def number(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One position of each distinct key (any of its positions), and each position's number
    (in the keys' order): polars' dense rank, on two threads (0.088-0.108 CPU s per 1M keys
    against 0.126-0.132 for numpy's unstable sort; decision 0016, session 5)."""
    inverse = pl.Series(key).rank("dense").to_numpy().astype(np.int64)
    inverse -= 1
    first = np.empty(int(inverse.max()) + 1 if len(key) else 0, dtype=np.int64)
    first[inverse] = np.arange(len(key))  # the last position of each: any one will do
    return first, inverse


def _mostly_distinct_keys(key: np.ndarray, sample: int = 4096) -> bool:
    """Whether at least half of the keys are distinct, judged on runs of an evenly spread
    sample (a block's repeated pairs lie together)."""
    if len(key) <= sample:
        return False
    starts = np.linspace(0, len(key) - 64, sample // 64).astype(np.int64)
    rows = (starts[:, None] + np.arange(64)).ravel()
    return len(np.unique(key[rows])) > 0.5 * len(rows)


def first_middle(name: str) -> pl.Expr:
    """The first of a record's middle names (``mn`` holds them all, space-separated)."""
    return pl.col(name).str.split(" ").list.first()


def initial_of(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """One name is a single letter, the other's initial ("S" / "SUMMER")."""
    return ((a.str.len_chars() == 1) & (a == b.str.slice(0, 1))) | (
        (b.str.len_chars() == 1) & (b == a.str.slice(0, 1))
    )


def forename_partly_agrees(
    pf: pl.DataFrame, fn_jw: np.ndarray, vocab: Vocabulary | None = None
) -> pl.Series:
    """Forenames that are neither equal nor alike by Jaro-Winkler but still point to one person:
    an initial (of the forename as written or through nicknames: "W" / "BILL"), a person known
    by their middle name ("BENJAMIN HAROLD" / "HAROLD"), or one slip apart ("TIA" / "ITA")."""
    c = pl.col
    mid_l = first_middle("mn_l")
    mid_r = first_middle("mn_r")
    flags = pf.select(
        (
            initial_of(c("fn_l"), c("fn_r"))
            | initial_of(c("fn_l"), c("fn_canon_r"))
            | initial_of(c("fn_canon_l"), c("fn_r"))
            | (c("fn_l") == mid_r)
            | (c("fn_r") == mid_l)
        )
        .fill_null(False)
        .alias("partial"),
        # one slip apart: only names of two letters or more within one letter of each other's
        # length can be (the others are left uncompared)
        (
            (c("fn_l").str.len_chars() >= 2)
            & (c("fn_r").str.len_chars() >= 2)
            & ((c("fn_l").str.len_chars() - c("fn_r").str.len_chars()).abs() <= 1)
        ).alias("slip_possible"),
    )
    unlike = pl.Series(np.asarray(fn_jw) < 0.80)
    # one edit (or two adjacent letters transposed) apart
    where = flags["slip_possible"] & ~flags["partial"] & unlike
    slip = _jw(pf, "fn_l", "fn_r", where, vocab, OSA.distance) == 1
    return pl.Series("fn_partial", flags["partial"].to_numpy() | slip)


def _cpdist(a: np.ndarray, b: np.ndarray, scorer: Scorer) -> np.ndarray:
    return process.cpdist(a, b, scorer=scorer, workers=-1)


def _mostly_distinct(a: pl.Series, b: pl.Series, sample: int = 4096) -> bool:
    """Whether nearly every (a, b) pair is distinct, judged on an evenly spread sample."""
    if len(a) <= sample:
        return False
    rows = pl.Series(np.linspace(0, len(a) - 1, sample).astype(np.int64))
    distinct = pl.DataFrame({"a": a.gather(rows), "b": b.gather(rows)}).n_unique()
    return distinct > 0.8 * sample


def _distinct_pairs(a: pl.Series, b: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """The first position of each distinct (a, b) pair of strings, and each position's distinct
    pair (exact: the strings are numbered by a dictionary, not hashed)."""
    codes = pl.concat([a, b]).cast(pl.Categorical).to_physical().to_numpy().astype(np.uint64)
    key = (codes[: len(a)] << np.uint64(32)) | codes[len(a) :]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return first, inverse


def pair_frame(
    std: pl.DataFrame, pairs: pl.DataFrame, columns: tuple[str, ...] = COMPARE_COLUMNS
) -> pl.DataFrame:
    """The compared columns (or ``columns``) of both sides of every pair (suffixes _l and _r),
    in the pairs' order (gathered by position: no join)."""
    extra = [c for c in (*TF_COLUMNS, "addr_street", "address_id") if c in std.columns]
    # the string codes of the columns gathered, when the records carry them
    extra += [f"{c}_code" for c in (*columns, *extra) if f"{c}_code" in std.columns]
    cols = std.select(*dict.fromkeys((*columns, *extra)))
    index = std["__i"].to_numpy()
    where = np.zeros(int(index.max()) + 1 if len(index) else 0, dtype=np.int64)
    where[index] = np.arange(len(index))

    def side(col: str, suffix: str) -> pl.DataFrame:
        rows = pl.Series(where[pairs[col].to_numpy()])
        return cols.select(pl.all().gather(rows).name.suffix(suffix))

    return pl.concat([pairs, side("i", "_l"), side("j", "_r")], how="horizontal")


def street_expr(addr: pl.Expr) -> pl.Expr:
    """The address without its house and flat numbers ("12 MILL LANE" -> "MILL LANE").
    ``link_records`` adds it once per record as ``addr_street``; without that column the
    comparison derives it per pair."""
    s = (
        addr.str.replace_all(r"\bFLAT [0-9]+[A-Z]?\b", " ")
        .str.replace_all(r"\b[0-9]+[A-Z]?\b", " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )
    return pl.when(s.str.len_chars() > 0).then(s)


def ymd_expr(d: pl.Expr) -> pl.Expr:
    """A date as the integer YYYYMMDD (Int32; null stays null)."""
    y, m, dd = (x.cast(pl.Int32) for x in (d.dt.year(), d.dt.month(), d.dt.day()))
    return y * 10_000 + m * 100 + dd


def dobs_slip(left: pl.Series, right: pl.Series) -> np.ndarray:
    """A keying slip between two dates of birth, as in the clustering guard
    (``cluster.dobs_close``): one digit of YYYYMMDD differs, two adjacent digits are
    transposed (1984 / 1948), or the year alone is off by one. False where a side is missing."""
    ymd = lambda d: d.to_frame("d").select(ymd_expr(pl.col("d")))[:, 0]  # noqa: E731
    return _ymd_slip(ymd(left), ymd(right))


def _ymd_slip(left: pl.Series, right: pl.Series) -> np.ndarray:
    """``dobs_slip`` on dates as YYYYMMDD integers (``ymd_expr``)."""
    a, b = left.fill_null(-1).to_numpy(), right.fill_null(-1).to_numpy()
    out = np.zeros(len(a), dtype=bool)
    # only two different dates can be a slip (most candidate pairs share theirs)
    at = (a != b) & (a >= 0) & (b >= 0)
    a, b = a[at], b[at]
    da = [(a // 10**k) % 10 for k in range(8)]
    db = [(b // 10**k) % 10 for k in range(8)]
    differs = [x != y for x, y in zip(da, db, strict=True)]
    n_diff = np.sum(differs, axis=0)
    adjacent = np.zeros(len(a), dtype=bool)
    for k in range(7):
        adjacent |= differs[k] & differs[k + 1] & (da[k] == db[k + 1]) & (da[k + 1] == db[k])
    year_off = (np.abs(a // 10_000 - b // 10_000) == 1) & (a % 10_000 == b % 10_000)
    out[at] = (n_diff == 1) | ((n_diff == 2) & adjacent) | year_off
    return out


def location_level(pf: pl.DataFrame) -> pl.Expr:
    """The loc level of each pair (table above). With the address stage's ``address_id`` on both
    sides, the same entity is level 5 and two entities are never 5 (two flats of one building,
    a bare building number) but 4 at one postcode, else the lower levels; without it on a side, the same postcode and
    house number (or the same address) is 5."""
    c = pl.col
    has_loc = lambda s: c(f"pc_{s}").is_not_null() | c(f"addr_{s}").is_not_null()  # noqa: E731
    same_num = c("addr_num_l") == c("addr_num_r")
    no_num = c("addr_num_l").is_null() & c("addr_num_r").is_null()
    same_pc = c("pc_l") == c("pc_r")
    area = (
        pl.when((c("pc_sector_l") == c("pc_sector_r")) | (c("street_jw") >= 0.92))
        .then(2)
        .when(c("pc_district_l") == c("pc_district_r"))
        .then(1)
        .otherwise(0)
    )
    alike = (c("addr_jw") >= 0.85) & (
        (c("addr_street_jw") >= 0.80)
        | (c("addr_street_l").is_null() & c("addr_street_r").is_null())
    )
    lower = pl.when((same_num | no_num) & alike).then(3).otherwise(area)
    by_text = (
        pl.when(~(has_loc("l") & has_loc("r")))
        .then(-1)
        .when(same_pc & (same_num | (c("addr_l") == c("addr_r"))))
        .then(5)
        .when(same_pc)
        .then(4)
        .otherwise(lower)
    )
    if "address_id_l" not in pf.columns:
        return by_text
    both = c("address_id_l").is_not_null() & c("address_id_r").is_not_null()
    return (
        pl.when(both & (c("address_id_l") == c("address_id_r")))
        .then(5)
        .when(both & same_pc)
        .then(4)
        .when(both)  # two entities: a similar address (a variant the stage did not join) or area
        .then(lower)
        .otherwise(by_text)
    )


def _name_level(
    exact: pl.Expr, jw: str, exact_level: int, partly: pl.Expr | None = None
) -> pl.Expr:
    """exact_level, 2 (JW >= 0.92), 1 (JW >= 0.80, or ``partly``: forename_partly_agrees), 0."""
    weak = pl.col(jw) >= 0.80
    return (
        pl.when(exact)
        .then(exact_level)
        .when(pl.col(jw) >= 0.92)
        .then(2)
        .when(weak if partly is None else weak | partly)
        .then(1)
        .otherwise(0)
    )


def comparison_levels(
    pf: pl.DataFrame, vocab: Vocabulary | None = None, fields: tuple[str, ...] | None = None
) -> pl.DataFrame:
    """i, j and one Int8 level column per field of FIELDS (``vocab``: the records' string codes'
    vocabulary when the pair frame carries the codes, ``string_codes``; the same levels).
    ``fields``: only these fields' levels (each the same as among all; without the extra
    columns), and only the similarities they read are computed: a field group compared on its
    own (``link.distinct``) skips the others' work."""
    wanted = tuple(FIELDS) if fields is None else fields
    if "addr_street_l" not in pf.columns and "loc" in wanted:
        pf = pf.with_columns(
            street_expr(pl.col("addr_l")).alias("addr_street_l"),
            street_expr(pl.col("addr_r")).alias("addr_street_r"),
        )
    c = pl.col
    both = lambda n: c(f"{n}_l").is_not_null() & c(f"{n}_r").is_not_null()  # noqa: E731
    levels: dict[str, pl.Expr] = {}
    if "fn" in wanted or "sn" in wanted:
        pf, levels["fn"], levels["sn"] = _name_levels(pf, vocab)
    if "dob" in wanted:
        # each side's date as YYYYMMDD once: the level reads its parts as integers
        pf = pf.with_columns(
            ymd_expr(c("dob_l")).alias("ymd_l"), ymd_expr(c("dob_r")).alias("ymd_r")
        )
        pf = pf.with_columns(pl.Series("dob_slip", _ymd_slip(pf["ymd_l"], pf["ymd_r"])))
        levels["dob"] = _dob_level()
    if "loc" in wanted:
        pf = pf.with_columns(_address_similarities(pf, vocab))
        levels["loc"] = location_level(pf)
    levels["sex"] = (
        pl.when(~both("sex")).then(-1).when(c("sex_l") == c("sex_r")).then(1).otherwise(0)
    )
    m1l = first_middle("mn_l")
    m1r = first_middle("mn_r")
    levels["mn"] = (
        pl.when(~both("mn"))
        .then(-1)
        .when(m1l == m1r)
        .then(2)
        .when(m1l.str.slice(0, 1) == m1r.str.slice(0, 1))
        .then(1)
        .otherwise(0)
    )
    out = [levels[f].cast(pl.Int8).alias(f) for f in FIELDS if f in wanted]
    if fields is not None:
        return pf.select(out)
    return pf.select("i", "j", c("rule").cast(pl.Int16), *out, *pair_extras(pf))


def _address_similarities(pf: pl.DataFrame, vocab: Vocabulary | None) -> list[pl.Series]:
    """The address similarities the loc level reads (``location_level``)."""
    first = lambda col: pl.col(col).str.slice(0, 1)  # noqa: E731
    need = pf.select(
        # the address similarity counts only with the same (or no) house number
        (
            (pl.col("addr_num_l") == pl.col("addr_num_r"))
            | (pl.col("addr_num_l").is_null() & pl.col("addr_num_r").is_null())
        ).alias("addr"),
        # another postcode on a street with the same initial
        (
            (pl.col("pc_l") != pl.col("pc_r")).fill_null(True)
            & (first("addr_street_l") == first("addr_street_r"))
        ).alias("street"),
    )
    addr_jw = _jw(pf, "addr_l", "addr_r", need["addr"], vocab)
    return [
        pl.Series("addr_jw", addr_jw),
        # ... and their streets alike too: the shared number at the front of two addresses
        # lifts the similarity of two streets ("20 ESTOVER STREET" / "20 SUTTON AVENUE")
        pl.Series(
            "addr_street_jw",
            _jw(pf, "addr_street_l", "addr_street_r", pl.Series(addr_jw >= 0.85), vocab),
        ),
        pl.Series("street_jw", _jw(pf, "addr_street_l", "addr_street_r", need["street"], vocab)),
    ]


def _dob_level() -> pl.Expr:
    """The dob level of each pair (table above; reads ``ymd_l``, ``ymd_r`` and ``dob_slip``)."""
    c = pl.col
    year = lambda s: c(f"ymd_{s}") // 10_000  # noqa: E731
    month = lambda s: c(f"ymd_{s}") // 100 % 100  # noqa: E731
    day = lambda s: c(f"ymd_{s}") % 100  # noqa: E731
    same_year = year("l") == year("r")
    transposed = same_year & (day("l") == month("r")) & (month("l") == day("r"))
    return (
        pl.when(c("ymd_l").is_null() | c("ymd_r").is_null())
        .then(-1)
        .when(c("ymd_l") == c("ymd_r"))
        .then(4)
        .when(transposed)
        .then(3)
        .when(
            same_year
            & (
                (month("l") == month("r"))
                | (day("l") == day("r"))
                | ((month("l") == 1) & (day("l") == 1))
                | ((month("r") == 1) & (day("r") == 1))
            )
        )
        .then(2)
        .when(c("dob_slip"))
        .then(1)
        .otherwise(0)
    )


def _name_levels(
    pf: pl.DataFrame, vocab: Vocabulary | None
) -> tuple[pl.DataFrame, pl.Expr, pl.Expr]:
    """The pair frame with the name similarities, and the fn and sn level expressions (the
    swap rule couples them)."""
    first = lambda col: pl.col(col).str.slice(0, 1)  # noqa: E731
    c = pl.col
    contains = (
        (c("sn_l").str.len_chars() >= 4)
        & (c("sn_r").str.len_chars() >= 4)
        & (
            c("sn_l").str.contains(c("sn_r"), literal=True)
            | c("sn_r").str.contains(c("sn_l"), literal=True)
        )
    )
    agree = lambda *conds: pl.any_horizontal(x.fill_null(False) for x in conds)  # noqa: E731
    need = pf.select(
        # the name similarities count only where the names do not already agree exactly
        ~agree(c("fn_l") == c("fn_r"), c("fn_canon_l") == c("fn_canon_r")).alias("fn"),
        ~agree(c("sn_l") == c("sn_r"), contains).alias("sn"),
        (c("fn_canon_l").ne_missing(c("fn_l")) | c("fn_canon_r").ne_missing(c("fn_r"))).alias(
            "canon"
        ),
        # names crossed over only where they keep their initials and the names differ
        (
            (first("fn_l") == first("sn_r"))
            & (first("sn_l") == first("fn_r"))
            & ((pl.col("fn_l") != pl.col("fn_r")) | (pl.col("sn_l") != pl.col("sn_r")))
        ).alias("cross"),
    )
    # the nickname-resolved forenames count only where one differs from the forename as written
    # (elsewhere both similarities are one)
    fn_jw = np.maximum(
        _jw(pf, "fn_canon_l", "fn_canon_r", need["fn"] & need["canon"], vocab),
        _jw(pf, "fn_l", "fn_r", need["fn"], vocab),
    )
    pf = pf.with_columns(
        pl.Series("fn_jw", fn_jw),
        pl.Series("sn_jw", _jw(pf, "sn_l", "sn_r", need["sn"], vocab)),
        # the names crossed over: the forename of one record against the surname of the other
        pl.Series("fx_jw", _jw(pf, "fn_l", "sn_r", need["cross"], vocab)),
        pl.Series("sx_jw", _jw(pf, "sn_l", "fn_r", need["cross"], vocab)),
        forename_partly_agrees(pf, fn_jw, vocab),
    )
    pf = pf.with_columns(
        pl.when(c("fn_l") == c("fn_r"))
        .then(4)
        .otherwise(_name_level(c("fn_canon_l") == c("fn_canon_r"), "fn_jw", 3, c("fn_partial")))
        .alias("fn_direct"),
        pl.when(c("sn_l") == c("sn_r"))
        .then(4)
        .otherwise(_name_level(contains, "sn_jw", 3))
        .alias("sn_direct"),
        # a swapped record whose forename is an initial ("HARSON D" / "DAVID HARSON")
        _name_level(c("fn_l") == c("sn_r"), "fx_jw", 3, initial_of(c("fn_l"), c("sn_r"))).alias(
            "fn_cross"
        ),
        _name_level(c("sn_l") == c("fn_r"), "sx_jw", 3, initial_of(c("sn_l"), c("fn_r"))).alias(
            "sn_cross"
        ),
    )
    # forename and surname swapped (exactly: 3 and 3; with a typo: the similarity levels), when
    # both crossed names are at least alike and the crossing fits better than the direct order
    swapped = (
        (c("fn_l") != c("sn_l"))
        & (pl.min_horizontal("fn_cross", "sn_cross") >= 1)
        & (c("fn_cross") + c("sn_cross") > c("fn_direct") + c("sn_direct"))
    )
    both = lambda n: c(f"{n}_l").is_not_null() & c(f"{n}_r").is_not_null()  # noqa: E731
    fn = pl.when(~both("fn")).then(-1).when(swapped).then(c("fn_cross")).otherwise(c("fn_direct"))
    sn = pl.when(~both("sn")).then(-1).when(swapped).then(c("sn_cross")).otherwise(c("sn_direct"))
    return pf, fn, sn


# the columns ``pair_extras`` reads (with the frequencies when the frame has them)
EXTRA_COLUMNS = ("fn", "sn", "dob")


def pair_extras(pf: pl.DataFrame) -> list[pl.Expr]:
    """The columns of a levels frame beyond the levels (what scoring and the pair rules read
    besides them): the link stage keeps only each pair's pattern of levels and takes these
    again, for the pairs it scores, from their pair frame of ``EXTRA_COLUMNS``. A new per-pair
    column the pair rules need belongs here (and what it reads in ``EXTRA_COLUMNS``)."""
    c = pl.col

    def tf(name: str, col: str | None) -> pl.Expr:
        if f"{name}_l" not in pf.columns:
            return pl.lit(None, dtype=pl.Float32).alias(name)
        if col is None:  # the first record's: read at its level only (one address: one place)
            return c(f"{name}_l").cast(pl.Float32).alias(name)
        return (
            pl.when(c(f"{col}_l") == c(f"{col}_r"))
            .then(c(f"{name}_l"))
            .cast(pl.Float32)
            .alias(name)
        )

    dl, dr = c("dob_l"), c("dob_r")
    return [
        # the frequencies behind the exact name levels, for term-frequency adjustment
        tf("sn_tf", "sn"),
        tf("fn_tf", "fn"),
        tf("loc_tf", None),
        (dl.dt.year().cast(pl.Int16) - dr.dt.year().cast(pl.Int16)).abs().alias("dob_year_gap"),
    ]
