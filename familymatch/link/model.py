"""A multi-level Fellegi-Sunter model: u from random pairs, m and lambda by EM, term
frequencies for exact name agreement. Saved as JSON with a run and reusable on the next build.

Match weight of a pair = log2(lambda / (1 - lambda)) + sum over fields of log2(m[level] / u[level]),
where for an exact surname or forename agreement u is replaced by the value's frequency among
distinct people (so "SMITH" agreeing counts for less than a rare name), as Splink adjusts term
frequencies. A missing field (-1) contributes nothing.

Location (level 5, one address) is adjusted the same way from the share of distinct people at the
place (``loc_key``: the address stage's entity, else postcode and address), one-sided: u is
never below the level's own u, so a tower block, hostel or placeholder office where hundreds
live counts for less, and a house counts as it did (docs/decisions/0018).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from familymatch.link.compare import FIELDS

EPS = 1e-6
# field -> (the levels frame's frequency column, the exact-agreement level it adjusts)
TF_FIELDS = {"sn": ("sn_tf", 4), "fn": ("fn_tf", 4), "loc": ("loc_tf", 5)}
# field -> the standardised column whose value frequencies adjust it
TF_SOURCE_COLUMNS = {"sn": "sn", "fn": "fn", "loc": "loc_key"}
# fields whose frequency only weakens agreement: u is at least the level's u (a crowded place
# is weak evidence; a quiet one is no stronger than the average place)
TF_ONE_SIDED = frozenset({"loc"})


def with_location_key(std: pl.DataFrame) -> pl.DataFrame:
    """``loc_key`` per record, its place for location term frequencies: the address stage's
    entity (``address_id``), else (no entity) its postcode and address as written (one
    address, not every house with that number in the postcode: an Australian or rural postcode
    holds many); null without both."""
    by_text = pl.concat_str([pl.col("pc"), pl.col("addr")], separator="|")
    if "address_id" not in std.columns:
        return std.with_columns(by_text.alias("loc_key"))
    entity = pl.col("address_id").cast(pl.String)
    return std.with_columns(pl.coalesce(entity, by_text).alias("loc_key"))


@dataclass
class FSModel:
    """Fitted parameters: per field, m and u per level."""

    lam: float
    m: dict[str, list[float]]
    u: dict[str, list[float]]
    tf: dict[str, dict[str, float]] = field(default_factory=dict)
    tf_floor: float = 1e-5
    iterations: int = 0

    # ------------------------------------------------------------------ persistence
    def to_json(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "lambda": self.lam,
                "fields": {f: {"m": self.m[f], "u": self.u[f]} for f in FIELDS},
                "term_frequencies": self.tf,
                "tf_floor": self.tf_floor,
                "em_iterations": self.iterations,
            },
            indent=1,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> FSModel:
        d = json.loads(text)
        return cls(
            lam=float(d["lambda"]),
            m={f: list(v["m"]) for f, v in d["fields"].items()},
            u={f: list(v["u"]) for f, v in d["fields"].items()},
            tf={k: dict(v) for k, v in d.get("term_frequencies", {}).items()},
            tf_floor=float(d.get("tf_floor", 1e-5)),
            iterations=int(d.get("em_iterations", 0)),
        )

    def save(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> FSModel:
        return cls.from_json(path.read_text(encoding="utf-8"))

    # ------------------------------------------------------------------ scoring
    def floor_of(self, f: str) -> float:
        """The least u a term frequency of field ``f`` stands for: ``tf_floor``, or for a
        one-sided field (``TF_ONE_SIDED``) its exact level's own u."""
        if f in TF_ONE_SIDED:
            return max(self.u[f][TF_FIELDS[f][1]], self.tf_floor)
        return self.tf_floor

    def field_weights(self, levels: pl.DataFrame) -> pl.DataFrame:
        """One log2 Bayes factor column per field (``w_<field>``), 0 where missing."""
        cols = []
        for f, k in FIELDS.items():
            bf = [float(np.log2(max(self.m[f][i], EPS) / max(self.u[f][i], EPS))) for i in range(k)]
            expr = (
                pl.col(f)
                .cast(pl.Int32)
                .replace_strict(
                    {i: bf[i] for i in range(k)} | {-1: 0.0}, default=0.0, return_dtype=pl.Float64
                )
            )
            if f in TF_FIELDS and self.tf.get(f) and TF_FIELDS[f][0] in levels.columns:
                tf_col, level = TF_FIELDS[f]
                tf_u = pl.col(tf_col).cast(pl.Float64).clip(lower_bound=self.floor_of(f))
                m_exact = max(self.m[f][level], EPS)
                expr = (
                    pl.when((pl.col(f) == level) & pl.col(tf_col).is_not_null())
                    .then((pl.lit(m_exact) / tf_u).log(2))
                    .otherwise(expr)
                )
            cols.append(expr.cast(pl.Float32).alias(f"w_{f}"))
        return levels.with_columns(cols)

    def score(self, levels: pl.DataFrame) -> pl.DataFrame:
        """Adds w_<field>, match_weight and match_probability."""
        prior = float(np.log2(self.lam / (1 - self.lam)))
        out = self.field_weights(levels)
        out = out.with_columns(
            (
                pl.lit(prior)
                + pl.sum_horizontal([pl.col(f"w_{f}").cast(pl.Float64) for f in FIELDS])
            ).alias("match_weight")
        )
        return out.with_columns(
            (1.0 / (1.0 + (2.0 ** (-pl.col("match_weight"))))).alias("match_probability")
        )


