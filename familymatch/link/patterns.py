"""Comparison patterns: a pair's levels (one per field of FIELDS) as one small integer.

At city scale most candidate pairs are clear non-matches and share a few thousand comparison
vectors, so the link stage keeps only each pair's pattern code beside its (i, j) (2 bytes a pair
instead of a wide levels frame), fits EM on the pattern counts (each distinct vector once, with
its number of pairs, as Splink does) and scores every pattern once. Term-frequency adjustment is
the one part of a weight that is per pair: ``PatternScorer.weights`` adds it from the records' own
frequencies, as ``compare.comparison_levels`` takes them (a pair agreeing exactly on a name
carries that name's frequency).

The code is mixed-radix: field f's level + 1 (-1 = missing) times the product of the earlier
fields' level counts + 1. The definition of each level stays in ``compare.py``.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from familymatch.link.compare import FIELDS, pair_extras
from familymatch.link.model import EPS, TF_FIELDS, FSModel


def _radices() -> dict[str, int]:
    out, r = {}, 1
    for f, k in FIELDS.items():
        out[f] = r
        r *= k + 1
    return out


RADIX = _radices()
N_PATTERNS = math.prod(k + 1 for k in FIELDS.values())
# numpy's and polars' integer type for a code (2 bytes while the levels fit)
PATTERN_DTYPE: type[np.unsignedinteger] = np.uint16 if N_PATTERNS <= 2**16 else np.uint32
_PL_DTYPE = pl.UInt16 if N_PATTERNS <= 2**16 else pl.UInt32


def encode(levels: pl.DataFrame) -> pl.Series:
    """The pattern code of each row of a levels frame."""
    code = pl.sum_horizontal((pl.col(f).cast(pl.Int32) + 1) * RADIX[f] for f in FIELDS).cast(
        _PL_DTYPE
    )
    return levels.select(code.alias("pattern"))["pattern"]


def decode(codes: pl.Series | np.ndarray) -> pl.DataFrame:
    """The level columns (Int8, -1 = missing) of each pattern code."""
    c = np.asarray(codes, dtype=np.int64)
    return pl.DataFrame(
        {f: ((c // RADIX[f]) % (k + 1) - 1).astype(np.int8) for f, k in FIELDS.items()}
    )


def levels_of_patterns(pf: pl.DataFrame, codes: np.ndarray) -> pl.DataFrame:
    """The levels frame ``compare.comparison_levels`` gives for the pairs of a pair frame whose
    pattern codes are known: the levels decoded, the other columns taken again
    (``compare.pair_extras``)."""
    head = pf.select("i", "j", pl.col("rule").cast(pl.Int16))
    return pl.concat([head, decode(codes), pf.select(pair_extras(pf))], how="horizontal")


def pattern_counts(codes: pl.Series) -> pl.DataFrame:
    """Each distinct pattern's levels and its number of pairs (``n``), for ``model.fit_em``."""
    counts = codes.rename("pattern").value_counts(name="n").sort("pattern")
    return pl.concat([decode(counts["pattern"]), counts.select("n")], how="horizontal")


def record_frequencies(usable: pl.DataFrame) -> dict[str, np.ndarray]:
    """Per term-frequency field, the records' frequency column (``model.attach_term_frequencies``)
    as an array indexed by record index (``__i``); NaN without a value."""
    where = usable["__i"].to_numpy()
    n = int(where.max()) + 1 if len(where) else 0
    out = {}
    for f, (col, _) in TF_FIELDS.items():
        if col in usable.columns:
            arr = np.full(n, np.nan, dtype=np.float32)
            arr[where] = usable[col].cast(pl.Float32).fill_null(float("nan")).to_numpy()
            out[f] = arr
    return out


class PatternScorer:
    """A fitted model's match weight for every pattern, computed once; ``weights`` adds the
    per-pair term-frequency adjustment."""

    def __init__(self, model: FSModel) -> None:
        self.model = model
        self.levels = decode(np.arange(N_PATTERNS))
        self.table = model.score(self.levels)

    def weights(
        self, codes: np.ndarray, first: np.ndarray, record_tf: dict[str, np.ndarray]
    ) -> np.ndarray:
        """Each pair's match weight from its pattern and, where a name agrees exactly (the
        term-frequency level; for loc, one address), the first record's frequency of it (``record_tf``: field -> the
        records' frequency, indexed like ``first``; NaN without a value), as
        ``compare.comparison_levels`` carries it. Agrees with ``FSModel.score`` on the pair's
        levels up to float rounding: used to drop the clear non-matches before the rest are
        compared again and scored exactly."""
        model = self.model
        weight = self.table["match_weight"].to_numpy()[codes]
        for f, (_, tf_level) in TF_FIELDS.items():
            if not model.tf.get(f) or f not in record_tf:
                continue
            tf = record_tf[f][first].astype(np.float64)
            at = (self.levels[f].to_numpy()[codes] == tf_level) & ~np.isnan(tf)
            m_exact = max(model.m[f][tf_level], EPS)
            plain = self.table[f"w_{f}"].to_numpy().astype(np.float64)[codes[at]]
            weight[at] += np.log2(m_exact / np.maximum(tf[at], model.floor_of(f))) - plain
        return weight