def estimate_u(random_levels: pl.DataFrame) -> dict[str, list[float]]:
    """u[level] = share of random (almost all non-matching) pairs at each level."""
    u: dict[str, list[float]] = {}
    for f, k in FIELDS.items():
        s = random_levels[f].to_numpy()
        s = s[s >= 0]
        counts = np.bincount(s.astype(np.int64), minlength=k)[:k].astype(np.float64) + 1.0
        u[f] = (counts / counts.sum()).tolist()
    return u


def attach_term_frequencies(
    std: pl.DataFrame, tf: dict[str, dict[str, float]], floor: float = 1e-5
) -> pl.DataFrame:
    """``sn_tf`` / ``fn_tf`` / ``loc_tf`` per record: the frequency (``FSModel.tf``) of the
    record's surname / forename / place (``loc_key``); a value the table has not seen counts as
    rare (``floor``); null without a value (or without the source column)."""
    cols = []
    for f, (tf_col, _) in TF_FIELDS.items():
        table = tf.get(f)
        src = pl.col(TF_SOURCE_COLUMNS[f])
        if not table or TF_SOURCE_COLUMNS[f] not in std.columns:
            cols.append(pl.lit(None, dtype=pl.Float32).alias(tf_col))
            continue
        cols.append(
            pl.when(src.is_not_null())
            .then(src.replace_strict(table, default=None, return_dtype=pl.Float64).fill_null(floor))
            .cast(pl.Float32)
            .alias(tf_col)
        )
    return std.with_columns(cols)


def term_frequencies(std: pl.DataFrame, column: str, person_key: list[str]) -> dict[str, float]:
    """Share of distinct people having each value (people approximated by ``person_key``)."""
    cols = [column, *[k for k in person_key if k != column]]
    distinct = std.select(cols).drop_nulls(column).unique()
    total = max(distinct.height, 1)
    freq = distinct.group_by(column).len()
    return dict(zip(freq[column].to_list(), (freq["len"] / total).to_list(), strict=True))


def initial_m() -> dict[str, list[float]]:
    """Starting m: matches mostly agree."""
    start = {
        "fn": [0.02, 0.03, 0.05, 0.10, 0.80],
        "sn": [0.03, 0.02, 0.05, 0.05, 0.85],
        "dob": [0.02, 0.01, 0.03, 0.04, 0.90],
        "loc": [0.05, 0.02, 0.03, 0.05, 0.15, 0.70],
        "sex": [0.03, 0.97],
        "mn": [0.1, 0.1, 0.8],
    }
    return {f: start[f] for f in FIELDS}


def level_shares(levels: pl.DataFrame) -> dict[str, list[float]]:
    """Share of pairs at each level per field (missing levels ignored, +1 smoothing)."""
    return estimate_u(levels)


def fit_em(
    levels: pl.DataFrame,
    u: dict[str, list[float]],
    m_start: dict[str, list[float]] | None = None,
    lam: float = 0.3,
    max_iter: int = 100,
    tol: float = 1e-5,
    fields: list[str] | None = None,
    fixed_m: frozenset[str] = frozenset(),
) -> FSModel:
    """EM over the candidate pairs' comparison patterns (``levels``: one row a pair, or one row
    a distinct pattern with its number of pairs in ``n``).

    ``fields``: the fields the session models (default all; the others keep their starting m);
    ``fixed_m``: fields whose m stays at its starting value (only lambda and u move for them).

    Both m and u are re-estimated inside EM (the candidate pairs' non-matches are not random
    pairs), starting from ``m_start`` (e.g. the levels of identifier-confirmed pairs) and the
    random-pair ``u``; the returned model keeps the fitted m and lambda and the random-pair u,
    as Splink does, so that scoring is calibrated against the whole population.
    """
    fields = list(fields or FIELDS)
    # a levels frame (one row a pair) or pattern counts (one row a pattern, its pairs in ``n``)
    count = pl.col("n").sum() if "n" in levels.columns else pl.len()
    # a fixed order: same sums, same floats
    patterns = levels.group_by(fields).agg(count.alias("len")).sort(fields)
    L = patterns.select(fields).to_numpy().astype(np.int64)
    n = patterns["len"].to_numpy().astype(np.float64)
    m = {f: list(v) for f, v in (m_start or initial_m()).items()}
    u_random = u
    u = {f: list(v) for f, v in u.items()}
    if n.sum() == 0:  # no candidate pairs: nothing to learn, the starting model stands
        return FSModel(lam=lam, m=m, u=u_random, iterations=0)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        log_m = np.zeros(len(n))
        log_u = np.zeros(len(n))
        for fi, f in enumerate(fields):
            lv = L[:, fi]
            ok = lv >= 0
            mm = np.asarray(m[f])
            uu = np.asarray(u[f])
            log_m[ok] += np.log(np.maximum(mm[lv[ok]], EPS))
            log_u[ok] += np.log(np.maximum(uu[lv[ok]], EPS))
        a = np.log(lam) + log_m
        b = np.log(1 - lam) + log_u
        p = 1.0 / (1.0 + np.exp(np.clip(b - a, -700, 700)))
        w = p * n
        new_lam = float(w.sum() / n.sum())
        wu = (1 - p) * n
        new_m: dict[str, list[float]] = dict(m)
        for fi, f in enumerate(fields):
            lv = L[:, fi]
            ok = lv >= 0
            k = FIELDS[f]
            if f not in fixed_m:
                sums = np.bincount(lv[ok], weights=w[ok], minlength=k)[:k] + 1e-3
                new_m[f] = (sums / sums.sum()).tolist()
            usums = np.bincount(lv[ok], weights=wu[ok], minlength=k)[:k] + 1e-3
            u[f] = (usums / usums.sum()).tolist()
        delta = abs(new_lam - lam) + max(
            float(np.max(np.abs(np.asarray(new_m[f]) - np.asarray(m[f])))) for f in fields
        )
        m, lam = new_m, min(max(new_lam, 1e-6), 1 - 1e-6)
        if delta < tol:
            break
    return FSModel(lam=lam, m=m, u=u_random, iterations=it)
